import { deserialize, serialize } from 'node:v8'
import { cacheKey, RedisCache } from '@bookgen/cache'
import {
  type ChunkBackend,
  type ChunkHandle,
  type ChunkListener,
  type ChunkRequest,
  ParallelTaskExecutor,
  ValidationParallelizer,
} from '@bookgen/parallel'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { SearchHit } from '../src/corpus/corpusServer.js'
import { type Figure, figures } from '../src/corpus/figures.js'
import { escapeHtml } from '../src/html.js'
import type { FetchedPage, FetchPolicy } from '../src/pageFetcher.js'
import { Progress } from '../src/progress.js'
import { newRunCounters, type RunContext, type RunCounters } from '../src/runContext.js'
import { domainCredibility } from '../src/sourceScorer.js'
import {
  type ValidatedSource,
  validateDistributed,
  validateOptimized,
} from '../src/stages/validate.js'
import { type ValidationInput, validateSource } from '../src/validateTask.js'
import { type LoopbackServer, startHttpServer } from './helpers.js'

// The distributed run's caller-side logic (cache lookup with getMany, misses sent as
// `validateSource` tasks, definitive verdicts stored with setMany) against the local optimized
// path (`cached()` around fetch-and-score), on generated pages served over real HTTP and a real
// Redis. The worker side runs in-process: a ChunkBackend that calls `validateSource` directly,
// with inputs and results round-tripped through v8.serialize as the BullMQ backend carries them.

/** How a generated page answers each request. */
type Behaviour =
  | { kind: 'ok' }
  | { kind: 'status'; status: number }
  | { kind: 'broken'; how: 'server-error' | 'reset' | 'stall'; status: number }
  | { kind: 'flaky'; failFirst: number; how: 'server-error' | 'reset'; status: number }

interface GeneratedPage {
  domain: string
  id: string
  title?: string
  author?: string
  published?: string
  paragraphs: string[][]
  /** Bytes of HTML after the article (streaming stops before them). */
  tail: number
  behaviour: Behaviour
}

interface Scenario {
  figure: Pick<Figure, 'name' | 'surname'>
  pages: GeneratedPage[]
  policy: FetchPolicy
}

const domains = [...Object.keys(domainCredibility), 'unknown-blog.example.net']
const surnames = ['Curie', 'Tesla', 'Lovelace', 'Noether', "O'Neil", 'Ng']
const vocabulary = [
  'the',
  'physicist',
  'studied',
  'in',
  'Paris',
  'radium',
  'shocking',
  'secret',
  'A&B',
  '<b>bold</b>',
  '"quoted"',
  'café',
  'year',
  '1903',
  'Noether',
  'Curie',
  'Tesla',
  'x>y',
]

const text = fc.array(fc.constantFrom(...vocabulary), { minLength: 1, maxLength: 6 })
const titleWords = fc.array(fc.constantFrom(...vocabulary, 'Life', 'of', 'Hidden'), {
  minLength: 0,
  maxLength: 5,
})

const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: 'ok' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('status' as const),
      status: fc.constantFrom(301, 403, 404, 410, 451),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('broken' as const),
      how: fc.constantFrom('server-error' as const, 'reset' as const),
      status: fc.constantFrom(500, 502, 503),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.constant({ kind: 'broken' as const, how: 'stall' as const, status: 0 }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('flaky' as const),
      failFirst: fc.integer({ min: 1, max: 3 }),
      how: fc.constantFrom('server-error' as const, 'reset' as const),
      status: fc.constantFrom(500, 503),
    }),
  },
)

const page: fc.Arbitrary<Omit<GeneratedPage, 'id'>> = fc.record(
  {
    domain: fc.constantFrom(...domains),
    // Whitespace around (or instead of) the words: a title of spaces still counts as metadata.
    title: fc
      .tuple(fc.constantFrom('', ' ', '\n'), titleWords, fc.constantFrom('', ' '))
      .map(([before, words, after]) => before + words.join(' ') + after),
    author: text.map((w) => w.join(' ')),
    published: fc.constantFrom('1903-12-10', '2001-01-01', '1890'),
    paragraphs: fc.array(
      fc.array(
        text.map((w) => w.join(' ')),
        { maxLength: 12 },
      ),
      {
        maxLength: 6,
      },
    ),
    tail: fc.integer({ min: 0, max: 4000 }),
    behaviour,
  },
  { requiredKeys: ['domain', 'paragraphs', 'tail', 'behaviour'] },
)

