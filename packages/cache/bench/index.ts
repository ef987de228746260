// Benchmark of @bookgen/cache against raw ioredis, bentocache, cache-manager (@keyv/redis) and
// lru-cache, all on the same local Redis in one run, every ioredis-based peer with the same
// transport (auto-pipelining on; node-redis under @keyv/redis always pipelines). Each scenario runs
// ROUNDS rounds; inside a round the implementations run in a freshly shuffled order, and every
// ratio reported is the median of the per-round ratios. `npm run bench` in packages/cache writes
// bench/RESULTS.md.
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import KeyvRedis from '@keyv/redis'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis'
import { createCache } from 'cache-manager'
import { Redis } from 'ioredis'
import { Keyv } from 'keyv'
import { LRUCache } from 'lru-cache'

// The shipped build (nx runs `build` before `bench`), as the peers run theirs: the TypeScript
// sources through tsx would carry the transform's helpers on the hot path.
const { cached, MemoryCache, RedisCache, TieredCache } = (await import(
  new URL('../dist/index.js', import.meta.url).href
)) as typeof import('../src/index.js')

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const run = `bookgen-bench-${randomBytes(3).toString('hex')}`
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
/** The transport every ioredis-based implementation gets. */
const TRANSPORT = { enableAutoPipelining: true } as const

type Op = (i: number) => Promise<unknown>

/** RESULTS.md from this heading on is written by hand and kept across runs. */
const KEPT_FROM = '## Correctness and fault bounds'

interface Round {
  opsPerSec: number
  p50: number
  p99: number
}

interface Measured {
  name: string
  rounds: Round[]
}

