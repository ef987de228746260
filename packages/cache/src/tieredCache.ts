import { eventStart, kMuteEvents, publishTimedEvent } from './cacheChannel.js'
import { CacheError, CacheErrorCode, closedError } from './cacheError.js'
import { StatsCounter } from './cacheStats.js'
import { InvalidationListener, type InvalidationMode } from './invalidationListener.js'
import { MemoryCache, type MemoryCacheOptions, memoryCacheDefaults } from './memoryCache.js'
import { RedisCache, type RedisCacheOptions } from './redisCache.js'
import {
  kRawRead,
  kReadTimed,
  kReportError,
  kSetMs,
  readValue,
  type SetMs,
} from './storeProtocol.js'
import type { Cache, CacheHealth, CacheStats, GetOptions, SetOptions } from './types.js'
import { assertKey, assertKeys, assertTtl, describe, entryList } from './validate.js'

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
   * Longest time a value stays in memory, in seconds; a memory copy never outlives the value's
   * remaining TTL in Redis either.
   * @default 60
   */
  memoryTtl?: number
  /**
   * How memory copies learn that a key changed elsewhere (needs a `RedisCache` remote):
   * `'tracking'` uses Redis server-assisted client-side caching, so a write or delete by ANY
   * client evicts the copies; `'bus'` announces this cache's own writes on a pub/sub channel of
   * the namespace; `'auto'` is tracking (per master on a Cluster), or the bus where the server
   * refuses tracking; `false` turns it off (another process's write is then seen once the copy expires).
   * While the chosen mechanism is not connected, memory is bypassed and emptied.
   * @default 'auto' for a `RedisCache` remote, false for any other remote
   */
  invalidation?: InvalidationMode
}

/** Defaults of `TieredCacheOptions`. */
export const tieredCacheDefaults = { memoryTtl: 60, invalidation: 'auto' } as const

interface PendingRead {
  /** Reads of this key in flight. */
  count: number
  /** The key changed while they were in flight: their result must not enter memory. */
  stale: boolean
}

/**
 * Two tiers: an in-process `MemoryCache` in front of a shared cache (Redis). Keys are at most
 * 1,024 UTF-8 bytes (the memory tier's default `maxKeyLength`), whatever the remote accepts.
 * Reads try memory first, then Redis, and copy Redis hits into memory for at most `memoryTtl` and
 * never longer than their remaining Redis TTL; writes go to both. With a `RedisCache` remote the
 * memory tier stays coherent across processes (see `invalidation`): a change made in Redis by
 * anyone evicts every instance's copy.
 */
