// Benchmark of @bookgen/cache against raw ioredis, bentocache (L2 redis) and cache-manager
// (@keyv/redis), all on the same local Redis in one run. `npm run bench` in packages/cache.
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import KeyvRedis from '@keyv/redis'
import { BentoCache, bentostore } from 'bentocache'
import { redisDriver } from 'bentocache/drivers/redis'
import { createCache } from 'cache-manager'
import { Redis } from 'ioredis'
import { Keyv } from 'keyv'
import { cached, MemoryCache, RedisCache, TieredCache } from '../src/index.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const url = new URL(REDIS_URL)
const host = url.hostname
const port = Number(url.port || 6379)
const run = `bookgen-bench-${randomBytes(3).toString('hex')}`
const ROUNDS = 5

interface Result {
  name: string
  opsPerSec: number
  p50: number
  p99: number
}

const rows: string[] = []
const notes: string[] = []

type Op = (i: number) => Promise<unknown>

/**
 * Runs each implementation's `op` from `concurrency` callers until `total` operations are done,
 * ROUNDS times, interleaving the implementations round by round so background noise on the shared
 * machine hits all of them alike; reports each one's median round.
 */
async function compare(
  total: number,
  concurrency: number,
  impls: [name: string, op: Op][],
): Promise<Result[]> {
  for (const [, op] of impls) await drive(Math.min(total, 3000), concurrency, op)
  const rounds: Result[][] = impls.map(() => [])
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < impls.length; k++) {
      const [name, op] = impls[k]!
      const { elapsed, latencies } = await drive(total, concurrency, op)
      latencies.sort((x, y) => x - y)
      rounds[k]!.push({
        name,
        opsPerSec: total / (elapsed / 1000),
        p50: latencies[Math.floor(latencies.length * 0.5)]!,
        p99: latencies[Math.floor(latencies.length * 0.99)]!,
      })
    }
  }
  return rounds.map((list) => {
    list.sort((x, y) => x.opsPerSec - y.opsPerSec)
    return list[Math.floor(list.length / 2)]!
  })
}

async function drive(total: number, concurrency: number, op: (i: number) => Promise<unknown>) {
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
  return { elapsed: performance.now() - start, latencies: Array.from(latencies) }
}

/** Bare awaited loops for the memory tier (per-op timing would dominate): ops/s only. */
async function compareLoops(total: number, impls: [name: string, op: Op][]): Promise<Result[]> {
  for (const [, op] of impls) for (let i = 0; i < 200_000; i++) await op(i)
  const rounds: number[][] = impls.map(() => [])
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < impls.length; k++) {
      const op = impls[k]![1]
      const start = performance.now()
      for (let i = 0; i < total; i++) await op(i)
      rounds[k]!.push(total / ((performance.now() - start) / 1000))
    }
  }
  return impls.map(([name], k) => {
    const list = rounds[k]!.sort((x, y) => x - y)
    return { name, opsPerSec: list[Math.floor(list.length / 2)]!, p50: Number.NaN, p99: Number.NaN }
  })
}

