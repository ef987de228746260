// TieredCache over a real 3-master + 3-replica Redis Cluster, in two processes: client tracking
// runs per master, so a foreign client's write to a key on ANY master evicts both processes' memory
// copies; after a master is killed and a replica takes over, tracking comes back on the new master.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  startRedisCluster,
  type ThrowawayRedisCluster,
} from '../../../tools/testing/redisCluster.mjs'
import { waitFor } from '../../../tools/testing/servers.mjs'
import { clusterSlot } from '../src/clusterSlot.js'
import { RedisCache, TieredCache } from '../src/index.js'
import { STEADY, testNamespace } from './helpers.js'

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsx = join(packageDir, '..', '..', 'node_modules', '.bin', 'tsx')
const entry = pathToFileURL(join(packageDir, 'src', 'index.ts')).href
const ioredisEntry = pathToFileURL(createRequire(import.meta.url).resolve('ioredis')).href

interface Seen {
  key: string
  value: unknown
  at: number
}

/** The reader: polls every key each millisecond, reports every change and its coherence. */
const readerScript = (nodes: unknown, namespace: string, keys: string[]) => `
import { performance } from 'node:perf_hooks'
import ioredis from ${JSON.stringify(ioredisEntry)}
import * as lib from ${JSON.stringify(entry)}
const client = new ioredis.Cluster(${JSON.stringify(nodes)}, { enableAutoPipelining: true })
client.on('error', () => {})
const cache = new lib.TieredCache({ remote: { client, namespace: ${JSON.stringify(namespace)}, commandTimeout: 10000 } })
const now = () => performance.timeOrigin + performance.now()
const keys = ${JSON.stringify(keys)}
const last = new Map()
let stop = false
let wasCoherent
process.stdin.setEncoding('utf8')
process.stdin.on('data', (line) => {
  if (line.includes('stats')) process.stdout.write(JSON.stringify({ memoryHits: cache.memory.getStats().hits }) + '\\n')
  if (line.includes('stop')) stop = true
})
while (!stop) {
  if (cache.coherent !== wasCoherent) {
    wasCoherent = cache.coherent
    process.stdout.write(JSON.stringify({ coherent: wasCoherent }) + '\\n')
  }
  for (const key of keys) {
    const value = await cache.get(key)
    const text = JSON.stringify(value ?? null)
    if (text !== last.get(key)) {
      last.set(key, text)
      process.stdout.write(JSON.stringify({ key, value: value ?? null, at: now() }) + '\\n')
    }
  }
  await new Promise((r) => setTimeout(r, 1))
}
await cache.close()
client.disconnect()
`

interface Reader {
  child: ChildProcess
  seen: Seen[]
  coherent: boolean
  stats: () => Promise<{ memoryHits: number }>
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)]!
}

