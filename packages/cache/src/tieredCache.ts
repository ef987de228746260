import { eventStart, kMuteEvents, publishTimedEvent } from './cacheChannel.js'
import { CacheError, CacheErrorCode, closedError } from './cacheError.js'
import { StatsCounter } from './cacheStats.js'
import { MemoryCache, type MemoryCacheOptions, memoryCacheDefaults } from './memoryCache.js'
import { RedisCache, type RedisCacheOptions } from './redisCache.js'
import type { Cache, CacheHealth, CacheStats, GetOptions, SetOptions } from './types.js'
import { assertKey, assertKeys, assertTtl, entryList } from './validate.js'

/** Options of `TieredCache`. */
export interface TieredCacheOptions {
  /**
   * The first tier: a `MemoryCache` or its options.
   * @default new MemoryCache({ namespace: `${remote.namespace}:memory` })
   */
  memory?: MemoryCache | MemoryCacheOptions
  /**
   * The second tier: any `Cache` (usually a `RedisCache`) or `RedisCacheOptions`.
   * @default new RedisCache() (configured from the environment)
   */
  remote?: Cache | RedisCacheOptions
  /**
   * Longest time a value stays in memory, in seconds (shorter TTLs given to `set` win). Bounds how
   * long this process may serve a value another process changed in Redis.
   * @default 60
   */
  memoryTtl?: number
}

/** Defaults of `TieredCacheOptions`. */
export const tieredCacheDefaults = { memoryTtl: 60 } as const

/**
 * Two tiers: an in-process `MemoryCache` in front of a shared cache (Redis). Keys are at most
 * 1,024 UTF-8 bytes (the memory tier's default `maxKeyLength`), whatever the remote accepts. Reads try memory
 * first, then Redis, and copy Redis hits into memory; writes go to both. There is no cross-process
 * invalidation: another process's write becomes visible here once the memory copy expires
 * (`memoryTtl`).
 */
export class TieredCache implements Cache {
  /** The namespace of the remote tier. */
  readonly namespace: string
  /** The in-process tier. */
  readonly memory: MemoryCache
  /** The shared tier. */
  readonly remote: Cache
  readonly #memoryTtl: number
  readonly #stats: StatsCounter
  /** Longest key of every operation, in UTF-8 bytes: the memory tier's default limit. */
  readonly #maxKeyLength = memoryCacheDefaults.maxKeyLength
  #closed = false
  #closing: Promise<void> | undefined

  constructor(options: TieredCacheOptions = {}) {
    const memoryTtl = options.memoryTtl ?? tieredCacheDefaults.memoryTtl
    assertTtl(memoryTtl, 'options.memoryTtl')
    if (memoryTtl === 0) {
      throw new CacheError(
        CacheErrorCode.INVALID_OPTION,
        'options.memoryTtl must be a positive integer, got 0',
      )
    }
    this.#memoryTtl = memoryTtl
    const ownRemote = !isCache(options.remote)
    this.remote = isCache(options.remote) ? options.remote : new RedisCache(options.remote)
    this.namespace = this.remote.namespace
    this.#stats = new StatsCounter(this.namespace)
    try {
      this.memory =
        options.memory instanceof MemoryCache
          ? options.memory
          : new MemoryCache({ namespace: `${this.namespace}:memory`, ...options.memory })
    } catch (error) {
      // Do not leave the connection just opened behind a constructor that throws.
      if (ownRemote) void this.remote.close()
      throw error
    }
    // One event per operation, from this cache, rather than one per tier.
    for (const tier of [this.memory, this.remote] as Partial<Mutable>[]) tier[kMuteEvents]?.()
  }

  /** Health of the remote tier when it reports one. */
  getHealth(): CacheHealth {
    const remote = this.remote as Partial<Pick<RedisCache, 'getHealth'>>
    return remote.getHealth?.() ?? { errors: 0, circuit: 'closed', lastError: undefined }
  }

  async get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(true)
    const local = this.memory.getSync<T>(key)
    if (local !== undefined) {
      this.#stats.hit(key, start)
      return local
    }
    const value = await this.remote.get<T>(key, options)
    if (value === undefined) {
      this.#stats.miss(key, start)
      return undefined
    }
    this.memory.backfill(key, value, this.#memoryTtl, estimateSize(value))
    this.#stats.hit(key, start)
    return value
  }

