import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type ThrowawayRedis } from '../../../tools/testing/servers.mjs'
import { MemoryCache, RedisCache, TieredCache } from '../src/index.js'
import { REDIS_URL, testNamespace } from './helpers.js'

describe('TieredCache', () => {
  it('backfills memory from Redis hits and reads memory first', async () => {
    const namespace = testNamespace('tiered')
    const writer = new RedisCache({ url: REDIS_URL, namespace })
    const tiered = new TieredCache({ remote: { url: REDIS_URL, namespace }, memoryTtl: 30 })
    try {
      await writer.set('shared', { v: 1 }, 60)
      expect(await tiered.memory.exists('shared')).toBe(false)
      expect(await tiered.get('shared')).toEqual({ v: 1 })
      expect(await tiered.memory.exists('shared')).toBe(true)
      // Served from memory now, even after another process changed Redis (until memoryTtl).
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

  it('validates memoryTtl, and close() twice at once resolves once both tiers are closed', async () => {
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
    const remote = new RedisCache({ url: REDIS_URL, namespace: testNamespace('tiered-close') })
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

    it('keeps serving memory hits, misses the rest, and writes to memory only', async () => {
      const tiered = new TieredCache({
        remote: new RedisCache({ url: server.url, namespace: testNamespace('tiered-down') }),
        memory: new MemoryCache({ maxEntries: 100 }),
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
        await tiered.close()
      }
    })
  })
})
