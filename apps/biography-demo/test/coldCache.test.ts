import { CacheError, MemoryCache, RedisCache } from '@bookgen/cache'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type ThrowawayRedis } from '../../../tools/testing/servers.mjs'
import { emptyForColdRun } from '../src/coldCache.js'

// A cold run must start from an empty cache. A Redis that stops answering for a while (SIGSTOP:
// connections stay open, commands miss their deadline) makes clear() come back incomplete; the
// demo tries again, and gives up with the cache's own coded error when the server stays away.
describe('emptying the cache before a cold run', () => {
  let server: ThrowawayRedis
  beforeAll(async () => {
    server = await startRedis()
  })
  afterAll(async () => {
    await server.stop()
  })

  const fill = async (cache: RedisCache, n: number) => {
    expect(
      await cache.setMany(
        Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])),
        60,
      ),
    ).toBe(true)
  }

  it('tries an incomplete clear again and removes every key once the server answers', async () => {
    const cache = new RedisCache({ url: server.url, namespace: 'cold-retry' })
    try {
      await fill(cache, 40)
      server.pause()
      const retries: string[] = []
      const removed = await emptyForColdRun(cache, {
        attempts: 20,
        backoffMs: 10,
        onRetry: (error, attempt) => {
          retries.push(error.code)
          // The server comes back after the first incomplete try, whenever that is.
          if (attempt === 1) server.resume()
        },
      })
      expect(retries.length).toBeGreaterThanOrEqual(1)
      expect(new Set(retries)).toEqual(new Set(['CLEAR_INCOMPLETE']))
      expect(removed).toBe(40)
      expect((await cache.getMany(['k0', 'k39'])).size).toBe(0)
    } finally {
      server.resume()
      await cache.close()
    }
  })

  it('gives up after its attempts with the CLEAR_INCOMPLETE error, the server still away', async () => {
    const cache = new RedisCache({ url: server.url, namespace: 'cold-give-up' })
    try {
      await fill(cache, 5)
      server.pause()
      let retries = 0
      const error = await emptyForColdRun(cache, {
        attempts: 3,
        backoffMs: 0,
        onRetry: () => retries++,
      }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(CacheError)
      expect(error).toMatchObject({ code: 'CLEAR_INCOMPLETE' })
      expect(retries).toBe(2)
    } finally {
      server.resume()
      await cache.clear()
      await cache.close()
    }
  })

  it('does not retry other errors, and rejects bad options', async () => {
    const memory = new MemoryCache({ namespace: 'cold-memory' })
    await memory.set('a', 1)
    expect(await emptyForColdRun(memory)).toBe(1)
    await memory.close()
    // A closed cache: not an incomplete clear, thrown at once.
    let retries = 0
    await expect(emptyForColdRun(memory, { onRetry: () => retries++ })).rejects.toBeInstanceOf(
      Error,
    )
    expect(retries).toBe(0)
    await expect(emptyForColdRun(memory, { attempts: 0 })).rejects.toThrow(
      /options\.attempts.*got 0/,
    )
    await expect(emptyForColdRun(memory, { backoffMs: -1 })).rejects.toThrow(
      /options\.backoffMs.*got -1/,
    )
  })
})