function table(title: string, results: Result[], baseline: Result, unit = 'ops/s') {
  rows.push(`\n### ${title}\n`)
  rows.push(`| implementation | ${unit} | p50 ms | p99 ms | vs ${baseline.name} |`)
  rows.push('| --- | ---: | ---: | ---: | ---: |')
  for (const r of results) {
    rows.push(
      `| ${r.name} | ${fmt(r.opsPerSec)} | ${Number.isNaN(r.p50) ? '–' : r.p50.toFixed(3)} | ${Number.isNaN(r.p99) ? '–' : r.p99.toFixed(3)} | ${(r.opsPerSec / baseline.opsPerSec).toFixed(2)}× |`,
    )
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const ratio = (a: Result, b: Result) => a.opsPerSec / b.opsPerSec
function target(label: string, value: number, goal: number) {
  const ok = value >= goal
  notes.push(`- ${label}: ${value.toFixed(2)}× (target ≥ ${goal}×) — ${ok ? 'met' : 'MISSED'}`)
}

async function main() {
  const value = { valid: true, score: 0.85, url: 'https://example.org/source/1', tags: ['a', 'b'] }
  const KEYS = 100
  const keyOf = (i: number) => `k${i % KEYS}`

  // Clients.
  const rawPlain = new Redis(REDIS_URL)
  const rawAuto = new Redis(REDIS_URL, { enableAutoPipelining: true })
  const ours = new RedisCache({ url: REDIS_URL, namespace: `${run}:ours` })
  const oursNoAuto = new RedisCache({
    url: REDIS_URL,
    namespace: `${run}:ours-noauto`,
    enableAutoPipelining: false,
  })
  const bento = new BentoCache({
    default: 'redis',
    prefix: `${run}:bento`,
    stores: { redis: bentostore().useL2Layer(redisDriver({ connection: { host, port } })) },
  })
  const keyvRedis = new KeyvRedis(REDIS_URL, { namespace: `${run}:cm` })
  const cm = createCache({ stores: [new Keyv({ store: keyvRedis, namespace: `${run}:cm` })] })

  // Data.
  for (let i = 0; i < KEYS; i++) {
    const k = keyOf(i)
    await rawPlain.set(`${run}:raw:${k}`, JSON.stringify(value), 'EX', 600)
    await ours.set(k, value, 600)
    await oursNoAuto.set(k, value, 600)
    await bento.set({ key: k, value, ttl: '10m' })
    await cm.set(k, value, 600_000)
  }

  // 1. Hit-path get, 100 concurrent callers.
  const N = 20_000
  const C = 100
  const [rawGet, rawAutoGet, oursGet, oursNoAutoGet, bentoGet, cmGet] = (await compare(N, C, [
    [
      'raw ioredis GET + JSON.parse',
      async (i) => JSON.parse((await rawPlain.get(`${run}:raw:${keyOf(i)}`))!),
    ],
    [
      'raw ioredis (auto-pipelining)',
      async (i) => JSON.parse((await rawAuto.get(`${run}:raw:${keyOf(i)}`))!),
    ],
    ['@bookgen/cache RedisCache', (i) => ours.get(keyOf(i))],
    ['@bookgen/cache RedisCache (no auto-pipelining)', (i) => oursNoAuto.get(keyOf(i))],
    ['bentocache (L2 redis)', (i) => bento.get({ key: keyOf(i) })],
    ['cache-manager + @keyv/redis', (i) => cm.get(keyOf(i))],
  ])) as [Result, Result, Result, Result, Result, Result]
  table(
    `Hit-path get, ${C} concurrent callers, ${fmt(N)} gets, small JSON object`,
    [rawGet, rawAutoGet, oursGet, oursNoAutoGet, bentoGet, cmGet],
    rawGet,
  )
  target('hit-path get vs raw ioredis', ratio(oursGet, rawGet), 0.9)
  target('hit-path get vs bentocache (stretch)', ratio(oursGet, bentoGet), 1.5)
  target('hit-path get vs cache-manager (stretch)', ratio(oursGet, cmGet), 1.5)
  notes.push(
    `- hit-path get vs raw ioredis with auto-pipelining: ${ratio(oursGet, rawAutoGet).toFixed(2)}× (same transport; the difference is our bookkeeping)`,
  )

  // 2. getMany of 100 keys.
  const keys = Array.from({ length: KEYS }, (_, i) => keyOf(i))
  const rawKeys = keys.map((k) => `${run}:raw:${k}`)
  const M = 2000
  const MC = 10
  const [rawMget, oursMget, cmMget] = (await compare(M, MC, [
    [
      'raw ioredis MGET + JSON.parse',
      async () => {
        const out = await rawPlain.mget(rawKeys)
        return out.map((s) => (s === null ? undefined : JSON.parse(s)))
      },
    ],
    ['@bookgen/cache getMany', () => ours.getMany(keys)],
    ['cache-manager mget', () => cm.mget(keys)],
  ])) as [Result, Result, Result]
  table(
    `getMany of ${KEYS} keys, ${MC} concurrent callers (batches/s)`,
    [rawMget, oursMget, cmMget],
    rawMget,
    'batches/s',
  )
  target('getMany(100) vs raw MGET', ratio(oursMget, rawMget), 0.9)

  // 3. Memory-tier hits vs a bare Map behind an async get, single awaited caller.
  const map = new Map<string, unknown>()
  const memory = new MemoryCache({ maxEntries: 1000 })
  const tiered = new TieredCache({ remote: ours, memory: { maxEntries: 1000 } })
  for (let i = 0; i < KEYS; i++) {
    map.set(keyOf(i), value)
    await memory.set(keyOf(i), value, 600)
    await tiered.get(keyOf(i))
  }
  const bare = {
    async get(k: string) {
      return map.get(k)
    },
  }
  const L = 1_000_000
  const [bareHit, memHit, tierHit] = (await compareLoops(L, [
    ['bare Map behind async get', (i) => bare.get(keyOf(i))],
    ['@bookgen/cache MemoryCache', (i) => memory.get(keyOf(i))],
    ['@bookgen/cache TieredCache (memory tier)', (i) => tiered.get(keyOf(i))],
  ])) as [Result, Result, Result]
  table(
    `Memory-tier hit, single awaited caller, ${fmt(L)} gets`,
    [bareHit, memHit, tierHit],
    bareHit,
  )
  target('MemoryCache hit vs bare async Map', ratio(memHit, bareHit), 0.8)
  target('TieredCache memory hit vs bare async Map', ratio(tierHit, bareHit), 0.8)
  notes.push(
    `- memory-tier hit absolute: ${fmt(memHit.opsPerSec)} ops/s (issue: ≥ 5 M/s — ${memHit.opsPerSec >= 5e6 ? 'met' : 'missed'} this run; DESIGN.md calibrates the target to ≥ 0.8× the bare baseline)`,
  )

  // 4. 1536-dimension embedding reads: float32 vs JSON codec.
  const dims = 1536
  const vector = Float32Array.from({ length: dims }, (_, i) => Math.sin(i) * 0.1)
  const embJson = new RedisCache({ url: REDIS_URL, namespace: `${run}:emb-json` })
  const embF32 = new RedisCache({ url: REDIS_URL, namespace: `${run}:emb-f32`, codec: 'float32' })
  for (let i = 0; i < 20; i++) {
    await embJson.set(`e${i}`, Array.from(vector), 600)
    await embF32.set(`e${i}`, vector, 600)
  }
  const E = 4000
  const EC = 20
  const [jsonRead, f32Read] = (await compare(E, EC, [
    ['JSON codec (number[])', (i) => embJson.get(`e${i % 20}`)],
    ['float32 codec (Float32Array)', (i) => embF32.get(`e${i % 20}`)],
  ])) as [Result, Result]
  table(
    `${dims}-dim embedding read, ${EC} concurrent callers, ${fmt(E)} reads`,
    [jsonRead, f32Read],
    jsonRead,
  )
  target('embedding read float32 vs JSON', ratio(f32Read, jsonRead), 10)

  // 5. cached() with 1,000 concurrent callers on a cold key.
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
  const t0 = performance.now()
  await Promise.all(Array.from({ length: 1000 }, () => compute()))
  const oursMs = performance.now() - t0
  const t1 = performance.now()
  await Promise.all(
    Array.from({ length: 1000 }, () =>
      bento.getOrSet({
        key: 'cold',
        ttl: '1m',
        factory: async () => {
          bentoCalls++
          await new Promise((r) => setTimeout(r, 20))
          return value
        },
      }),
    ),
  )
  const bentoMs = performance.now() - t1
  const t2 = performance.now()
  await Promise.all(
    Array.from({ length: 1000 }, () =>
      cm.wrap(
        'cold',
        async () => {
          cmCalls++
          await new Promise((r) => setTimeout(r, 20))
          return value
        },
        60_000,
      ),
    ),
  )
  const cmMs = performance.now() - t2
  rows.push('\n### cached() / getOrSet / wrap, 1,000 concurrent callers on a cold key\n')
  rows.push('| implementation | factory calls | wall ms |')
  rows.push('| --- | ---: | ---: |')
  rows.push(`| @bookgen/cache cached() | ${oursCalls} | ${oursMs.toFixed(1)} |`)
  rows.push(`| bentocache getOrSet | ${bentoCalls} | ${bentoMs.toFixed(1)} |`)
  rows.push(`| cache-manager wrap | ${cmCalls} | ${cmMs.toFixed(1)} |`)
  notes.push(
    `- cached() with 1,000 concurrent callers on a cold key: ${oursCalls} factory call(s) — ${oursCalls === 1 ? 'met' : 'MISSED'}`,
  )

  // Report.
  console.log(`# @bookgen/cache benchmark\n`)
  console.log(
    `${new Date().toISOString()} · node ${process.version} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} · Redis ${REDIS_URL}`,
  )
  console.log(rows.join('\n'))
  console.log('\n### Targets\n')
  console.log(notes.join('\n'))

  // Clean up our keys only.
  const cleanup = new RedisCache({ url: REDIS_URL, namespace: run })
  await cleanup.clear()
  await cleanup.close()
  await Promise.all([ours.close(), oursNoAuto.close(), embJson.close(), embF32.close()])
  await memory.close()
  await tiered.memory.close()
  await bento.disconnectAll()
  await cm.disconnect()
  rawPlain.disconnect()
  rawAuto.disconnect()
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
