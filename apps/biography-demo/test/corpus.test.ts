import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCorpus } from '../src/corpus/corpusBuilder.js'
import { CorpusServer, type SearchHit } from '../src/corpus/corpusServer.js'
import { figures, findFigure } from '../src/corpus/figures.js'
import {
  defaultFetchPolicy,
  type FetchedPage,
  type FetchPolicy,
  fetchPageStreaming,
  fetchWholePage,
} from '../src/pageFetcher.js'
import { scoreSource } from '../src/sourceScorer.js'

describe('offline corpus', () => {
  it('expands every figure into 40–60 sources of every kind, the same way each time', () => {
    for (const figure of figures) {
      const corpus = buildCorpus(figure, figures)
      expect(corpus.length).toBeGreaterThanOrEqual(40)
      expect(corpus.length).toBeLessThanOrEqual(60)
      expect(buildCorpus(figure, figures)).toEqual(corpus)
      const kinds = new Set(corpus.map((s) => s.kind))
      for (const kind of ['article', 'syndicated', 'dubious'])
        expect(kinds, figure.name).toContain(kind)
      expect(
        corpus.some((s) => s.status !== 200),
        figure.name,
      ).toBe(true)
    }
  })

  it('has near-duplicates, contradictions and pages without metadata', () => {
    const curie = findFigure('marie curie')!
    const corpus = buildCorpus(curie, figures)
    const copy = corpus.find((s) => s.kind === 'syndicated')!
    const original = corpus.find((s) => s.id === copy.copyOf)!
    expect(copy.sentences.slice(1)).toEqual(original.sentences.slice(1))
    expect(copy.domain).not.toBe(original.domain)
    const years = new Set(curie.facts.map((f) => f.year))
    const contradicting = corpus
      .filter((s) => s.kind === 'dubious')
      .flatMap((s) => s.sentences.slice(1))
      .filter((s) => !years.has(Number(/\b1[89]\d\d\b/.exec(s)?.[0])))
    expect(contradicting.length).toBeGreaterThan(0)
    expect(corpus.some((s) => s.kind === 'missing-meta' && s.title === undefined)).toBe(true)
  })

  it('finds figures by name, slug or surname, ignoring case and accents', () => {
    expect(findFigure('ADA lovelace')?.slug).toBe('ada-lovelace')
    expect(findFigure('alan-turing')?.name).toBe('Alan Turing')
    expect(findFigure('Nobody')).toBeUndefined()
  })
})

describe('corpus server and source scoring', () => {
  const server = new CorpusServer()
  let base: string
  let hits: SearchHit[]
  const tesla = findFigure('Nikola Tesla')!

  beforeAll(async () => {
    base = await server.start()
    hits = (await (await fetch(`${base}/search?figure=nikola-tesla`)).json()) as SearchHit[]
  })

  afterAll(() => server.close())

  it('listens on a loopback ephemeral port and lists a figure’s sources', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(hits.length).toBe(server.sourceCount(tesla))
    expect(hits[0]!.url).toMatch(/^https:\/\/[a-z0-9.-]+\/nikola-tesla\/01$/)
    expect(hits[0]!.fetchUrl.startsWith(base)).toBe(true)
  })

  it('serves the same article to the whole-page and the streaming fetcher', async () => {
    const hit = hits[0]!
    const whole = await fetchWholePage(hit.url, hit.fetchUrl)
    const streamed = await fetchPageStreaming(hit.url, hit.fetchUrl)
    expect(whole.status).toBe(200)
    expect(streamed.text).toBe(whole.text)
    expect(streamed.title).toBe(whole.title)
    expect(whole.text).toContain('Tesla')
    expect(whole.html!.length).toBeGreaterThan(90_000)
    expect(streamed.bytes).toBeLessThan(whole.bytes)
  })

  it('scores trusted articles valid and broken, off-topic or clickbait pages invalid', async () => {
    const corpus = buildCorpus(tesla, figures)
    const verdicts = await Promise.all(
      hits.map(async (hit, i) => ({
        kind: corpus[i]!.kind,
        domain: corpus[i]!.domain,
        verdict: scoreSource(tesla, await fetchPageStreaming(hit.url, hit.fetchUrl)),
      })),
    )
    const of = (kind: string) => verdicts.filter((v) => v.kind === kind)
    expect(of('article').length).toBeGreaterThan(5)
    expect(of('broken').length).toBeGreaterThan(0)
    expect(of('off-topic').length + of('thin').length).toBeGreaterThan(0)
    expect(of('article').every((v) => v.verdict.valid)).toBe(true)
    expect(of('broken').every((v) => !v.verdict.valid && v.verdict.score === 0)).toBe(true)
    expect(of('off-topic').every((v) => !v.verdict.valid)).toBe(true)
    expect(of('thin').every((v) => !v.verdict.valid)).toBe(true)
    const dubiousHosts = verdicts.filter((v) => v.kind === 'dubious' && v.verdict.credibility < 0.5)
    expect(dubiousHosts.every((v) => !v.verdict.valid)).toBe(true)
  })

  it('answers 404 for unknown pages', async () => {
    const res = await fetch(`${base}/nowhere.example.org/x`)
    expect(res.status).toBe(404)
  })
})

