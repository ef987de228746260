import { describe, expectTypeOf, it } from 'vitest'
import {
  type Cache,
  Cached,
  type CachedFunction,
  type CacheError,
  CacheErrorCode,
  type CacheEvent,
  type CacheEventOp,
  type CacheStats,
  cached,
  MemoryCache,
  type RedisCache,
  type TieredCache,
} from '../src/index.js'

describe('types', () => {
  it('every store is a Cache', () => {
    expectTypeOf<MemoryCache>().toMatchTypeOf<Cache>()
    expectTypeOf<RedisCache>().toMatchTypeOf<Cache>()
    expectTypeOf<TieredCache>().toMatchTypeOf<Cache>()
  })

  it('get is typed by the caller and may be undefined', () => {
    const cache = new MemoryCache()
    expectTypeOf(cache.get<{ a: number }>('k')).resolves.toEqualTypeOf<{ a: number } | undefined>()
    expectTypeOf(cache.getMany<number>(['k'])).resolves.toEqualTypeOf<Map<string, number>>()
    expectTypeOf(cache.getStats()).toEqualTypeOf<CacheStats>()
    expectTypeOf(cache.clear()).resolves.toBeNumber()
  })

  it('cached keeps the parameters and awaits the result', () => {
    const f = cached(async (url: string, n: number) => ({ url, n }))
    expectTypeOf(f).toMatchTypeOf<CachedFunction<[string, number], { url: string; n: number }>>()
    expectTypeOf(f).parameters.toEqualTypeOf<[string, number]>()
    expectTypeOf(f('a', 1)).resolves.toEqualTypeOf<{ url: string; n: number }>()
    // @ts-expect-error wrong argument type
    f(1, 1)
  })

  it('@Cached decorates async methods and keeps their signature', () => {
    class Validator {
      @Cached({ ttl: 60, cache: new MemoryCache() })
      async validate(url: string): Promise<{ valid: boolean }> {
        return { valid: url.length > 0 }
      }
    }
    expectTypeOf<Validator['validate']>().parameters.toEqualTypeOf<[string]>()
    expectTypeOf<Validator['validate']>().returns.resolves.toEqualTypeOf<{ valid: boolean }>()
    expectTypeOf(Cached).returns.toBeFunction()
    class Sync {
      // @ts-expect-error a cached method must be async: callers get a Promise
      @Cached({ ttl: 60 })
      compute(n: number): number {
        return n
      }
    }
    expectTypeOf<Sync>().toHaveProperty('compute')
  })

  it('the channel message is { op, key, namespace, durationMs } (+ error on errors)', () => {
    expectTypeOf<CacheEventOp>().toEqualTypeOf<'hit' | 'miss' | 'set' | 'delete' | 'error'>()
    expectTypeOf<CacheEvent>().toEqualTypeOf<{
      op: CacheEventOp
      key: string
      namespace: string
      durationMs: number
      error?: Error
    }>()
  })

  it('errors carry a code from CacheErrorCode', () => {
    expectTypeOf<CacheError['code']>().toEqualTypeOf<
      | 'INVALID_KEY'
      | 'KEY_TOO_LONG'
      | 'INVALID_TTL'
      | 'UNENCODABLE_VALUE'
      | 'INVALID_OPTION'
      | 'INVALID_ARGUMENT'
      | 'CLOSED'
      | 'CLEAR_INCOMPLETE'
    >()
    expectTypeOf(CacheErrorCode.INVALID_KEY).toEqualTypeOf<'INVALID_KEY'>()
  })

  it('batch calls take records, Maps and readonly key lists', () => {
    const cache: Cache = new MemoryCache()
    expectTypeOf(cache.setMany({ a: 1 }, 60)).resolves.toBeBoolean()
    expectTypeOf(cache.setMany(new Map([['a', 1]]))).resolves.toBeBoolean()
    const keys = ['a', 'b'] as const
    expectTypeOf(cache.getMany(keys)).resolves.toEqualTypeOf<Map<string, unknown>>()
    // @ts-expect-error keys must be a list, not a single key
    cache.getMany('a')
    // @ts-expect-error the TTL is a number of seconds
    cache.set('a', 1, '60')
  })
})