const scenario: fc.Arbitrary<Scenario> = fc.record({
  figure: fc
    .constantFrom(...surnames)
    .chain((surname) =>
      fc
        .constantFrom('Marie', 'Ada', 'Emmy')
        .map((first) => ({ name: `${first} ${surname}`, surname })),
    ),
  pages: fc
    .array(page, { minLength: 1, maxLength: 6 })
    .map((pages) => pages.map((p, i) => ({ ...p, id: `page-${i}` }))),
  policy: fc.record({
    // A stall (no answer at all) costs idleTimeoutMs × (2^attempts − 1); pages that answer do so
    // in milliseconds on loopback. 2 s leaves room for a process descheduled on a busy machine
    // (after a long pause Node runs due timers before it reads the socket), and 2 attempts keep a
    // retry in every run at the cost of 3 deadlines per stalled page.
    idleTimeoutMs: fc.constant(2000),
    attempts: fc.integer({ min: 1, max: 2 }),
    backoffMs: fc.integer({ min: 0, max: 3 }),
  }),
})

function renderHtml(p: GeneratedPage): string {
  return [
    '<!doctype html><html><head><meta charset="utf-8">',
    p.title !== undefined ? `<title>${escapeHtml(p.title)}</title>` : '',
    p.author !== undefined ? `<meta name="author" content="${escapeHtml(p.author)}">` : '',
    p.published !== undefined ? `<meta name="date" content="${p.published}">` : '',
    '</head><body><nav><a href="/">Home</a></nav><article>',
    p.paragraphs.map((sentences) => `<p>${escapeHtml(sentences.join(' '))}</p>`).join('\n'),
    '</article>',
    `<script>${'x'.repeat(p.tail)}</script></body></html>`,
  ].join('')
}

/** Serves the pages of the current scenario; request counts per page drive the flaky ones. */
class PageServer {
  #server: LoopbackServer | undefined
  #pages = new Map<string, GeneratedPage>()
  #requests = new Map<string, number>()
  baseUrl = ''

  async start(): Promise<void> {
    this.#server = await startHttpServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://pages').pathname.slice(1)
      const p = this.#pages.get(path)
      if (p === undefined) {
        res.writeHead(404).end('not found')
        return
      }
      const seen = this.#requests.get(path) ?? 0
      this.#requests.set(path, seen + 1)
      const b = p.behaviour
      const failing = b.kind === 'broken' || (b.kind === 'flaky' && seen < b.failFirst)
      if (failing && (b.kind === 'broken' || b.kind === 'flaky')) {
        if (b.how === 'server-error') res.writeHead(b.status).end('<h1>Try again</h1>')
        else if (b.how === 'reset') res.socket?.destroy()
        // 'stall': nothing is sent; the client's idle deadline gives up, closing the socket.
        return
      }
      if (b.kind === 'status') {
        res.writeHead(b.status, { 'content-type': 'text/html' }).end('<h1>No</h1>')
        return
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(renderHtml(p))
    })
    this.baseUrl = this.#server.baseUrl
  }

  /** Serves these pages from now on, every request count back at zero. */
  serve(pages: readonly GeneratedPage[]): SearchHit[] {
    this.#pages = new Map(pages.map((p) => [`${p.domain}/${p.id}`, p]))
    this.resetCounts()
    return pages.map((p) => ({
      url: `https://${p.domain}/${p.id}`,
      fetchUrl: `${this.baseUrl}/${p.domain}/${p.id}`,
    }))
  }

  /** Every page answers as on its first request again (the flaky ones fail again). */
  resetCounts(): void {
    this.#requests = new Map()
  }

  async close(): Promise<void> {
    await this.#server?.close()
  }
}