describe('page fetches under transient faults (timeouts, resets, 5xx)', () => {
  const clean = new CorpusServer({ latencyFactor: 0 })
  const faulty = new CorpusServer({ latencyFactor: 0, faults: 1 })
  const curie = findFigure('Marie Curie')!
  // Stalls cost one idle timeout each; a few fetches at a time keep the server's queue short.
  const policy: FetchPolicy = { idleTimeoutMs: 400, attempts: 4, backoffMs: 1 }
  let cleanHits: SearchHit[]
  let faultyHits: SearchHit[]

  beforeAll(async () => {
    const search = async (base: string) =>
      (await (await fetch(`${base}/search?figure=marie-curie`)).json()) as SearchHit[]
    cleanHits = await search(await clean.start())
    faultyHits = await search(await faulty.start())
  })

  afterAll(async () => {
    await clean.close()
    await faulty.close()
  })

  it('retries past every fault and gets what a fault-free server serves, with both fetchers', async () => {
    const corpus = buildCorpus(curie, figures)
    await inBatches(faultyHits, 10, async (hit, i) => {
      // The reference uses the default policy: its generous deadlines do not depend on load.
      const reference = await fetchPageStreaming(cleanHits[i]!.url, cleanHits[i]!.fetchUrl)
      const whole = await fetchWholePage(hit.url, hit.fetchUrl, policy)
      const streamed = await fetchPageStreaming(hit.url, hit.fetchUrl, policy)
      const transient = corpus[i]!.status === 0 || corpus[i]!.status >= 500
      for (const page of [whole, streamed]) {
        expect(page.text, hit.url).toBe(reference.text)
        expect(page.title, hit.url).toBe(reference.title)
        expect(page.status, hit.url).toBe(reference.status)
        expect(page.failure, hit.url).toBe(reference.failure)
        // The same verdict; only the attempt count in an "unreachable" reason may differ.
        const { reasons, ...verdict } = scoreSource(curie, page)
        const { reasons: expectedReasons, ...expected } = scoreSource(curie, reference)
        expect(verdict, hit.url).toEqual(expected)
        if (!transient) expect(reasons, hit.url).toEqual(expectedReasons)
        // The fault costs at least one attempt (a busy machine may add a timeout); a broken
        // host spends them all.
        if (transient) expect(page.attempts, hit.url).toBe(policy.attempts)
        else expect(page.attempts, hit.url).toBeGreaterThanOrEqual(2)
      }
      if (transient) expect(reference.attempts).toBe(defaultFetchPolicy.attempts)
    })
    expect(corpus.some((s) => s.status === 503)).toBe(true)
  })

  it('reports a transient failure as unreachable once its attempts are spent', async () => {
    const once: FetchPolicy = { ...policy, attempts: 1 }
    // Restart the count: every page's next request on this server is a fault.
    const fresh = new CorpusServer({ latencyFactor: 0, faults: 1 })
    const base = await fresh.start()
    try {
      const hits = (await (await fetch(`${base}/search?figure=marie-curie`)).json()) as SearchHit[]
      const pages: FetchedPage[] = []
      await inBatches(hits, 10, async (h) => {
        pages.push(await fetchPageStreaming(h.url, h.fetchUrl, once))
      })
      expect(new Set(pages.map((p) => p.failure))).toEqual(
        new Set(['server-error', 'connection', 'timeout']),
      )
      for (const page of pages) {
        expect(page.attempts).toBe(1)
        const verdict = scoreSource(curie, page)
        expect(verdict.valid).toBe(false)
        expect(verdict.reasons[0]).toMatch(
          /^unreachable \((HTTP 503|connection|timeout), 1 attempts\)$/,
        )
      }
    } finally {
      await fresh.close()
    }
  })
})

async function inBatches<T>(
  items: readonly T[],
  size: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await Promise.all(items.slice(i, i + size).map((item, n) => fn(item, i + n)))
  }
}
