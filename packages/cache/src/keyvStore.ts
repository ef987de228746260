import { CacheError, CacheErrorCode } from './cacheError.js'
import { kSetMs, type SetMs } from './storeProtocol.js'
import type { Cache } from './types.js'
import { describe } from './validate.js'

/** What Keyv reads from `store.opts` (a `dialect` it knows turns `keyv.iterator()` on). */
export interface KeyvStoreOpts {
  /** Always `'redis'`: tells Keyv the store can iterate its keys. */
  dialect: 'redis'
  /** `bookgen-cache://<namespace of the cache>`. */
  url: string
}

/**
 * A Keyv storage adapter over any `@bookgen/cache` store: `new Keyv({ store: new KeyvStore(cache) })`,
 * and through Keyv, cache-manager. Keyv and cache-manager users get this package's fault handling
 * (bounded calls, misses instead of errors, circuit breaker, coherent memory tier) under the API
 * they know. Keyv's namespace becomes a key prefix inside the cache's namespace; `clear()` removes
 * only the keys of Keyv's namespace (all of the cache's namespace when Keyv has none).
 */
export class KeyvStore {
  /** The store values are kept in. */
  readonly cache: Cache
  /** Read by Keyv. */
  readonly opts: KeyvStoreOpts
  /** Set by Keyv to its namespace (`'keyv'` by default). */
  namespace: string | undefined

  constructor(cache: Cache) {
    if (
      typeof cache !== 'object' ||
      cache === null ||
      typeof cache.get !== 'function' ||
      typeof cache.set !== 'function'
    ) {
      throw new CacheError(
        CacheErrorCode.INVALID_ARGUMENT,
        `cache must be a @bookgen/cache store (MemoryCache, RedisCache, TieredCache…), got ${describe(cache)}`,
      )
    }
    this.cache = cache
    this.opts = { dialect: 'redis', url: `bookgen-cache://${cache.namespace}` }
  }

  /** The stored value, or undefined. */
  get<Value>(key: string): Promise<Value | undefined> {
    return this.cache.get<Value>(key)
  }

  /** The stored values of `keys`, in order (undefined where missing): one round trip. */
  async getMany<Value>(keys: string[]): Promise<(Value | undefined)[]> {
    const found = await this.cache.getMany<Value>(keys)
    return keys.map((k) => found.get(k))
  }

  /** Stores a value for `ttl` milliseconds (none, or 0: no expiry). */
  set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    if (ttl === undefined || ttl === 0) return this.cache.set(key, value, 0)
    const setMs = (this.cache as Partial<Record<typeof kSetMs, SetMs>>)[kSetMs]
    const ms = Math.max(1, Math.ceil(ttl))
    return setMs !== undefined
      ? setMs.call(this.cache, key, value, ms)
      : this.cache.set(key, value, Math.ceil(ms / 1000))
  }

  /** Removes a key; true when it existed. */
  delete(key: string): Promise<boolean> {
    return this.cache.delete(key)
  }

  /** Removes keys; true when every one existed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const removed = await Promise.all(keys.map((k) => this.cache.delete(k)))
    return removed.every(Boolean)
  }

  /** True when the key holds a value. */
  has(key: string): Promise<boolean> {
    return this.cache.exists(key)
  }

  /** Removes the keys of Keyv's namespace (the whole cache namespace when there is none). */
  async clear(): Promise<void> {
    if (this.namespace === undefined || this.namespace === '') {
      await this.cache.clear()
      return
    }
    const prefix = `${this.namespace}:`
    const doomed: string[] = []
    for await (const key of this.#keys()) if (key.startsWith(prefix)) doomed.push(key)
    await Promise.all(doomed.map((k) => this.cache.delete(k)))
  }

  /** `[key, value]` of every entry of `namespace` (every entry when none is given). */
  async *iterator<Value>(namespace?: string): AsyncGenerator<[string, Value], void> {
    const prefix = namespace ? `${namespace}:` : ''
    for await (const key of this.#keys()) {
      if (!key.startsWith(prefix)) continue
      const value = await this.cache.get<Value>(key)
      if (value !== undefined) yield [key, value]
    }
  }

  /** Closes the cache. */
  async disconnect(): Promise<void> {
    await this.cache.close()
  }

  /**
   * Keyv subscribes to `error`: accepted and never called, since the cache's faults are misses
   * (counted in its `getHealth()`), not events.
   */
  on(_event: string, _listener: (...args: unknown[]) => void): this {
    return this
  }

  #keys(): AsyncIterableIterator<string> {
    if (typeof this.cache.keys !== 'function') {
      throw new CacheError(
        CacheErrorCode.INVALID_ARGUMENT,
        `cache has no keys() method, so it cannot be iterated or cleared by namespace, got ${describe(this.cache)}`,
      )
    }
    return this.cache.keys()
  }
}