/**
 * The worker side, in-process: each item of a chunk runs `validateSource` on this thread, its
 * input and result copied through v8.serialize like the BullMQ backend's payloads.
 */
class InProcessBackend implements ChunkBackend {
  readonly concurrency = 4
  readonly loadTimeout = 10_000
  /** Inputs received, in the order the items ran. */
  readonly received: ValidationInput[] = []

  async prepare(): Promise<void> {}

  run(request: ChunkRequest, listener: ChunkListener): ChunkHandle {
    let stopped = false
    void (async () => {
      let k = 0
      for (; k < request.inputs.length && !stopped; k++) {
        const input = deserialize(serialize(request.inputs[k])) as ValidationInput
        this.received.push(input)
        const started = performance.now()
        if (request.task.exportName !== 'validateSource') {
          listener.item(k, false, new Error(`unexpected task ${request.task.exportName}`), 0)
          continue
        }
        try {
          const output = deserialize(serialize(await validateSource(input)))
          listener.item(k, true, output, performance.now() - started)
        } catch (error) {
          listener.item(k, false, error, performance.now() - started)
        }
      }
      listener.end({ completed: k })
    })()
    return {
      drain: () => {
        stopped = true
      },
      abort: () => {
        stopped = true
      },
    }
  }

  async close(): Promise<void> {}
}

/** A page without what measures the fetch (its time, and bytes read: chunking decides those). */
function result(page: Omit<FetchedPage, 'html'>): Omit<FetchedPage, 'html' | 'fetchMs' | 'bytes'> {
  const { fetchMs: _ms, bytes: _bytes, ...rest } = page
  return rest
}

/** What a validated source is, without the fetch's measurements. */
function comparable(v: ValidatedSource) {
  return { hit: v.hit, page: result(v.page), verdict: v.verdict, contentHash: v.contentHash }
}

/** The deterministic counters a validation stage fills. */
function semanticCounters(c: RunCounters) {
  return {
    validationTotal: c.validationTotal,
    validationFromCache: c.validationFromCache,
    fetchAttempts: c.fetchAttempts,
    fetchFailures: c.fetchFailures,
  }
}

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const namespace = `bookgen-demo-prop-${process.pid}-${Date.now().toString(36)}`

