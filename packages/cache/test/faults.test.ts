import diagnosticsChannel from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  getFreePort,
  startRedis,
  type ThrowawayRedis,
  waitFor,
} from '../../../tools/testing/servers.mjs'
import { CACHE_CHANNEL, type CacheEvent, cached, RedisCache } from '../src/index.js'
import { sleep, testNamespace } from './helpers.js'

// The bound every call keeps: its command timeout (250 ms by default) + 20 ms. A call is checked
// against a timer of this length started with it, not against the wall clock: on a loaded machine
// both fire late together, and Node runs the cache's own (earlier) timer and the promise reactions
// after it before the later one, so the check holds exactly when the call settles on its own timer.
const DEFAULT_TIMEOUT_MS = 250
const BOUND_MS = DEFAULT_TIMEOUT_MS + 20
// close() waits for the server at most its own closeTimeout.
const CLOSE_BOUND_MS = 1000
// How long a call answered without any I/O may take: less than any timer.
const NO_WAIT_MS = 1

async function timed<T>(
  run: () => Promise<T>,
  boundMs = BOUND_MS,
): Promise<{ value: T; ms: number; inBound: boolean }> {
  const start = performance.now()
  let timerFired = false
  const timer = setTimeout(() => {
    timerFired = true
  }, boundMs)
  try {
    const value = await run()
    return { value, ms: performance.now() - start, inBound: !timerFired }
  } finally {
    clearTimeout(timer)
  }
}

