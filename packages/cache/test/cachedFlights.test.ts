import diagnosticsChannel from 'node:diagnostics_channel'
import { describe, expect, it } from 'vitest'
import {
  CACHE_CHANNEL,
  type Cache,
  type CacheEvent,
  cached,
  MemoryCache,
  RedisCache,
  TieredCache,
} from '../src/index.js'
import { REDIS_URL, STEADY, sleep, testNamespace } from './helpers.js'

/** A promise with its resolve function, to hold a computation or a write at a chosen point. */
function gate<T = void>() {
  let open!: (value: T) => void
  const promise = new Promise<T>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

describe('cached() computations', () => {
  it('invalidate() during a computation: its result is not stored and later callers do not join it', async () => {
    const cache = new MemoryCache()
    let calls = 0
    const held = gate()
    const fn = cached(
      async () => {
        const n = ++calls
        if (n === 1) await held.promise
        return `v${n}`
      },
      { cache, keyPrefix: 'inv', ttl: 60 },
    )
    try {
      const first = fn()
      await sleep(5)
      await fn.invalidate()
      const second = fn() // does not join the invalidated computation
      held.open()
      expect(await first).toBe('v1')
      expect(await second).toBe('v2')
      expect(calls).toBe(2)
      expect(await cache.get(fn.key())).toBe('v2')
      expect(await fn()).toBe('v2')
    } finally {
      await cache.close()
    }
  })

  it('returns to the caller without waiting for the result to be stored', async () => {
    const inner = new MemoryCache()
    const write = gate<boolean>()
    const store: Cache = Object.assign(Object.create(null), {
      namespace: 'slow-writes',
      get: (k: string) => inner.get(k),
      set: async (...args: Parameters<Cache['set']>) => {
        await write.promise
        return inner.set(...args)
      },
      delete: (k: string) => inner.delete(k),
    }) as Cache
    let calls = 0
    const fn = cached(async () => ++calls, { cache: store, keyPrefix: 'budget', ttl: 60 })
    try {
      expect(await fn()).toBe(1) // resolved while the write is still held
      // A caller during the write joins the finished computation instead of recomputing.
      expect(await fn()).toBe(1)
      expect(calls).toBe(1)
      write.open(true)
      await sleep(5)
      expect(await inner.get(fn.key())).toBe(1)
    } finally {
      write.open(true)
      await inner.close()
    }
  })

  it('returns a result the codec cannot encode, and counts the error', async () => {
    const cache = new RedisCache({
      url: REDIS_URL,
      namespace: testNamespace('unencodable'),
      ...STEADY,
    })
    const events: CacheEvent[] = []
    const listener = (m: unknown) => {
      if ((m as CacheEvent).namespace === cache.namespace) events.push(m as CacheEvent)
    }
    diagnosticsChannel.subscribe(CACHE_CHANNEL, listener)
    let calls = 0
    const fn = cached(async () => ({ big: 10n * BigInt(++calls) }), {
      cache,
      keyPrefix: 'big',
      ttl: 60,
    })
    try {
      expect(await fn()).toEqual({ big: 10n })
      await sleep(20)
      expect(cache.getHealth().errors).toBe(1)
      expect(cache.getHealth().lastError).toMatchObject({ code: 'UNENCODABLE_VALUE' })
      expect(events.filter((e) => e.op === 'error')).toHaveLength(1)
      expect(await cache.exists(fn.key())).toBe(false)
    } finally {
      diagnosticsChannel.unsubscribe(CACHE_CHANNEL, listener)
      await cache.close()
    }
  })

  it('stale-while-revalidate retries a failing source with exponential backoff', async () => {
    const cache = new MemoryCache()
    let calls = 0
    let failing = false
    const fn = cached(
      async () => {
        calls++
        if (failing) throw new Error('source down')
        return calls
      },
      { cache, keyPrefix: 'backoff', ttl: 1, staleWhileRevalidate: 60 },
    )
    try {
      expect(await fn()).toBe(1)
      await sleep(1100)
      failing = true
      const start = Date.now()
      const served: number[] = []
      for (let i = 0; i < 60; i++) {
        served.push(await fn())
        await sleep(10)
      }
      const elapsed = Date.now() - start
      expect(served.every((v) => v === 1)).toBe(true)
      // Attempts after the first wait 1 s, 2 s, 4 s…: at most 1 + log2(elapsed / 1 s) + 1 of them.
      const bound = 2 + Math.max(0, Math.floor(Math.log2(elapsed / 1000)))
      expect(calls - 1).toBeGreaterThanOrEqual(1)
      expect(calls - 1).toBeLessThanOrEqual(bound)
    } finally {
      await cache.close()
    }
  })

  it('gracePeriod: serves the last good result when the source fails after expiry', async () => {
    const cache = new MemoryCache()
    let calls = 0
    let failing = false
    const fn = cached(
      async () => {
        calls++
        if (failing) throw new Error('source down')
        return `good${calls}`
      },
      { cache, keyPrefix: 'grace', ttl: 1, gracePeriod: 60 },
    )
    try {
      expect(await fn()).toBe('good1')
      await sleep(1100)
      failing = true
      expect(await fn()).toBe('good1') // computed in the foreground, failed: the last good value
      expect(calls).toBe(2)
      expect(await fn()).toBe('good1') // within the backoff: served without calling the source
      expect(calls).toBe(2)
      // A plain cache read of the key still finds the entry (kept for ttl + gracePeriod).
      expect(await cache.exists(fn.key())).toBe(true)
    } finally {
      await cache.close()
    }
  })

  it('without gracePeriod a failure after expiry rejects', async () => {
    const cache = new MemoryCache()
    let failing = false
    const fn = cached(
      async () => {
        if (failing) throw new Error('source down')
        return 'ok'
      },
      { cache, keyPrefix: 'nograce', ttl: 1 },
    )
    try {
      expect(await fn()).toBe('ok')
      await sleep(1100)
      failing = true
      await expect(fn()).rejects.toThrow('source down')
    } finally {
      await cache.close()
    }
  })

  it('a plain read of a stale-while-revalidate key gives the value, never the wrapper', async () => {
    const namespace = testNamespace('swr-plain')
    const stores: Cache[] = [
      new MemoryCache(),
      new RedisCache({ url: REDIS_URL, namespace, ...STEADY }),
      new TieredCache({ remote: { url: REDIS_URL, namespace: `${namespace}-t`, ...STEADY } }),
    ]
    try {
      for (const cache of stores) {
        const fn = cached(async (n: number) => ({ n }), {
          cache,
          keyPrefix: 'swrplain',
          ttl: 60,
          staleWhileRevalidate: 60,
          gracePeriod: 60,
        })
        expect(await fn(1)).toEqual({ n: 1 })
        await sleep(20)
        expect(await cache.get(fn.key(1)), cache.constructor.name).toEqual({ n: 1 })
        expect(await cache.getMany([fn.key(1)])).toEqual(new Map([[fn.key(1), { n: 1 }]]))
        // Twice through a TieredCache: once from Redis, once from its memory copy.
        expect(await cache.get(fn.key(1))).toEqual({ n: 1 })
        expect(await fn(1)).toEqual({ n: 1 })
      }
    } finally {
      for (const cache of stores) {
        await cache.clear()
        await cache.close()
      }
    }
  })
})
