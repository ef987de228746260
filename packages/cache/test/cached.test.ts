import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../../tools/testing/servers.mjs'
import { cached, cacheKey, MemoryCache, RedisCache, setCache } from '../src/index.js'
import { REDIS_URL, rawClient, STEADY, sleep, testNamespace } from './helpers.js'

describe('cached()', () => {
  let cache: RedisCache

  beforeEach(() => {
    cache = new RedisCache({ url: REDIS_URL, namespace: testNamespace('cached'), ...STEADY })
  })

  afterEach(async () => {
    await cache.clear()
    await cache.close()
  })

  it('shares one computation between 1,000 concurrent callers of a cold key', async () => {
    let calls = 0
    const slow = cached(
      async (id: number) => {
        calls++
        await sleep(50)
        return { id, at: calls }
      },
      { cache, ttl: 60, keyPrefix: 'slow' },
    )
    const results = await Promise.all(Array.from({ length: 1000 }, () => slow(7)))
    expect(calls).toBe(1)
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1)
    expect(results[0]).toEqual({ id: 7, at: 1 })
    // Later callers are served from Redis without computing.
    expect(await slow(7)).toEqual({ id: 7, at: 1 })
    expect(calls).toBe(1)
    expect(await cache.get(cacheKey('slow', 7))).toEqual({ id: 7, at: 1 })
  })

  it('builds stable keys from the arguments', async () => {
    const fn = cached(async (q: { b: number; a: string }, n: number) => q.a + n, {
      cache,
      keyPrefix: 'search',
    })
    expect(fn.key({ a: 'x', b: 1 }, 2)).toBe(fn.key({ b: 1, a: 'x' }, 2))
    expect(fn.key({ a: 'x', b: 1 }, 2)).toBe('bookgen:search:{"a"="x","b"=1}:2')
    expect(fn.key({ a: 'x', b: 1 }, 3)).not.toBe(fn.key({ a: 'x', b: 1 }, 2))
    const named = cached(async function validateSource(url: string) {
      return url.length
    })
    expect(named.key('https://example.org')).toBe('bookgen:validateSource:https://example.org')
    const long = fn.key({ a: 'y'.repeat(500), b: 1 }, 1)
    expect(long.startsWith('bookgen:search:#')).toBe(true)
    expect(long.length).toBeLessThan(80)
  })

  it('caches null results and does not cache errors or undefined', async () => {
    let calls = 0
    const lookup = cached(
      async (name: string) => {
        calls++
        if (name === 'boom') throw new Error('boom')
        if (name === 'nothing') return undefined
        return null
      },
      { cache, ttl: 60, keyPrefix: 'lookup' },
    )
    expect(await lookup('x')).toBeNull()
    expect(await lookup('x')).toBeNull()
    expect(calls).toBe(1)
    await expect(lookup('boom')).rejects.toThrow('boom')
    await expect(lookup('boom')).rejects.toThrow('boom')
    expect(calls).toBe(3)
    expect(await lookup('nothing')).toBeUndefined()
    expect(await lookup('nothing')).toBeUndefined()
    expect(calls).toBe(5)
  })

  it('uses the ttl, applies jitter within bounds and can invalidate', async () => {
    const fn = cached(async (n: number) => n + 1, { cache, ttl: 100, jitter: 0.5, keyPrefix: 'j' })
    const raw = rawClient()
    try {
      const ttls: number[] = []
      for (let i = 0; i < 20; i++) {
        await fn(i)
        // The result is stored after the caller got it: wait for the write to land.
        const full = `${cache.namespace}:${fn.key(i)}`
        await waitFor(async () => (await raw.pttl(full)) > 0, 5000, 'the stored result')
        ttls.push((await raw.pttl(full)) / 1000)
      }
      for (const t of ttls) {
        expect(t).toBeGreaterThanOrEqual(99)
        expect(t).toBeLessThanOrEqual(150)
      }
      // Jitter in milliseconds: not whole seconds.
      expect(new Set(ttls).size).toBeGreaterThan(10)
      expect(ttls.some((t) => !Number.isInteger(t))).toBe(true)
      expect(await fn.invalidate(3)).toBe(true)
      expect(await cache.exists(fn.key(3))).toBe(false)
    } finally {
      raw.disconnect()
    }
  })

  it('serves a stale value while one background refresh runs', async () => {
    let version = 0
    let running = 0
    let maxRunning = 0
    const fn = cached(
      async () => {
        running++
        maxRunning = Math.max(maxRunning, running)
        await sleep(100)
        running--
        return ++version
      },
      { cache, ttl: 1, staleWhileRevalidate: 30, keyPrefix: 'swr' },
    )
    expect(await fn()).toBe(1)
    await sleep(1100)
    // Stale: every caller gets version 1 at once, and exactly one refresh starts.
    const stale = await Promise.all(Array.from({ length: 20 }, () => fn()))
    expect(stale.every((v) => v === 1)).toBe(true)
    await waitFor(() => version === 2, 3000, 'the background refresh')
    await sleep(50)
    expect(version).toBe(2)
    expect(maxRunning).toBe(1)
    expect(await fn()).toBe(2)
  })

  it('uses getCache() when no cache is given', async () => {
    const memory = new MemoryCache()
    const previous = setCache(memory)
    try {
      const double = cached(async (n: number) => n * 2, { keyPrefix: 'double' })
      expect(await double(21)).toBe(42)
      expect(await memory.get(cacheKey('double', 21))).toBe(42)
    } finally {
      setCache(previous)
      await memory.close()
    }
  })

  it('stores results with the codec given in the options', async () => {
    const vectors = cached(async (n: number) => new Float32Array(n).fill(0.5), {
      cache,
      codec: 'float32',
      keyPrefix: 'vec',
    })
    const first = await vectors(4)
    expect(first).toEqual(new Float32Array([0.5, 0.5, 0.5, 0.5]))
    expect(await cache.get(vectors.key(4), { codec: 'float32' })).toEqual(first)
    expect(await vectors(4)).toEqual(first)
  })

  it('rejects (never throws synchronously) when the arguments cannot make a key', async () => {
    let calls = 0
    const fn = cached(async (_arg: unknown) => ++calls, { cache, keyPrefix: 'unkeyable' })
    const circular: Record<string, unknown> = {}
    circular.self = circular
    let pending: Promise<number> | undefined
    expect(() => {
      pending = fn(circular)
    }).not.toThrow()
    await expect(pending).rejects.toMatchObject({ code: 'INVALID_KEY', name: 'CacheError' })
    await expect(fn(() => 1)).rejects.toMatchObject({ code: 'INVALID_KEY' })
    const tooLong = cached(async (s: string) => s, { cache, key: (s) => s.repeat(2000) })
    await expect(tooLong('k')).rejects.toMatchObject({ code: 'KEY_TOO_LONG' })
    expect(calls).toBe(0)
  })

  it('rejects invalid options with INVALID_OPTION / INVALID_TTL', () => {
    const fn = async () => 1
    expect(() => cached(fn, { ttl: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_TTL' }))
    expect(() => cached(fn, { jitter: 2 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    )
    expect(() => cached(fn, { staleWhileRevalidate: 10 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    )
    expect(() => cached('nope' as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    )
  })
})