describe('RedisCache when Redis fails', () => {
  let server: ThrowawayRedis

  beforeAll(async () => {
    server = await startRedis()
  })

  afterAll(async () => {
    await server.stop()
  })

  it('answers misses and false within the bound when Redis is killed mid-workload, then recovers', async () => {
    const cache = new RedisCache({ url: server.url, namespace: testNamespace('fault-kill') })
    const events: CacheEvent[] = []
    const onEvent = (m: unknown) => {
      if ((m as CacheEvent).namespace === cache.namespace) events.push(m as CacheEvent)
    }
    diagnosticsChannel.subscribe(CACHE_CHANNEL, onEvent)
    try {
      expect(await cache.set('k', 'before', 60)).toBe(true)
      expect(await cache.get('k')).toBe('before')

      let stop = false
      let late = 0
      let thrown = 0
      const results: unknown[] = []
      const worker = async (id: number) => {
        let i = 0
        while (!stop) {
          const op = i++ % 2 === 0 ? () => cache.get('k') : () => cache.set(`w${id}`, i, 60)
          try {
            const { value, inBound } = await timed(op)
            if (!inBound) late++
            results.push(value)
          } catch {
            thrown++
          }
          await sleep(5)
        }
      }
      const workers = Array.from({ length: 10 }, (_, id) => worker(id))
      await sleep(150)
      await server.kill()
      await sleep(1500)

      // During the outage: reads are misses, writes are false, nothing throws or hangs.
      const down = await timed(
        async () => [await cache.get('k'), await cache.set('x', 1, 60)],
        2 * BOUND_MS,
      )
      expect(down.value).toEqual([undefined, false])
      expect(down.inBound).toBe(true)
      expect(await cache.exists('k')).toBe(false)
      expect(await cache.delete('k')).toBe(false)
      expect(await cache.getMany(['k', 'x'])).toEqual(new Map())
      expect(await cache.setMany({ a: 1 }, 60)).toBe(false)
      await expect(cache.clear()).rejects.toMatchObject({ code: 'CLEAR_INCOMPLETE', removed: 0 })

      // cached() still computes and returns.
      let computed = 0
      const square = cached(async (n: number) => ++computed * n * n, {
        cache,
        ttl: 60,
        keyPrefix: 'square',
      })
      expect(await square(3)).toBe(9)

      // The breaker is open: calls do not touch the dead server and return at once.
      expect(cache.getHealth().circuit).not.toBe('closed')
      const fast = await timed(() => cache.get('k'), NO_WAIT_MS)
      expect(fast.value).toBeUndefined()
      expect(fast.inBound).toBe(true)

      stop = true
      await Promise.all(workers)
      expect(thrown).toBe(0)
      expect(late).toBe(0)
      expect(results).toContain(undefined)
      expect(results).toContain(false)
      const health = cache.getHealth()
      expect(health.errors).toBeGreaterThan(0)
      expect(health.lastError).toBeInstanceOf(Error)
      const errors = events.filter((e) => e.op === 'error')
      expect(errors.length).toBeGreaterThan(0)
      expect(errors[0]).toEqual({
        op: 'error',
        key: expect.any(String),
        namespace: cache.namespace,
        durationMs: expect.any(Number),
        error: expect.any(Error),
      })

      // A failed read is published as the 'miss' getStats() counts (after an 'error' when the
      // server was tried; alone when the open circuit answered locally).
      events.length = 0
      const missesBefore = cache.getStats().misses
      expect(await cache.get('k')).toBeUndefined()
      expect(cache.getStats().misses).toBe(missesBefore + 1)
      expect(events.filter((e) => e.op !== 'error')).toEqual([
        { op: 'miss', key: 'k', namespace: cache.namespace, durationMs: expect.any(Number) },
      ])

      // Redis comes back (empty, as after a crash): the cache recovers by itself.
      await server.restart()
      await waitFor(async () => (await cache.set('k', 'after', 60)) === true, 8000, 'recovery')
      expect(await cache.get('k')).toBe('after')
      expect(cache.getHealth().circuit).toBe('closed')
    } finally {
      diagnosticsChannel.unsubscribe(CACHE_CHANNEL, onEvent)
      await cache.clear()
      await cache.close()
    }
  })

  it('bounds every call by the command timeout when Redis hangs, then recovers on resume', async () => {
    const cache = new RedisCache({
      url: server.url,
      namespace: testNamespace('fault-pause'),
      commandTimeout: 200,
    })
    const bound = 200 + 20
    try {
      expect(await cache.set('p', 'v', 60)).toBe(true)
      server.pause()
      try {
        const first = await timed(() => cache.get('p'), bound)
        expect(first.value).toBeUndefined()
        expect(first.ms).toBeGreaterThanOrEqual(150)
        expect(first.inBound).toBe(true)
        const write = await timed(() => cache.set('q', 'w', 60), bound)
        expect(write.value).toBe(false)
        expect(write.inBound).toBe(true)
        // 100 concurrent reads against the hung server all come back as misses within the bound.
        const burst = await timed(
          () => Promise.all(Array.from({ length: 100 }, (_, i) => cache.get(`b${i}`))),
          bound,
        )
        expect(burst.value.every((v) => v === undefined)).toBe(true)
        expect(burst.inBound).toBe(true)
        // Five failures opened the circuit: the next calls are answered without waiting.
        expect(cache.getHealth().circuit).toBe('open')
        const skipped = await timed(() => cache.get('p'), NO_WAIT_MS)
        expect(skipped.value).toBeUndefined()
        expect(skipped.inBound).toBe(true)
      } finally {
        server.resume()
      }
      await waitFor(async () => (await cache.get('p')) === 'v', 8000, 'recovery after resume')
      expect(cache.getHealth().circuit).toBe('closed')
      expect(cache.getStats().misses).toBeGreaterThan(100)
    } finally {
      await cache.clear()
      await cache.close()
    }
  })

  it('keeps the bound of a read that goes again as GET after the MGET of its tick', async () => {
    const client = new Redis(server.url, { maxRetriesPerRequest: 0 })
    const admin = new Redis(server.url)
    const cache = new RedisCache({
      client,
      namespace: testNamespace('fault-again'),
      commandTimeout: 200,
    })
    const bound = 200 + 20
    try {
      expect(await cache.set('a', 1, 60)).toBe(true)
      await admin.ping()
      // The MGET is answered 100 ms late, then the server stops answering: the GET that tells
      // the nil of `none` apart (a miss, or a key of another type) has only what is left of the
      // first deadline (a fresh one would end at 300 ms).
      const mget = client.mget.bind(client)
      client.mget = ((keys: string[]) =>
        sleep(100).then(() => mget(keys))) as unknown as typeof client.mget
      const getBuffer = client.getBuffer.bind(client)
      client.getBuffer = ((key: string) =>
        admin
          .call('CLIENT', 'PAUSE', '600')
          .then(() => getBuffer(key))) as unknown as typeof client.getBuffer
      const both = await timed(() => Promise.all([cache.get('a'), cache.get('none')]), bound)
      expect(both.value).toEqual([1, undefined])
      expect(both.inBound).toBe(true)
      expect(cache.getHealth().lastError?.message).toMatch(/timed out after 200 ms/)
    } finally {
      await sleep(700)
      await cache.clear()
      await cache.close()
      admin.disconnect()
      client.disconnect()
    }
  })

  it('answers misses quickly when no server was ever reachable, and close() does not hang', async () => {
    const port = await getFreePort()
    const cache = new RedisCache({ url: `redis://127.0.0.1:${port}`, namespace: testNamespace() })
    const first = await timed(() => cache.get('k'))
    expect(first.value).toBeUndefined()
    expect(first.inBound).toBe(true)
    expect(await cache.set('k', 1, 60)).toBe(false)
    let calls = 0
    const fn = cached(async () => ++calls, { cache, keyPrefix: 'offline' })
    expect(await fn()).toBe(1)
    // Nothing can be stored: once the failed write is over, the next call computes again.
    await waitFor(async () => (await fn()) === 2, 5000, 'a second computation')
    const closing = await timed(() => cache.close(), CLOSE_BOUND_MS)
    expect(closing.inBound).toBe(true)
  })
})
