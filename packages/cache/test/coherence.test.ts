// Two TieredCache instances in two processes and a foreign client: a change made in Redis by
// anyone evicts both instances' memory copies.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, waitFor } from '../../../tools/testing/servers.mjs'
import { RedisCache, TieredCache } from '../src/index.js'
import { REDIS_URL, rawClient, STEADY, sleep, testNamespace } from './helpers.js'

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsx = join(packageDir, '..', '..', 'node_modules', '.bin', 'tsx')
const entry = pathToFileURL(join(packageDir, 'src', 'index.ts')).href

/** What a reader process reports: the value it now reads for the key, and when (epoch ms). */
interface Seen {
  value: unknown
  at: number
}

interface Reader {
  child: ChildProcess
  seen: Seen[]
  stats: () => Promise<{ memoryHits: number }>
}

/** The reader: polls one key every millisecond and reports every change of what it reads. */
const readerScript = (namespace: string, key: string) => `
import { performance } from 'node:perf_hooks'
import * as lib from ${JSON.stringify(entry)}
const cache = new lib.TieredCache({ remote: { url: ${JSON.stringify(REDIS_URL)}, namespace: ${JSON.stringify(namespace)} } })
const now = () => performance.timeOrigin + performance.now()
while (!cache.coherent) await new Promise((r) => setTimeout(r, 10))
process.stdout.write(JSON.stringify({ ready: cache.coherent }) + '\\n')
let last = Symbol('none')
let stop = false
process.stdin.setEncoding('utf8')
process.stdin.on('data', (line) => {
  if (line.includes('stats')) process.stdout.write(JSON.stringify({ memoryHits: cache.memory.getStats().hits }) + '\\n')
  if (line.includes('stop')) stop = true
})
while (!stop) {
  const value = await cache.get(${JSON.stringify(key)})
  const text = JSON.stringify(value ?? null)
  if (text !== last) {
    last = text
    process.stdout.write(JSON.stringify({ value: value ?? null, at: now() }) + '\\n')
  }
  await new Promise((r) => setTimeout(r, 1))
}
await cache.close()
`

describe('TieredCache coherence across processes', () => {
  const folder = mkdtempSync(join(tmpdir(), 'bookgen-cache-coherence-'))
  const namespace = testNamespace('coherent')
  const key = 'shared'
  const readers: Reader[] = []
  let raw: Redis
  /** The stored form any client can write: the codec header, then JSON. */
  const tagged = (value: unknown) => `\0json\0${JSON.stringify(value)}`
  const full = `${namespace}:${key}`

  beforeAll(async () => {
    raw = rawClient()
    await raw.set(full, tagged(0), 'EX', 120)
    const file = join(folder, 'reader.mts')
    writeFileSync(file, readerScript(namespace, key))
    for (let i = 0; i < 2; i++) {
      const child = spawn(tsx, [file], { stdio: ['pipe', 'pipe', 'inherit'] })
      const seen: Seen[] = []
      const waiting: ((line: Record<string, unknown>) => void)[] = []
      let ready!: () => void
      const isReady = new Promise<void>((resolve) => {
        ready = resolve
      })
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const message = JSON.parse(line) as Record<string, unknown>
        if ('ready' in message) ready()
        else if ('memoryHits' in message) waiting.shift()?.(message)
        else seen.push(message as unknown as Seen)
      })
      readers.push({
        child,
        seen,
        stats: () =>
          new Promise((resolve) => {
            waiting.push(resolve as never)
            child.stdin!.write('stats\n')
          }),
      })
      await Promise.race([
        isReady,
        sleep(20_000).then(() => {
          throw new Error('reader did not start')
        }),
      ])
    }
  }, 60_000)

  afterAll(async () => {
    for (const reader of readers) {
      reader.child.stdin!.write('stop\n')
      reader.child.kill()
    }
    await raw.del(full)
    raw.disconnect()
    rmSync(folder, { recursive: true, force: true })
  })

  it('a foreign client’s writes and deletes reach both processes’ memory tiers', async () => {
    await waitFor(() => readers.every((r) => r.seen.at(-1)?.value === 0), 10_000, 'value 0')
    const windows: number[] = []
    const rounds = 30
    for (let round = 1; round <= rounds; round++) {
      const deleting = round % 10 === 0
      if (deleting) await raw.del(full)
      else await raw.set(full, tagged(round), 'EX', 120)
      const writtenAt = performance.timeOrigin + performance.now()
      const expected = deleting ? null : round
      // The invariant: every process reads the new state, however loaded the machine is.
      await waitFor(
        () => readers.every((r) => r.seen.at(-1)?.value === expected),
        10_000,
        `round ${round} in both readers`,
      )
      for (const reader of readers) {
        const first = reader.seen.find((s) => s.value === expected && s.at >= writtenAt - 50)
        windows.push(Math.max(0, (first?.at ?? writtenAt) - writtenAt))
      }
      if (deleting) await raw.set(full, tagged(round), 'EX', 120)
      await waitFor(
        () => readers.every((r) => r.seen.at(-1)?.value === round),
        10_000,
        `round ${round} rewritten`,
      )
      // Let the readers serve the new value from memory for a while.
      await sleep(20)
    }
    // The readers really did serve from memory between the writes.
    for (const reader of readers) expect((await reader.stats()).memoryHits).toBeGreaterThan(rounds)
    windows.sort((a, b) => a - b)
    const p99 = windows[Math.ceil(windows.length * 0.99) - 1]!
    console.log(
      `staleness window over ${windows.length} observations: p50 ${windows[windows.length >> 1]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${windows.at(-1)!.toFixed(1)} ms`,
    )
  }, 120_000)
})