describe('distributed validation gives exactly what local validation gives (generated pages)', () => {
  const server = new PageServer()
  // Not a test of the bound: a generous command timeout, so a loaded machine cannot turn a read
  // into a miss.
  const cache = new RedisCache({ url: redisUrl, namespace, commandTimeout: 10_000 })
  const backend = new InProcessBackend()
  const executor = new ParallelTaskExecutor({ backend, maxWorkers: 4 })
  const parallelizer = new ValidationParallelizer({ maxWorkers: 4 })
  const progress = new Progress(false)

  const context = (policy: FetchPolicy): RunContext =>
    ({ cache, progress, fetchPolicy: policy }) as unknown as RunContext
  const asFigure = (f: Scenario['figure']): Figure => ({ ...figures[0]!, ...f })

  beforeAll(async () => {
    await server.start()
    await cache.clear()
  })

  afterAll(async () => {
    await cache.clear()
    await cache.close()
    await executor.close()
    await server.close()
  })

  /** The keys the namespace holds now. */
  async function storedKeys(): Promise<string[]> {
    const keys: string[] = []
    for await (const key of cache.keys()) keys.push(key)
    return keys.sort()
  }

  it('validateSource (the worker task) returns the page and verdict of the local optimized validation', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ figure, pages, policy }) => {
        await cache.clear()
        const hits = server.serve(pages)
        const local = await validateOptimized(
          context(policy),
          newRunCounters(),
          parallelizer,
          'local',
          asFigure(figure),
          hits,
        )
        server.resetCounts()
        const remote = await Promise.all(hits.map((hit) => validateSource({ hit, figure, policy })))
        expect(remote.map((r) => 'html' in r.page)).toEqual(remote.map(() => false))
        expect(remote.map((r) => ({ page: result(r.page), verdict: r.verdict }))).toEqual(
          local.map((v) => ({ page: result(v.page), verdict: v.verdict })),
        )
      }),
      { numRuns: 30 },
    )
  })

  it('shares the cache with the local path both ways, same keys, transient failures stored by neither', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ figure, pages, policy }) => {
        const hits = server.serve(pages)
        const ctx = context(policy)
        const fig = asFigure(figure)
        const keys = hits.map((hit) => cacheKey('validation', hit.url))
        const definitive = (v: ValidatedSource) => v.page.failure === undefined

        // Distributed on a cold cache, then local on what it stored.
        await cache.clear()
        const sentBefore = backend.received.length
        const coldDistributed = newRunCounters()
        const distributed = await validateDistributed(
          ctx,
          coldDistributed,
          executor,
          'distributed',
          fig,
          hits,
        )
        expect(backend.received.length - sentBefore).toBe(hits.length)
        const storedByDistributed = await cache.getMany<unknown>(keys)
        const expectedStore = new Map(
          distributed.flatMap((v, i) =>
            definitive(v) ? [[keys[i]!, { page: v.page, verdict: v.verdict }] as const] : [],
          ),
        )
        expect(storedByDistributed).toEqual(expectedStore)
        const distributedKeys = await storedKeys()
        server.resetCounts()
        const warmLocal = newRunCounters()
        const localOnDistributed = await validateOptimized(
          ctx,
          warmLocal,
          parallelizer,
          'local',
          fig,
          hits,
        )
        // What was stored is read back exactly (fetchMs and bytes included); the rest refetched.
        localOnDistributed.forEach((v, i) => {
          if (definitive(distributed[i]!)) expect(v).toEqual(distributed[i])
          else expect(comparable(v)).toEqual(comparable(distributed[i]!))
        })
        expect(warmLocal.validationFromCache).toBe(expectedStore.size)

        // Local on a cold cache, then distributed on what it stored.
        await cache.clear()
        server.resetCounts()
        const coldLocal = newRunCounters()
        const local = await validateOptimized(ctx, coldLocal, parallelizer, 'local', fig, hits)
        // cached() returns before its store lands (the caller does not wait for it): wait for
        // the definitive verdicts' keys, then compare what the namespace holds.
        const wanted = keys.filter((_, i) => definitive(local[i]!))
        await vi.waitFor(
          async () => expect((await cache.getMany(wanted)).size).toBe(new Set(wanted).size),
          { timeout: 30_000, interval: 20 },
        )
        const storedByLocal = await cache.getMany<unknown>(keys)
        expect(storedByLocal).toEqual(
          new Map(
            local.flatMap((v, i) =>
              definitive(v) ? [[keys[i]!, { page: v.page, verdict: v.verdict }] as const] : [],
            ),
          ),
        )
        expect(await storedKeys()).toEqual(distributedKeys)
        server.resetCounts()
        const sentWarm = backend.received.length
        const warmDistributed = newRunCounters()
        const distributedOnLocal = await validateDistributed(
          ctx,
          warmDistributed,
          executor,
          'distributed',
          fig,
          hits,
        )
        // Only the transient failures left the caller again.
        const byUrl = (a: SearchHit, b: SearchHit) => a.url.localeCompare(b.url)
        expect(
          backend.received
            .slice(sentWarm)
            .map((input) => input.hit)
            .sort(byUrl),
        ).toEqual(hits.filter((_, i) => !definitive(local[i]!)).sort(byUrl))
        distributedOnLocal.forEach((v, i) => {
          if (definitive(local[i]!)) expect(v).toEqual(local[i])
          else expect(comparable(v)).toEqual(comparable(local[i]!))
        })

        // Both cold runs: the same sources, verdicts and counters.
        expect(distributed.map(comparable)).toEqual(local.map(comparable))
        expect(semanticCounters(coldDistributed)).toEqual(semanticCounters(coldLocal))
        expect(semanticCounters(warmDistributed)).toEqual(semanticCounters(warmLocal))
      }),
      { numRuns: 30 },
    )
  })
})
