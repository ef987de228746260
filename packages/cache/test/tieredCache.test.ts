import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type ThrowawayRedis, waitFor } from '../../../tools/testing/servers.mjs'
import { type Cache, MemoryCache, RedisCache, TieredCache } from '../src/index.js'
import { REDIS_URL, rawClient, STEADY, sleep, testNamespace } from './helpers.js'

/** A real RedisCache whose reads can be held back, to run a delete while a read is in flight. */
function heldReads(inner: RedisCache): {
  cache: Cache
  release: () => void
  started: Promise<void>
} {
  let release!: () => void
  let started!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const startedPromise = new Promise<void>((resolve) => {
    started = resolve
  })
  const cache: Cache = {
    namespace: inner.namespace,
    get: async (key, options) => {
      const value = await inner.get(key, options)
      started()
      await gate
      return value as never
    },
    set: (...args) => inner.set(...args),
    delete: (key) => inner.delete(key),
    exists: (key) => inner.exists(key),
    clear: () => inner.clear(),
    getMany: (keys, options) => inner.getMany(keys, options),
    setMany: (...args) => inner.setMany(...args),
    getStats: () => inner.getStats(),
    resetStats: () => inner.resetStats(),
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  }
  return { cache, release, started: startedPromise }
}

describe('TieredCache', () => {
  it('backfills memory from Redis hits and reads memory first', async () => {
    const namespace = testNamespace('tiered')
    const writer = new RedisCache({ url: REDIS_URL, namespace, ...STEADY })
    const tiered = new TieredCache({
      remote: { url: REDIS_URL, namespace, ...STEADY },
      memoryTtl: 30,
      invalidation: false,
    })
    try {
      await writer.set('shared', { v: 1 }, 60)
      expect(await tiered.memory.exists('shared')).toBe(false)
      expect(await tiered.get('shared')).toEqual({ v: 1 })
      expect(await tiered.memory.exists('shared')).toBe(true)
      // Without invalidation: served from memory, even after another process changed Redis.
      await writer.set('shared', { v: 2 }, 60)
      expect(await tiered.get('shared')).toEqual({ v: 1 })
      // getMany: memory first, the rest in one MGET, backfilled too.
      await writer.setMany({ m1: 'a', m2: 'b' }, 60)
      const found = await tiered.getMany(['shared', 'm1', 'm2', 'none'])
      expect(found).toEqual(
        new Map<string, unknown>([
          ['shared', { v: 1 }],
          ['m1', 'a'],
          ['m2', 'b'],
        ]),
      )
      expect(await tiered.memory.exists('m2')).toBe(true)
      expect(tiered.getStats()).toEqual({ hits: 5, misses: 1, totalRequests: 6, hitRatio: 5 / 6 })
    } finally {
      await tiered.clear()
      await tiered.close()
      await writer.close()
    }
  })

  it('never keeps a memory copy longer than the TTL left in Redis', async () => {
    const namespace = testNamespace('tiered-ttl')
    const writer = new RedisCache({ url: REDIS_URL, namespace, ...STEADY })
    const tiered = new TieredCache({
      remote: { url: REDIS_URL, namespace, defaultTtl: 1 },
      memoryTtl: 60,
      invalidation: false,
    })
    try {
      await writer.set('short', 'v', 1)
      expect(await tiered.get('short')).toBe('v')
      expect(await tiered.memory.exists('short')).toBe(true)
      // Written without a TTL: the remote's defaultTtl (1 s) bounds the memory copy too.
      expect(await tiered.set('default', 'd')).toBe(true)
      expect(await tiered.memory.exists('default')).toBe(true)
      await sleep(1150)
      expect(await tiered.get('short')).toBeUndefined()
      expect(await tiered.get('default')).toBeUndefined()
    } finally {
      await tiered.close()
      await writer.close()
    }
  })

  it('a read in flight while delete runs does not put the old value back into memory', async () => {
    const namespace = testNamespace('tiered-race')
    const inner = new RedisCache({ url: REDIS_URL, namespace, ...STEADY })
    const held = heldReads(inner)
    const tiered = new TieredCache({ remote: held.cache, invalidation: false })
    try {
      await inner.set('k', 'old', 60)
      const reading = tiered.get('k')
      await held.started
      expect(await tiered.delete('k')).toBe(true)
      held.release()
      expect(await reading).toBe('old') // the caller asked before the delete
      expect(await tiered.memory.exists('k')).toBe(false)
      expect(await tiered.get('k')).toBeUndefined()
    } finally {
      held.release()
      await tiered.close()
    }
  })

  it('validates memoryTtl, and close() twice at once resolves once both tiers are closed', async () => {
    expect(
      () =>
        new TieredCache({ remote: new MemoryCache({ namespace: 'x' }), invalidation: 'tracking' }),
    ).toThrow(
      expect.objectContaining({
        message: expect.stringContaining('options.invalidation needs a RedisCache'),
      }),
    )
    expect(
      () =>
        new TieredCache({
          remote: new MemoryCache({ namespace: 'x' }),
          invalidation: 'yes' as never,
        }),
    ).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringContaining('got "yes"'),
      }),
    )
    for (const memoryTtl of [0, -1, 1.5]) {
      expect(
        () => new TieredCache({ memoryTtl, remote: new MemoryCache({ namespace: 'unused' }) }),
      ).toThrow(
        expect.objectContaining({
          name: 'CacheError',
          message: expect.stringContaining(`options.memoryTtl must be`),
        }),
      )
    }
    const remote = new RedisCache({
      url: REDIS_URL,
      namespace: testNamespace('tiered-close'),
      ...STEADY,
    })
    const tiered = new TieredCache({ remote })
    expect(await tiered.set('c', 1, 60)).toBe(true)
    await tiered.delete('c')
    const first = tiered.close()
    await tiered.close()
    expect(remote.client.status).toBe('end')
    await first
    await expect(tiered.get('c')).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('rejects keys over 1,024 bytes in every operation, even when the remote takes longer ones', async () => {
    const namespace = testNamespace('tiered-keys')
    const tiered = new TieredCache({
      remote: new RedisCache({ url: REDIS_URL, namespace, maxKeyLength: 4096 }),
    })
    const key = 'k'.repeat(1025)
    try {
      for (const run of [
        () => tiered.set(key, 1, 60),
        () => tiered.setMany({ ok: 1, [key]: 2 }, 60),
        () => tiered.get(key),
        () => tiered.getMany([key]),
        () => tiered.delete(key),
        () => tiered.exists(key),
      ]) {
        await expect(run()).rejects.toMatchObject({ code: 'KEY_TOO_LONG', name: 'CacheError' })
      }
      expect(await tiered.remote.exists(key)).toBe(false)
      expect(await tiered.remote.exists('ok')).toBe(false)
      expect(await tiered.set('k'.repeat(1024), 1, 60)).toBe(true)
      expect(await tiered.get('k'.repeat(1024))).toBe(1)
    } finally {
      await tiered.clear()
      await tiered.close()
    }
  })

  describe('with Redis down', () => {
    let server: ThrowawayRedis
    beforeAll(async () => {
      server = await startRedis()
    })
    afterAll(async () => {
      await server.stop()
    })

    it('without invalidation: keeps serving memory hits, misses the rest, writes to memory only', async () => {
      const tiered = new TieredCache({
        remote: new RedisCache({ url: server.url, namespace: testNamespace('tiered-down') }),
        memory: new MemoryCache({ maxEntries: 100 }),
        invalidation: false,
      })
      try {
        await tiered.set('warm', 'yes', 60)
        await server.kill()
        expect(await tiered.get('warm')).toBe('yes')
        expect(await tiered.get('cold')).toBeUndefined()
        expect(await tiered.set('new', 1, 60)).toBe(false)
        expect(await tiered.get('new')).toBe(1)
        expect(tiered.getHealth().errors).toBeGreaterThan(0)
      } finally {
        await server.restart()
        await tiered.close()
      }
    })

    it('with invalidation: empties memory when Redis goes away, and is coherent again when it is back', async () => {
      const namespace = testNamespace('tiered-drop')
      const tiered = new TieredCache({ remote: { url: server.url, namespace } })
      const raw = rawClient(server.url)
      raw.on('error', () => {})
      try {
        await waitFor(() => tiered.coherent, 10_000, 'coherent')
        await tiered.set('warm', 'yes', 60)
        expect(await tiered.memory.exists('warm')).toBe(true)
        await server.kill()
        // Nothing may be served that another process could have changed meanwhile.
        await waitFor(() => !tiered.coherent, 5000, 'incoherent')
        expect(await tiered.memory.exists('warm')).toBe(false)
        expect(await tiered.get('warm')).toBeUndefined()
        expect(await tiered.set('new', 1, 60)).toBe(false)
        expect(await tiered.get('new')).toBeUndefined()
        await server.restart()
        await waitFor(() => tiered.coherent, 15_000, 'coherent again')
        expect(await tiered.set('k', 'v1', 60)).toBe(true)
        await waitFor(async () => (await tiered.get('k')) === 'v1', 5000, 'k')
        // Tracking was set up again on the new connection: a foreign write evicts the copy.
        await raw.set(`${namespace}:k`, '\0json\0"v2"', 'EX', 60)
        await waitFor(async () => (await tiered.get('k')) === 'v2', 5000, 'the foreign write')
      } finally {
        raw.disconnect()
        await tiered.close()
      }
    })
  })
})