describe('TieredCache coherence on a Redis Cluster (per-master tracking)', () => {
  const folder = mkdtempSync(join(tmpdir(), 'bookgen-cache-cluster-coherence-'))
  const namespace = testNamespace('cluster-coherent')
  const readers: Reader[] = []
  let cluster: ThrowawayRedisCluster
  let raw: Cluster
  /** One key per master: the foreign writes reach every node. */
  let keys: string[] = []
  const tagged = (value: unknown) => `\0json\0${JSON.stringify(value)}`

  /** Keys of this namespace served by each master now, one per master. */
  function keysPerMaster(): string[] {
    const byMaster = new Map<string, string>()
    for (let i = 0; byMaster.size < 3 && i < 10_000; i++) {
      const key = `k${i}`
      const master = raw.slots[clusterSlot(`${namespace}:${key}`)]?.[0]
      if (master !== undefined && !byMaster.has(master)) byMaster.set(master, key)
    }
    return [...byMaster.values()]
  }

  beforeAll(async () => {
    cluster = await startRedisCluster()
    // The foreign writer: during a failover it waits out MOVED replies instead of giving up after
    // 16 immediate redirections.
    raw = new Cluster([...cluster.startupNodes], { retryDelayOnMoved: 100, maxRedirections: 64 })
    raw.on('error', () => {})
    await new Promise<void>((resolve) => raw.once('ready', () => resolve()))
    keys = keysPerMaster()
    expect(keys).toHaveLength(3)
    for (const key of keys) await raw.set(`${namespace}:${key}`, tagged(0), 'EX', 300)
    const file = join(folder, 'reader.mts')
    writeFileSync(file, readerScript(cluster.startupNodes, namespace, keys))
    for (let i = 0; i < 2; i++) {
      const child = spawn(tsx, [file], { stdio: ['pipe', 'pipe', 'inherit'] })
      const reader: Reader = {
        child,
        seen: [],
        coherent: false,
        stats: () =>
          new Promise((resolve) => {
            waiting.push(resolve as never)
            child.stdin!.write('stats\n')
          }),
      }
      const waiting: ((line: Record<string, unknown>) => void)[] = []
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const message = JSON.parse(line) as Record<string, unknown>
        if ('coherent' in message) reader.coherent = message.coherent === true
        else if ('memoryHits' in message) waiting.shift()?.(message)
        else reader.seen.push(message as unknown as Seen)
      })
      readers.push(reader)
    }
    await waitFor(() => readers.every((r) => r.coherent), 60_000, 'readers coherent')
  }, 180_000)

  afterAll(async () => {
    for (const reader of readers) {
      reader.child.stdin!.write('stop\n')
      reader.child.kill()
    }
    raw?.disconnect()
    await cluster?.stop()
    rmSync(folder, { recursive: true, force: true })
  })

  const latest = (reader: Reader, key: string) => reader.seen.findLast((s) => s.key === key)?.value

  /** Foreign writes (and deletes) on every master; the staleness window of each observation. */
  async function rounds(count: number, base: number): Promise<number[]> {
    const windows: number[] = []
    for (let round = base + 1; round <= base + count; round++) {
      const key = keys[round % keys.length]!
      const full = `${namespace}:${key}`
      const deleting = round % 7 === 0
      if (deleting) await raw.del(full)
      else await raw.set(full, tagged(round), 'EX', 300)
      const writtenAt = performance.timeOrigin + performance.now()
      const expected = deleting ? null : round
      // The invariant: every process reads the new state, however loaded the machine is.
      await waitFor(
        () => readers.every((r) => latest(r, key) === expected),
        20_000,
        `round ${round} (${key}) in both readers`,
      )
      for (const reader of readers) {
        const first = reader.seen.find(
          (s) => s.key === key && s.value === expected && s.at >= writtenAt - 50,
        )
        windows.push(Math.max(0, (first?.at ?? writtenAt) - writtenAt))
      }
      if (deleting) {
        await raw.set(full, tagged(round), 'EX', 300)
        await waitFor(
          () => readers.every((r) => latest(r, key) === round),
          20_000,
          `round ${round} rewritten`,
        )
      }
      await new Promise((r) => setTimeout(r, 20))
    }
    return windows
  }

  function summary(label: string, windows: number[]): void {
    const sorted = [...windows].sort((a, b) => a - b)
    console.log(
      `${label}: staleness window over ${sorted.length} observations: p50 ${percentile(sorted, 0.5).toFixed(1)} ms, p99 ${percentile(sorted, 0.99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`,
    )
  }

  it('a foreign client’s writes on every master reach both processes’ memory tiers', async () => {
    await waitFor(
      () => readers.every((r) => keys.every((k) => latest(r, k) === 0)),
      20_000,
      'value 0 everywhere',
    )
    const before = await Promise.all(readers.map((r) => r.stats()))
    summary('cluster, before failover', await rounds(30, 0))
    // The readers really served from memory between the writes (tracking did not just bypass it).
    const after = await Promise.all(readers.map((r) => r.stats()))
    for (let i = 0; i < readers.length; i++) {
      expect(after[i]!.memoryHits - before[i]!.memoryHits).toBeGreaterThan(30)
    }
  }, 180_000)

  it('after a master is killed and its replica takes over, coherence resumes', async () => {
    const master = (await cluster.masters())[0]!
    await cluster.failMaster(master)
    await new Promise<void>((resolve) => raw.refreshSlotsCache(() => resolve()))
    await waitFor(() => readers.every((r) => r.coherent), 60_000, 'readers coherent again')
    const before = await Promise.all(readers.map((r) => r.stats()))
    summary('cluster, after failover', await rounds(30, 100))
    const after = await Promise.all(readers.map((r) => r.stats()))
    for (let i = 0; i < readers.length; i++) {
      expect(after[i]!.memoryHits - before[i]!.memoryHits).toBeGreaterThan(30)
    }
  }, 180_000)
})

describe('TieredCache on a Redis Cluster in one process', () => {
  let cluster: ThrowawayRedisCluster
  let client: Cluster
  beforeAll(async () => {
    cluster = await startRedisCluster({ replicasPerMaster: 0 })
    client = new Cluster([...cluster.startupNodes], { enableAutoPipelining: true })
    client.on('error', () => {})
    await new Promise<void>((resolve) => client.once('ready', () => resolve()))
  }, 120_000)
  afterAll(async () => {
    client?.disconnect()
    await cluster?.stop()
  })

  it('uses tracking (not the bus) and keeps its own writes in memory (NOLOOP per node)', async () => {
    const namespace = testNamespace('cluster-tiered')
    const tiered = new TieredCache({ remote: { client, namespace, ...STEADY } })
    const other = new RedisCache({ client, namespace, ...STEADY })
    try {
      await waitFor(() => tiered.coherent, 30_000, 'coherent')
      const keys = Array.from({ length: 30 }, (_, i) => `own${i}`)
      for (const key of keys) expect(await tiered.set(key, key)).toBe(true)
      // Its own writes stay in memory: served without Redis.
      const hitsBefore = tiered.memory.getStats().hits
      for (const key of keys) expect(await tiered.get(key)).toBe(key)
      expect(tiered.memory.getStats().hits - hitsBefore).toBe(keys.length)
      // A write by another store over the same connections is this process's write (NOLOOP), so a
      // separate connection writes: tracking, not our bus, must evict.
      const foreign = new Cluster([...cluster.startupNodes])
      foreign.on('error', () => {})
      try {
        for (const key of keys) await foreign.set(`${namespace}:${key}`, '\0json\0"changed"')
        await waitFor(
          async () =>
            (await Promise.all(keys.map((k) => tiered.get(k)))).every((v) => v === 'changed'),
          20_000,
          'foreign writes seen',
        )
      } finally {
        foreign.disconnect()
      }
      await other.clear()
    } finally {
      await tiered.close()
    }
  }, 60_000)
})
