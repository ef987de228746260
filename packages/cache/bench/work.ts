// Work per call, which the machine's load changes little (unlike ops/s): CPU time of this process
// and garbage collections per 10,000 calls, for the hit path with 100 concurrent callers, getMany
// of 100 keys and the 1536-dim embedding read, next to the same peers as bench/index.ts. Redis'
// own CPU is not counted. `npm run bench:work` in packages/cache, after `npm run build`; prints a
// Markdown table and writes nothing.
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { PerformanceObserver } from 'node:perf_hooks'
import KeyvRedis from '@keyv/redis'
import { createCache } from 'cache-manager'
import { Redis } from 'ioredis'
import { Keyv } from 'keyv'

const { RedisCache } = (await import(
  new URL('../dist/index.js', import.meta.url).href
)) as typeof import('../src/index.js')

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const run = `bookgen-bench-work-${randomBytes(3).toString('hex')}`
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)

let gcCount = 0
let gcMs = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcCount++
    gcMs += entry.duration
  }
}).observe({ entryTypes: ['gc'] })

type Op = (i: number) => Promise<unknown>

interface Work {
  cpuUsPerCall: number
  gcPer10k: number
  gcMsPer10k: number
}

async function measure(total: number, concurrency: number, op: Op): Promise<Work> {
  // Collections of earlier work are counted by the observer a little later: let them land.
  await new Promise((r) => setTimeout(r, 20))
  const gc0 = gcCount
  const gcMs0 = gcMs
  const cpu0 = process.cpuUsage()
  let next = 0
  const worker = async () => {
    while (next < total) await op(next++)
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const cpu = process.cpuUsage(cpu0)
  await new Promise((r) => setTimeout(r, 20))
  return {
    cpuUsPerCall: (cpu.user + cpu.system) / total,
    gcPer10k: ((gcCount - gc0) * 10_000) / total,
    gcMsPer10k: ((gcMs - gcMs0) * 10_000) / total,
  }
}

const median = (list: number[]) => {
  const sorted = [...list].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function compare(
  title: string,
  total: number,
  concurrency: number,
  impls: [string, Op][],
): Promise<string[]> {
  for (const [, op] of impls) await measure(Math.min(total, 5000), concurrency, op)
  const rounds: Work[][] = impls.map(() => [])
  for (let r = 0; r < ROUNDS; r++) {
    const order = impls.map((_, i) => i).sort(() => Math.random() - 0.5)
    for (const k of order) rounds[k]!.push(await measure(total, concurrency, impls[k]![1]))
  }
  const lines = [
    `\n${title}\n`,
    '| implementation | CPU µs per call | GCs per 10,000 calls | GC ms per 10,000 calls |',
    '| --- | ---: | ---: | ---: |',
  ]
  impls.forEach(([name], k) => {
    const w = rounds[k]!
    lines.push(
      `| ${name} | ${median(w.map((x) => x.cpuUsPerCall)).toFixed(2)} | ${median(w.map((x) => x.gcPer10k)).toFixed(1)} | ${median(w.map((x) => x.gcMsPer10k)).toFixed(2)} |`,
    )
  })
  return lines
}

const value = { valid: true, score: 0.85, url: 'https://example.org/source/1', tags: ['a', 'b'] }
const KEYS = 100
const keyOf = (i: number) => `k${i % KEYS}`
const raw = new Redis(REDIS_URL, { enableAutoPipelining: true })
const ours = new RedisCache({
  url: REDIS_URL,
  namespace: `${run}:ours`,
  enableAutoPipelining: true,
})
const keyvRedis = new KeyvRedis(REDIS_URL, { namespace: `${run}:cm` })
const cm = createCache({ stores: [new Keyv({ store: keyvRedis, namespace: `${run}:cm` })] })
for (let i = 0; i < KEYS; i++) {
  await raw.set(`${run}:raw:${keyOf(i)}`, JSON.stringify(value), 'EX', 600)
  await ours.set(keyOf(i), value, 600)
  await cm.set(keyOf(i), value, 600_000)
}
const vector = Float32Array.from({ length: 1536 }, (_, i) => Math.sin(i) * 0.1)
const embJson = new RedisCache({ url: REDIS_URL, namespace: `${run}:emb-json` })
const embF32 = new RedisCache({ url: REDIS_URL, namespace: `${run}:emb-f32`, codec: 'float32' })
for (let i = 0; i < 20; i++) {
  await embJson.set(`e${i}`, Array.from(vector), 600)
  await embF32.set(`e${i}`, vector, 600)
}
const keys = Array.from({ length: KEYS }, (_, i) => keyOf(i))
const rawKeys = keys.map((k) => `${run}:raw:${k}`)

const report = [
  `Load average ${os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(', ')}, Node ${process.version}, ${ROUNDS} rounds (medians).`,
  ...(await compare('Hit-path get, 100 concurrent callers', 20_000, 100, [
    [
      'raw ioredis GET + JSON.parse',
      async (i) => JSON.parse((await raw.get(`${run}:raw:${keyOf(i)}`))!),
    ],
    ['@bookgen/cache RedisCache', (i) => ours.get(keyOf(i))],
    ['cache-manager + @keyv/redis', (i) => cm.get(keyOf(i))],
  ])),
  ...(await compare('getMany of 100 keys, 10 concurrent callers (per batch)', 2000, 10, [
    [
      'raw ioredis MGET + JSON.parse',
      async () => (await raw.mget(rawKeys)).map((s) => (s === null ? undefined : JSON.parse(s))),
    ],
    ['@bookgen/cache getMany', () => ours.getMany(keys)],
  ])),
  ...(await compare('1536-dim embedding read, 20 concurrent callers', 4000, 20, [
    ['JSON codec (number[])', (i) => embJson.get(`e${i % 20}`)],
    ['float32 codec (Float32Array)', (i) => embF32.get(`e${i % 20}`)],
  ])),
].join('\n')
console.log(report)

const cleanup = new RedisCache({ url: REDIS_URL, namespace: run })
await cleanup.clear().catch(() => 0)
await Promise.all([cleanup.close(), ours.close(), embJson.close(), embF32.close()])
await cm.disconnect()
raw.disconnect()
process.exit(0)