const median = (list: number[]) => {
  const sorted = [...list].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function shuffled<T>(list: readonly T[]): T[] {
  const out = [...list]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

async function drive(total: number, concurrency: number, op: Op): Promise<Round> {
  const latencies = new Float64Array(total)
  let next = 0
  const start = performance.now()
  const worker = async () => {
    while (next < total) {
      const i = next++
      const t = performance.now()
      await op(i)
      latencies[i] = performance.now() - t
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const elapsed = performance.now() - start
  latencies.sort()
  return {
    opsPerSec: total / (elapsed / 1000),
    p50: latencies[Math.floor(total * 0.5)]!,
    p99: latencies[Math.floor(total * 0.99)]!,
  }
}

/** A bare awaited loop (per-op timing would dominate a memory hit): ops/s only. */
async function loop(total: number, _concurrency: number, op: Op): Promise<Round> {
  const start = performance.now()
  for (let i = 0; i < total; i++) await op(i)
  return {
    opsPerSec: total / ((performance.now() - start) / 1000),
    p50: Number.NaN,
    p99: Number.NaN,
  }
}

/** ROUNDS rounds of every implementation, shuffled inside each round, after one warm-up pass. */
async function compare(
  total: number,
  concurrency: number,
  impls: [name: string, op: Op][],
  runner: typeof drive = drive,
): Promise<Measured[]> {
  for (const [, op] of impls) await runner(Math.min(total, 20_000), concurrency, op)
  const measured: Measured[] = impls.map(([name]) => ({ name, rounds: [] }))
  for (let r = 0; r < ROUNDS; r++) {
    for (const k of shuffled(impls.map((_, i) => i))) {
      measured[k]!.rounds.push(await runner(total, concurrency, impls[k]![1]))
    }
  }
  return measured
}

/** Median over rounds of a / b, each round's ops/s divided within that round. */
const ratio = (a: Measured, b: Measured) =>
  median(a.rounds.map((round, r) => round.opsPerSec / b.rounds[r]!.opsPerSec))

const out: string[] = []
const targets: [label: string, value: string, goal: string, met: boolean][] = []
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const ms = (n: number) => (Number.isNaN(n) ? '–' : n.toFixed(3))

/**
 * A Markdown table as Biome formats it (so the written RESULTS.md passes `biome check`): every
 * column padded to its widest cell, right-aligned columns (`r`) padded on the left and marked
 * `---:`, the others padded on the right.
 */
function markdownTable(head: string[], align: string, rows: string[][]): string {
  const width = (cell: string) => [...cell].length
  const widths = head.map((h, c) => Math.max(3, width(h), ...rows.map((row) => width(row[c]!))))
  const pad = (cell: string, c: number) => {
    const fill = ' '.repeat(widths[c]! - width(cell))
    return align[c] === 'r' ? fill + cell : cell + fill
  }
  const line = (cells: string[]) => `| ${cells.map(pad).join(' | ')} |`
  const rule = widths.map((w, c) => (align[c] === 'r' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)))
  return [line(head), `| ${rule.join(' | ')} |`, ...rows.map(line)].join('\n')
}

function table(title: string, results: Measured[], baseline: Measured, unit = 'ops/s'): void {
  out.push(`\n## ${title}\n`)
  out.push(
    markdownTable(
      ['implementation', `${unit} (median)`, 'p50 ms', 'p99 ms', `vs ${baseline.name}`],
      'lrrrr',
      results.map((r) => [
        r.name,
        fmt(median(r.rounds.map((x) => x.opsPerSec))),
        ms(median(r.rounds.map((x) => x.p50))),
        ms(median(r.rounds.map((x) => x.p99))),
        r === baseline ? '1.00×' : `${ratio(r, baseline).toFixed(2)}×`,
      ]),
    ),
  )
}

function target(label: string, value: number, goal: number): void {
  targets.push([label, `${value.toFixed(2)}×`, `≥ ${goal}×`, value >= goal])
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(', ')
}

/**
 * Raw ioredis with the gets of a tick sent as one MGET by hand (DataLoader-style), JSON-parsed: not
 * a peer, the reference for what coalescing gives without a cache around it.
 */
function handCoalesced(client: Redis): (key: string) => Promise<unknown> {
  let open: { keys: string[]; reply: Promise<(string | null)[]> } | undefined
  return async (key) => {
    let batch = open
    if (batch === undefined) {
      const keys: string[] = []
      let resolve!: (values: (string | null)[]) => void
      const reply = new Promise<(string | null)[]>((r) => {
        resolve = r
      })
      batch = { keys, reply }
      open = batch
      process.nextTick(() => {
        open = undefined
        void client.mget(keys).then(resolve)
      })
    }
    const index = batch.keys.push(key) - 1
    const text = (await batch.reply)[index]
    return text == null ? undefined : JSON.parse(text)
  }
}

/**
 * Staleness window between two instances: `write(i)` on one, `read()` polled every millisecond on
 * the other; the time from the write's reply to the first read of the new value (capped at `capMs`).
 */
async function staleness(
  write: (i: number) => Promise<unknown>,
  read: () => Promise<unknown>,
  rounds: number,
  capMs: number,
): Promise<{ p50: number; p99: number; max: number; unseen: number }> {
  const windows: number[] = []
  let unseen = 0
  for (let i = 1; i <= rounds; i++) {
    // Let the reader hold the previous value in memory first.
    for (let w = 0; w < 5; w++) await read()
    await write(i)
    const t = performance.now()
    let seen = false
    while (performance.now() - t < capMs) {
      if ((await read()) === i) {
        seen = true
        break
      }
      await new Promise((r) => setTimeout(r, 1))
    }
    if (!seen) unseen++
    windows.push(seen ? performance.now() - t : capMs)
  }
  windows.sort((a, b) => a - b)
  return {
    p50: median(windows),
    p99: windows[Math.ceil(windows.length * 0.99) - 1]!,
    max: windows.at(-1)!,
    unseen,
  }
}

async function main() {
  const startedAt = new Date()
  const loadBefore = loadAverage()
  const value = { valid: true, score: 0.85, url: 'https://example.org/source/1', tags: ['a', 'b'] }
  const KEYS = 100
  const keyOf = (i: number) => `k${i % KEYS}`

  // Clients: every ioredis connection with the same transport settings.
  const rawAuto = new Redis(REDIS_URL, TRANSPORT)
  const ours = new RedisCache({ url: REDIS_URL, namespace: `${run}:ours`, ...TRANSPORT })
  const bentoConnection = new Redis(REDIS_URL, TRANSPORT)
  const bento = new BentoCache({
    default: 'redis',
    prefix: `${run}:bento`,
    stores: { redis: bentostore().useL2Layer(redisDriver({ connection: bentoConnection })) },
  })
  const keyvRedis = new KeyvRedis(REDIS_URL, { namespace: `${run}:cm` })
  const cm = createCache({ stores: [new Keyv({ store: keyvRedis, namespace: `${run}:cm` })] })

  for (let i = 0; i < KEYS; i++) {
    const k = keyOf(i)
    await rawAuto.set(`${run}:raw:${k}`, JSON.stringify(value), 'EX', 600)
    await ours.set(k, value, 600)
    await bento.set({ key: k, value, ttl: '10m' })
    await cm.set(k, value, 600_000)
  }

  // 1. Hit-path get, 100 concurrent callers.
  const N = 20_000
  const C = 100
  const coalescedGet = handCoalesced(rawAuto)
  const hit = await compare(N, C, [
    [
      'raw ioredis GET + JSON.parse',
      async (i) => JSON.parse((await rawAuto.get(`${run}:raw:${keyOf(i)}`))!),
    ],
    ['**@bookgen/cache RedisCache**', (i) => ours.get(keyOf(i))],
    ['bentocache (L2 redis only)', (i) => bento.get({ key: keyOf(i) })],
    ['cache-manager + @keyv/redis', (i) => cm.get(keyOf(i))],
    [
      'reference: raw ioredis, one MGET per tick by hand',
      (i) => coalescedGet(`${run}:raw:${keyOf(i)}`),
    ],
  ])
  const [rawGet, oursGet, bentoGet, cmGet] = hit as [Measured, Measured, Measured, Measured]
  table(
    `Hit-path get, ${C} concurrent callers, ${fmt(N)} gets per round, small JSON object`,
    hit,
    rawGet,
  )
  target('hit-path get vs raw auto-pipelined ioredis', ratio(oursGet, rawGet), 0.95)
  target('hit-path get vs bentocache L2', ratio(oursGet, bentoGet), 1.5)
  target('hit-path get vs cache-manager + @keyv/redis', ratio(oursGet, cmGet), 1.2)

  // 2. getMany of 100 keys, 10 concurrent callers.
  const keys = Array.from({ length: KEYS }, (_, i) => keyOf(i))
  const rawKeys = keys.map((k) => `${run}:raw:${k}`)
  const M = 2000
  const MC = 10
  const many = await compare(M, MC, [
    [
      'raw ioredis MGET + JSON.parse',
      async () =>
        (await rawAuto.mget(rawKeys)).map((s) => (s === null ? undefined : JSON.parse(s))),
    ],
    ['**@bookgen/cache getMany** (one MGET)', () => ours.getMany(keys)],
    // bentocache 1.6 has no getMany: its documented way is one get per key.
    ['bentocache (Promise.all of get)', () => Promise.all(keys.map((key) => bento.get({ key })))],
    ['cache-manager mget', () => cm.mget(keys)],
  ])
  const [rawMget, oursMget, bentoMget] = many as [Measured, Measured, Measured, Measured]
  table(`getMany of ${KEYS} keys, ${MC} concurrent callers`, many, rawMget, 'batches/s')
  target('getMany(100) vs raw MGET', ratio(oursMget, rawMget), 0.9)
  target('getMany(100) vs bentocache', ratio(oursMget, bentoMget), 1.0)

  // 3. Memory tier, single awaited caller.
  const memory = new MemoryCache({ namespace: `${run}:mem`, maxEntries: 1000 })
  const lru = new LRUCache<string, object>({ max: 1000, ttl: 600_000 })
  const bentoL1 = new BentoCache({
    default: 'memory',
    prefix: `${run}:bento-l1`,
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 1000 })) },
  })
  const coherent = new TieredCache({
    remote: { url: REDIS_URL, namespace: `${run}:tier-coherent`, ...TRANSPORT },
    memory: { maxEntries: 1000 },
  })
  const incoherent = new TieredCache({
    remote: { url: REDIS_URL, namespace: `${run}:tier-incoherent`, ...TRANSPORT },
    memory: { maxEntries: 1000 },
    invalidation: false,
  })
  while (!coherent.coherent) await new Promise((r) => setTimeout(r, 10))
  for (let i = 0; i < KEYS; i++) {
    const k = keyOf(i)
    await memory.set(k, value, 600)
    lru.set(k, value)
    await bentoL1.set({ key: k, value, ttl: '10m' })
    await coherent.set(k, value, 600)
    await incoherent.set(k, value, 600)
  }
  const L = 500_000
  const mem = await compare(
    L,
    1,
    [
      ['lru-cache behind async get', async (i) => lru.get(keyOf(i))],
      ['**@bookgen/cache MemoryCache**', (i) => memory.get(keyOf(i))],
      ['bentocache L1 (memory only)', (i) => bentoL1.get({ key: keyOf(i) })],
      ['**TieredCache memory hit, coherent** (tracking)', (i) => coherent.get(keyOf(i))],
      ['TieredCache memory hit, `invalidation: false`', (i) => incoherent.get(keyOf(i))],
    ],
    loop,
  )
  const [lruHit, memHit, bentoL1Hit, coherentHit, incoherentHit] = mem as Measured[]
  table(`Memory-tier hit, single awaited caller, ${fmt(L)} gets per round`, mem, lruHit!)
  target('MemoryCache hit vs lru-cache', ratio(memHit!, lruHit!), 1.0)
  target('MemoryCache hit vs bentocache L1', ratio(memHit!, bentoL1Hit!), 1.0)
  target('coherent TieredCache hit vs incoherent', ratio(coherentHit!, incoherentHit!), 0.8)

  // 4. 1536-dimension embedding reads: float32 vs JSON codec.
  const dims = 1536
  const vector = Float32Array.from({ length: dims }, (_, i) => Math.sin(i) * 0.1)
  const embJson = new RedisCache({ url: REDIS_URL, namespace: `${run}:emb-json`, ...TRANSPORT })
  const embF32 = new RedisCache({
    url: REDIS_URL,
    namespace: `${run}:emb-f32`,
    codec: 'float32',
    ...TRANSPORT,
  })
  for (let i = 0; i < 20; i++) {
    await embJson.set(`e${i}`, Array.from(vector), 600)
    await embF32.set(`e${i}`, vector, 600)
  }
  const E = 4000
  const EC = 20
  const emb = await compare(E, EC, [
    ['JSON codec (number[])', (i) => embJson.get(`e${i % 20}`)],
    ['**float32 codec** (Float32Array)', (i) => embF32.get(`e${i % 20}`)],
  ])
  table(
    `${dims}-dim embedding read, ${EC} concurrent callers, ${fmt(E)} reads per round`,
    emb,
    emb[0]!,
  )
  target('embedding read float32 vs JSON', ratio(emb[1]!, emb[0]!), 10)

  // 5. Staleness window between two instances, next to bentocache with its bus.
  const staleNs = `${run}:stale`
  const writerTier = new TieredCache({ remote: { url: REDIS_URL, namespace: staleNs } })
  const readerTier = new TieredCache({ remote: { url: REDIS_URL, namespace: staleNs } })
  while (!writerTier.coherent || !readerTier.coherent) await new Promise((r) => setTimeout(r, 10))
  const busBento = () =>
    new BentoCache({
      default: 'tiered',
      prefix: `${run}:bento-bus`,
      stores: {
        tiered: bentostore()
          .useL1Layer(memoryDriver({ maxItems: 1000 }))
          .useL2Layer(redisDriver({ connection: new Redis(REDIS_URL, TRANSPORT) }))
          .useBus(
            redisBusDriver({
              connection: { host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379) },
            }),
          ),
      },
    })
  const bentoWriter = busBento()
  const bentoReader = busBento()
  await new Promise((r) => setTimeout(r, 500))
  const foreign = new Redis(REDIS_URL)
  const S = 40
  const CAP = 2000
  const windows: [string, Awaited<ReturnType<typeof staleness>>][] = [
    [
      '**TieredCache** (tracking), write through the other instance',
      await staleness(
        (i) => writerTier.set('s', i, 600),
        () => readerTier.get('s'),
        S,
        CAP,
      ),
    ],
    [
      '**TieredCache** (tracking), write by a foreign client (raw SET)',
      await staleness(
        (i) =>
          foreign.set(
            `${(readerTier.remote as InstanceType<typeof RedisCache>).keyPrefix}s`,
            `\0json\0${i}`,
            'EX',
            600,
          ),
        () => readerTier.get('s'),
        S,
        CAP,
      ),
    ],
    [
      'bentocache L1 + L2 + bus, write through the other instance',
      await staleness(
        (i) => bentoWriter.set({ key: 's', value: i, ttl: '10m' }),
        () => bentoReader.get({ key: 's' }),
        S,
        CAP,
      ),
    ],
  ]
  out.push(`\n## Staleness window between two instances, ${S} writes each\n`)
  out.push(
    `Time from a write's reply to the other instance's first read of the new value (polled every 1 ms, capped at ${CAP} ms); a foreign client's write is invisible to a bus.\n`,
  )
  out.push(
    markdownTable(
      ['setup', 'p50 ms', 'p99 ms', 'max ms', 'not seen within the cap'],
      'lrrrr',
      windows.map(([name, w]) => [
        name,
        w.p50.toFixed(1),
        w.p99.toFixed(1),
        w.max.toFixed(1),
        `${w.unseen} / ${S}`,
      ]),
    ),
  )

  // 6. cached() with 1,000 concurrent callers on a cold key.
  let oursCalls = 0
  const compute = cached(
    async () => {
      oursCalls++
      await new Promise((r) => setTimeout(r, 20))
      return value
    },
    { cache: ours, ttl: 60, keyPrefix: `${run}-cold` },
  )
  let bentoCalls = 0
  let cmCalls = 0
  const slow = async (count: () => void) => {
    count()
    await new Promise((r) => setTimeout(r, 20))
    return value
  }
  const t0 = performance.now()
  await Promise.all(Array.from({ length: 1000 }, () => compute()))
  const oursMs = performance.now() - t0
  const t1 = performance.now()
  await Promise.all(
    Array.from({ length: 1000 }, () =>
      bento.getOrSet({ key: 'cold', ttl: '1m', factory: () => slow(() => bentoCalls++) }),
    ),
  )
  const bentoMs = performance.now() - t1
  const t2 = performance.now()
  await Promise.all(
    Array.from({ length: 1000 }, () => cm.wrap('cold', () => slow(() => cmCalls++), 60_000)),
  )
  const cmMs = performance.now() - t2
  out.push('\n## cached() / getOrSet / wrap, 1,000 concurrent callers on a cold key\n')
  out.push(
    markdownTable(['implementation', 'factory calls', 'wall ms'], 'lrr', [
      ['**@bookgen/cache cached()**', String(oursCalls), oursMs.toFixed(1)],
      ['bentocache getOrSet', String(bentoCalls), bentoMs.toFixed(1)],
      ['cache-manager wrap', String(cmCalls), cmMs.toFixed(1)],
    ]),
  )

  const loadAfter = loadAverage()
  const report = [
    '# @bookgen/cache benchmark results',
    '',
    `- Date: ${startedAt.toISOString().slice(0, 10)} (run started ${startedAt.toISOString().slice(11, 16)} UTC)`,
    `- Command: \`${process.env.BENCH_ROUNDS === undefined ? '' : `BENCH_ROUNDS=${ROUNDS} `}npx nx run @bookgen/cache:bench\` (builds the package, then \`tsx bench/index.ts\` in packages/cache)`,
    `- Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}, Redis at ${REDIS_URL}, shared with other engineers' test runs: load average ${loadBefore} at the start, ${loadAfter} at the end.`,
    `- Method: ${ROUNDS} rounds per scenario after a warm-up pass; implementations in a new random order every round; ops/s and latencies are medians over rounds, every ratio is the median of the per-round ratios. Same transport for every ioredis-based implementation (auto-pipelining on: raw ioredis, ours, bentocache's connection); cache-manager's @keyv/redis uses node-redis, which always pipelines the commands of a tick.`,
    '- Peers: ioredis 5.9.2, bentocache 1.6.1, cache-manager 7.2.9 + @keyv/redis 5.1.6 (keyv 5.6.0), lru-cache 11.5.3.',
    ...out,
    '\n## Targets\n',
    markdownTable(['target', 'this run (median of per-round ratios)', 'goal', 'verdict'], 'lrrl', [
      ...targets.map(([label, v, goal, met]) => [label, v, goal, met ? 'met' : '**missed**']),
      [
        'cached(): 1,000 concurrent callers on a cold key',
        `${oursCalls} factory call(s)`,
        '1',
        oursCalls === 1 ? 'met' : '**missed**',
      ],
    ]),
    '',
  ].join('\n')
  if (process.env.BENCH_OUT !== '-') {
    // The hand-written sections after the measured tables (correctness, fault bounds) are kept.
    const file = new URL('./RESULTS.md', import.meta.url)
    const previous = readFileSync(file, 'utf8')
    const kept = previous.indexOf(KEPT_FROM)
    writeFileSync(file, kept >= 0 ? `${report}\n${previous.slice(kept)}` : report)
  }
  console.log(report)

  // Clean up our keys only.
  const cleanup = new RedisCache({ url: REDIS_URL, namespace: run })
  await cleanup.clear().catch(() => 0)
  await cleanup.close()
  await Promise.all([
    ours.close(),
    embJson.close(),
    embF32.close(),
    memory.close(),
    coherent.close(),
    incoherent.close(),
    writerTier.close(),
    readerTier.close(),
  ])
  await Promise.all([bento, bentoL1, bentoWriter, bentoReader].map((b) => b.disconnectAll()))
  await cm.disconnect()
  rawAuto.disconnect()
  bentoConnection.disconnect()
  foreign.disconnect()
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  },
)