export class TieredCache implements Cache {
  /** The namespace of the remote tier. */
  readonly namespace: string
  /** The in-process tier. */
  readonly memory: MemoryCache
  /** The shared tier. */
  readonly remote: Cache
  readonly #memoryTtlMs: number
  readonly #stats: StatsCounter
  /** Longest key of every operation, in UTF-8 bytes: the memory tier's default limit. */
  readonly #maxKeyLength = memoryCacheDefaults.maxKeyLength
  readonly #listener: InvalidationListener | undefined
  readonly #pending = new Map<string, PendingRead>()
  /** Bumped whenever all of memory is dropped: reads begun before must not fill it again. */
  #epoch = 0
  #errors = 0
  #lastError: Error | undefined
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
    const invalidation = options.invalidation
    if (
      invalidation !== undefined &&
      invalidation !== false &&
      invalidation !== 'auto' &&
      invalidation !== 'tracking' &&
      invalidation !== 'bus'
    ) {
      throw new CacheError(
        CacheErrorCode.INVALID_OPTION,
        `options.invalidation must be 'auto', 'tracking', 'bus' or false, got ${describe(invalidation)}`,
      )
    }
    this.#memoryTtlMs = memoryTtl * 1000
    const ownRemote = !isCache(options.remote)
    this.remote = isCache(options.remote) ? options.remote : new RedisCache(options.remote)
    this.namespace = this.remote.namespace
    this.#stats = new StatsCounter(this.namespace)
    try {
      this.memory =
        options.memory instanceof MemoryCache
          ? options.memory
          : new MemoryCache({ namespace: `${this.namespace}:memory`, ...options.memory })
      if (
        invalidation !== undefined &&
        invalidation !== false &&
        !(this.remote instanceof RedisCache)
      ) {
        throw new CacheError(
          CacheErrorCode.INVALID_OPTION,
          `options.invalidation needs a RedisCache remote, got ${describe(this.remote)} with ${describe(invalidation)}`,
        )
      }
    } catch (error) {
      // Do not leave the connection just opened behind a constructor that throws.
      if (ownRemote) void this.remote.close()
      throw error
    }
    if (this.remote instanceof RedisCache && invalidation !== false) {
      this.#listener = new InvalidationListener(
        this.remote.client,
        this.remote.keyPrefix,
        invalidation ?? tieredCacheDefaults.invalidation,
        {
          evict: (keys) => this.#evict(keys),
          evictAll: () => this.#evictAll(),
          error: (error) => this.#recordError(error),
        },
      )
    }
    // One event per operation, from this cache, rather than one per tier.
    for (const tier of [this.memory, this.remote] as Partial<Mutable>[]) tier[kMuteEvents]?.()
  }

  /**
   * True while memory copies may be served: the invalidation mechanism is connected (always true
   * with `invalidation: false`).
   */
  get coherent(): boolean {
    return this.#listener === undefined || this.#listener.coherent
  }

  /** Health of the remote tier, plus the errors of the invalidation machinery. */
  getHealth(): CacheHealth {
    const remote = this.remote as Partial<Pick<RedisCache, 'getHealth'>>
    const health = remote.getHealth?.() ?? { errors: 0, circuit: 'closed', lastError: undefined }
    return {
      ...health,
      errors: health.errors + this.#errors,
      lastError: health.lastError ?? this.#lastError,
    }
  }

  async get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(true)
    if (this.coherent) {
      const local = this.memory.getSync<T>(key, options)
      if (local !== undefined) {
        this.#stats.hit(key, start)
        return local
      }
    }
    const [found] = await this.#readRemote<T>([key], options)
    if (found === undefined) {
      this.#stats.miss(key, start)
      return undefined
    }
    this.#stats.hit(key, start)
    return readValue(found, options)
  }

  async set(
    key: string,
    value: unknown,
    ttlSeconds?: number,
    options?: SetOptions,
  ): Promise<boolean> {
    const ttlMs = ttlSeconds === undefined ? undefined : ttlSeconds * 1000
    return this.#set(key, value, ttlMs, () => this.remote.set(key, value, ttlSeconds, options))
  }

  /** @internal */
  [kSetMs](key: string, value: unknown, ttlMs: number, options?: SetOptions): Promise<boolean> {
    const remote = this.remote as Partial<Record<typeof kSetMs, SetMs>>
    const write = remote[kSetMs]
    return this.#set(key, value, ttlMs, () =>
      write !== undefined
        ? write.call(this.remote, key, value, ttlMs, options)
        : this.remote.set(key, value, Math.ceil(ttlMs / 1000), options),
    )
  }

  /** @internal */
  [kReportError](key: string, error: unknown): void {
    const remote = this.remote as Partial<
      Record<typeof kReportError, (k: string, e: unknown) => void>
    >
    remote[kReportError]?.call(this.remote, key, error)
  }

  async #set(
    key: string,
    value: unknown,
    ttlMs: number | undefined,
    write: () => Promise<boolean>,
  ): Promise<boolean> {
    // Same key limit as get(), so nothing is written that could not be read back.
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(true)
    this.#changed([key])
    // The remote validates (key, TTL, codec) before anything is written anywhere.
    const written = await write()
    if (start >= 0 && written) publishTimedEvent('set', key, this.namespace, start)
    this.#changed([key])
    if (written) {
      this.#hold(key, value, ttlMs)
      this.#listener?.announce([key])
    } else if (this.#listener === undefined) {
      // Without invalidation there is no promise of coherence: keep serving what was written.
      this.#hold(key, value, ttlMs)
    }
    return written
  }

  async delete(key: string): Promise<boolean> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(true)
    const local = await this.memory.delete(key)
    this.#changed([key])
    const remote = await this.remote.delete(key)
    this.#changed([key])
    this.#listener?.announce([key])
    if (start >= 0) publishTimedEvent('delete', key, this.namespace, start)
    return local || remote
  }

  /** Resolves `true` exactly when `get(key)` would find a value (not counted as a request). */
  async exists(key: string): Promise<boolean> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    if (this.coherent && (await this.memory.exists(key))) return true
    return this.remote.exists(key)
  }

  /**
   * Empties memory and clears the remote's namespace; resolves how many keys the remote removed
   * (rejects like the remote's `clear()`, after emptying memory).
   */
  async clear(): Promise<number> {
    if (this.#closed) throw closedError()
    this.#evictAll()
    try {
      return await this.remote.clear()
    } finally {
      this.#evictAll()
      this.#listener?.announce('*')
    }
  }

  async getMany<T = unknown>(
    keys: readonly string[],
    options?: GetOptions,
  ): Promise<Map<string, T>> {
    assertKeys(keys, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(true)
    const found = this.coherent ? await this.memory.getMany<T>(keys, options) : new Map<string, T>()
    const missing = keys.filter((k) => !found.has(k))
    if (missing.length > 0) {
      const fetched = await this.#readRemote<T>(missing, options)
      for (let i = 0; i < missing.length; i++) {
        if (fetched[i] !== undefined) found.set(missing[i]!, readValue(fetched[i]!, options))
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
    const list = entryList(entries)
    for (const [key] of list) assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(true)
    const keys = list.map(([k]) => k)
    this.#changed(keys)
    const written = await this.remote.setMany(entries, ttlSeconds, options)
    this.#changed(keys)
    if (written || this.#listener === undefined) {
      for (const [k, v] of list)
        this.#hold(k, v, ttlSeconds === undefined ? undefined : ttlSeconds * 1000)
    }
    if (written) this.#listener?.announce(keys)
    if (start >= 0 && written) {
      for (const k of keys) publishTimedEvent('set', k, this.namespace, start)
    }
    return written
  }

  /** The keys of the remote tier (memory holds a subset of them). */
  async *keys(): AsyncIterableIterator<string> {
    if (this.#closed) throw closedError()
    if (typeof this.remote.keys !== 'function') return
    yield* this.remote.keys()
  }

  getStats(): CacheStats {
    return this.#stats.snapshot()
  }

  resetStats(): void {
    this.#stats.reset()
    this.#errors = 0
    this.#lastError = undefined
    this.memory.resetStats()
    this.remote.resetStats()
  }

  /** Closes both tiers and the invalidation listener. Idempotent: every call resolves once all are closed. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true
      this.#closing = Promise.all([
        this.#listener?.close(),
        this.memory.close(),
        this.remote.close(),
      ]).then(() => {})
    }
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /**
   * Reads `keys` from the remote and copies the hits into memory, unless the key changed (or
   * memory was emptied) while the read was in flight: the reply may predate that change.
   */
  async #readRemote<T>(keys: readonly string[], given?: GetOptions): Promise<(T | undefined)[]> {
    // Memory keeps what is stored (a cached() envelope as it is); callers get it unwrapped.
    const options = { ...given, [kRawRead]: true }
    const epoch = this.#epoch
    for (const key of keys) {
      const pending = this.#pending.get(key)
      if (pending === undefined) this.#pending.set(key, { count: 1, stale: false })
      else pending.count++
    }
    let values: (T | undefined)[]
    let ttls: number[] | undefined
    let stale: boolean[]
    try {
      const remote = this.remote as Partial<RedisCache>
      if (typeof remote[kReadTimed] === 'function') {
        const timed = await remote[kReadTimed]<T>(keys, options)
        values = timed.map((t) => t?.value)
        ttls = timed.map((t) => t?.ttlMs ?? -1)
      } else if (keys.length === 1) {
        values = [await this.remote.get<T>(keys[0]!, options)]
      } else {
        const found = await this.remote.getMany<T>(keys, options)
        values = keys.map((k) => found.get(k))
      }
    } finally {
      stale = keys.map((key) => {
        const pending = this.#pending.get(key)!
        if (--pending.count === 0) this.#pending.delete(key)
        return pending.stale
      })
    }
    const fill = this.coherent && epoch === this.#epoch
    for (let i = 0; i < keys.length; i++) {
      const value = values[i]
      if (value === undefined || !fill || stale[i]) continue
      const key = keys[i]!
      const ttlMs = ttls?.[i] ?? -1
      // -1: no expiry in Redis; -2: gone already (expired between GET and PTTL).
      if (ttlMs === -2 || ttlMs === 0) continue
      const hold = ttlMs < 0 ? this.#memoryTtlMs : Math.min(ttlMs, this.#memoryTtlMs)
      this.memory.backfill(key, value, hold, estimateSize(value))
    }
    return values
  }

  /** A key changed (here or elsewhere): drop its copy, and reads in flight must not restore it. */
  #changed(keys: readonly string[]): void {
    this.memory.evict(keys)
    for (const key of keys) {
      const pending = this.#pending.get(key)
      if (pending !== undefined) pending.stale = true
    }
  }

  #evict(keys: readonly string[]): void {
    this.#changed(keys)
  }

  #evictAll(): void {
    this.#epoch++
    this.memory.evictAll()
  }

  #recordError(error: unknown): void {
    this.#errors++
    this.#lastError = error instanceof Error ? error : new Error(String(error))
  }

  /**
   * Copies a written value into memory for its TTL (the remote's `defaultTtl` when none is
   * given), at most `memoryTtl`.
   */
  #hold(key: string, value: unknown, ttlMs: number | undefined): void {
    if (!this.coherent) return
    const ttl = ttlMs ?? ((this.remote as Partial<RedisCache>).defaultTtl ?? 0) * 1000
    const hold = ttl === 0 ? this.#memoryTtlMs : Math.min(ttl, this.#memoryTtlMs)
    this.memory.backfill(key, value, hold, estimateSize(value))
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