describe('TieredCache coherence in one process', () => {
  it('with tracking: a RedisCache write elsewhere evicts the memory copy', async () => {
    const namespace = testNamespace('coherent-local')
    const writer = new RedisCache({ url: REDIS_URL, namespace, ...STEADY })
    const tiered = new TieredCache({ remote: { url: REDIS_URL, namespace, ...STEADY } })
    try {
      await waitFor(() => tiered.coherent, 10_000, 'coherent')
      await writer.set('k', 1, 60)
      expect(await tiered.get('k')).toBe(1)
      // The announcement of the write may still be on its way and evict the first copy.
      await waitFor(heldAfterGet(tiered, 'k', 1), 5000, 'a memory copy')
      await writer.set('k', 2, 60)
      await waitFor(async () => (await tiered.get('k')) === 2, 5000, 'the new value')
      await writer.delete('k')
      await waitFor(async () => (await tiered.get('k')) === undefined, 5000, 'the delete')
    } finally {
      await tiered.clear()
      await tiered.close()
      await writer.close()
    }
  })

  it('with tracking: after its data connection is killed and comes back, tracking is set up again (not the bus)', async () => {
    // A throwaway server: every normal connection on it is this test's, so it may kill them.
    const server = await startRedis()
    const namespace = testNamespace('coherent-reconnect')
    const admin = rawClient(server.url)
    const tiered = new TieredCache({ remote: { url: server.url, namespace, ...STEADY } })
    const tracking = async () =>
      ((await admin.client('LIST')) as string).split('\n').some((c) => /flags=\S*t/.test(c))
    let writer: RedisCache | undefined
    try {
      await waitFor(async () => tiered.coherent && (await tracking()), 10_000, 'coherent')
      // The data connection (type normal); the subscriber is a pubsub client and stays.
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
      await waitFor(async () => tiered.coherent && (await tracking()), 15_000, 'tracking again')
      writer = new RedisCache({ url: server.url, namespace, ...STEADY })
      await writer.set('k', 1, 60)
      expect(await tiered.get('k')).toBe(1)
      await waitFor(heldAfterGet(tiered, 'k', 1), 5000, 'a memory copy')
      await writer.set('k', 2, 60)
      await waitFor(async () => (await tiered.get('k')) === 2, 5000, 'the new value')
    } finally {
      await writer?.close()
      await tiered.close()
      admin.disconnect()
      await server.stop()
    }
  })

  it('with the bus: one TieredCache’s writes evict another’s memory copy', async () => {
    const namespace = testNamespace('coherent-bus')
    const a = new TieredCache({
      remote: { url: REDIS_URL, namespace, ...STEADY },
      invalidation: 'bus',
    })
    const b = new TieredCache({
      remote: { url: REDIS_URL, namespace, ...STEADY },
      invalidation: 'bus',
    })
    try {
      await waitFor(() => a.coherent && b.coherent, 10_000, 'coherent')
      await a.set('k', 1, 60)
      expect(await b.get('k')).toBe(1)
      await waitFor(heldAfterGet(b, 'k', 1), 5000, 'a memory copy')
      await a.set('k', 2, 60)
      await waitFor(async () => (await b.get('k')) === 2, 5000, 'the new value')
      expect(await a.get('k')).toBe(2)
      await a.delete('k')
      await waitFor(async () => (await b.get('k')) === undefined, 5000, 'the delete')
    } finally {
      await a.clear()
      await a.close()
      await b.close()
    }
  })
})

/** Reads `key` (expecting `value`) and says whether the read left a copy in memory. */
function heldAfterGet(cache: TieredCache, key: string, value: unknown) {
  return async () => {
    expect(await cache.get(key)).toBe(value)
    await sleep(5)
    return cache.memory.exists(key)
  }
}