  async set(
    key: string,
    value: unknown,
    ttlSeconds?: number,
    options?: SetOptions,
  ): Promise<boolean> {
    // Same key limit as get(), so nothing is written that could not be read back.
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(true)
    // The remote validates (key, TTL, codec) before anything is written anywhere.
    const written = await this.remote.set(key, value, ttlSeconds, options)
    if (start >= 0 && written) publishTimedEvent('set', key, this.namespace, start)
    this.#hold(key, value, ttlSeconds)
    return written
  }

  async delete(key: string): Promise<boolean> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(true)
    const [local, remote] = await Promise.all([this.memory.delete(key), this.remote.delete(key)])
    if (start >= 0) publishTimedEvent('delete', key, this.namespace, start)
    return local || remote
  }

  async exists(key: string): Promise<boolean> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    return (await this.memory.exists(key)) || (await this.remote.exists(key))
  }

  async clear(): Promise<number> {
    if (this.#closed) throw closedError()
    const [, removed] = await Promise.all([this.memory.clear(), this.remote.clear()])
    return removed
  }

  async getMany<T = unknown>(
    keys: readonly string[],
    options?: GetOptions,
  ): Promise<Map<string, T>> {
    assertKeys(keys, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(true)
    const found = await this.memory.getMany<T>(keys)
    const missing = keys.filter((k) => !found.has(k))
    if (missing.length > 0) {
      const fetched = await this.remote.getMany<T>(missing, options)
      for (const [k, v] of fetched) {
        this.memory.backfill(k, v, this.#memoryTtl, estimateSize(v))
        found.set(k, v)
      }
    }
    const out = new Map<string, T>()
    for (const key of keys) {
      const value = found.get(key)
      if (value === undefined) {
        this.#stats.miss(key, start)
      } else {
        this.#stats.hit(key, start)
        out.set(key, value)
      }
    }
    return out
  }

  async setMany(
    entries: Readonly<Record<string, unknown>> | ReadonlyMap<string, unknown>,
    ttlSeconds?: number,
    options?: SetOptions,
  ): Promise<boolean> {
    for (const [key] of entryList(entries)) assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(true)
    const written = await this.remote.setMany(entries, ttlSeconds, options)
    for (const [k, v] of entryList(entries)) {
      this.#hold(k, v, ttlSeconds)
      if (start >= 0 && written) publishTimedEvent('set', k, this.namespace, start)
    }
    return written
  }

  getStats(): CacheStats {
    return this.#stats.snapshot()
  }

  resetStats(): void {
    this.#stats.reset()
    this.memory.resetStats()
    this.remote.resetStats()
  }

  /** Closes both tiers. Idempotent: every call resolves once both are closed. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true
      this.#closing = Promise.all([this.memory.close(), this.remote.close()]).then(() => {})
    }
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** Copies a written value into memory for its TTL, at most `memoryTtl` (0 / none: `memoryTtl`). */
  #hold(key: string, value: unknown, ttlSeconds: number | undefined): void {
    const ttl = ttlSeconds === undefined || ttlSeconds === 0 ? this.#memoryTtl : ttlSeconds
    this.memory.backfill(key, value, Math.min(ttl, this.#memoryTtl), estimateSize(value))
  }
}

type Mutable = { [kMuteEvents](): void }

function isCache(value: unknown): value is Cache {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Cache).get === 'function' &&
    typeof (value as Cache).set === 'function'
  )
}

/** Rough in-memory size of a decoded value, in bytes (for the memory tier's byte bound). */
export function estimateSize(value: unknown, depth = 0): number {
  switch (typeof value) {
    case 'string':
      return value.length * 2
    case 'number':
    case 'bigint':
      return 8
    case 'boolean':
      return 4
    case 'object': {
      if (value === null) return 4
      if (ArrayBuffer.isView(value)) return value.byteLength
      if (depth > 8) return 64
      let size = 16
      if (Array.isArray(value)) {
        for (const item of value) size += estimateSize(item, depth + 1)
      } else {
        for (const [k, v] of Object.entries(value))
          size += k.length * 2 + estimateSize(v, depth + 1)
      }
      return size
    }
    default:
      return 8
  }
}
