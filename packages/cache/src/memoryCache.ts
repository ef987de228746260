import {
  cacheChannel,
  eventStart,
  kMuteEvents,
  publishCacheEvent,
  publishTimedEvent,
} from './cacheChannel.js'
import { closedError } from './cacheError.js'
import { StatsCounter } from './cacheStats.js'
import {
  COARSE_CLOCK_SLACK_MS,
  coarseNow,
  exactNow,
  releaseClock,
  retainClock,
} from './coarseClock.js'
import { codecFor, resolveCodec } from './codecs.js'
import { kReportError, kSetMs, readValue } from './storeProtocol.js'
import type { Cache, CacheStats, Codec, CodecOption, GetOptions, SetOptions } from './types.js'
import {
  assertKey,
  assertKeys,
  assertNamespace,
  assertPositiveInteger,
  assertTtl,
  encodeEntries,
  encodeValue,
  stripUndefined,
} from './validate.js'

/** Options of `MemoryCache`. */
export interface MemoryCacheOptions {
  /**
   * Name of this cache in events; `clear()` empties this instance only.
   * @default 'memory'
   */
  namespace?: string
  /**
   * Most entries held; the least recently used go first (approximate LRU, see the class).
   * @default 10000
   */
  maxEntries?: number
  /**
   * Most bytes held (sum of the encoded sizes of the values); `0` means no byte bound.
   * @default 0
   */
  maxBytes?: number
  /**
   * TTL in seconds used when `set` gets none; `0` means no expiry.
   * @default 3600
   */
  defaultTtl?: number
  /**
   * Codec that validates values and measures their size (values are held by reference).
   * @default 'json'
   */
  codec?: CodecOption
  /**
   * Longest accepted key, in UTF-8 bytes.
   * @default 1024
   */
  maxKeyLength?: number
}

/** Defaults of `MemoryCacheOptions`. */
export const memoryCacheDefaults = {
  namespace: 'memory',
  maxEntries: 10_000,
  maxBytes: 0,
  defaultTtl: 3600,
  codec: 'json',
  maxKeyLength: 1024,
} as const satisfies Required<MemoryCacheOptions>

interface Entry {
  value: unknown
  /** Epoch ms; 0 = never. */
  expiresAt: number
  size: number
  /** Read since it was written or last given a second chance (see #evict). */
  used: boolean
}

/**
 * A bounded in-process cache (entries and/or bytes) with TTL and approximate LRU eviction
 * (second chance: an entry read since it was written or last spared is moved to the back once). Values are held by
 * reference: `get` returns the very object given to `set`, so do not mutate cached objects.
 */
export class MemoryCache implements Cache {
  /** The namespace of this cache (events carry it). */
  readonly namespace: string
  readonly #map = new Map<string, Entry>()
  readonly #stats: StatsCounter
  readonly #maxEntries: number
  readonly #maxBytes: number
  readonly #defaultTtl: number
  readonly #codec: Codec
  readonly #maxKeyLength: number
  #bytes = 0
  #closed = false
  #events = true

  constructor(options: MemoryCacheOptions = {}) {
    const o = { ...memoryCacheDefaults, ...stripUndefined(options) }
    assertNamespace(o.namespace)
    assertPositiveInteger(o.maxEntries, 'options.maxEntries')
    assertPositiveInteger(o.maxBytes, 'options.maxBytes', true)
    assertPositiveInteger(o.maxKeyLength, 'options.maxKeyLength')
    assertTtl(o.defaultTtl, 'options.defaultTtl')
    this.namespace = o.namespace
    this.#stats = new StatsCounter(o.namespace)
    this.#maxEntries = o.maxEntries
    this.#maxBytes = o.maxBytes
    this.#defaultTtl = o.defaultTtl
    this.#codec = resolveCodec(o.codec)
    this.#maxKeyLength = o.maxKeyLength
    retainClock()
  }

  /** Entries currently held (expired ones may still count until touched or evicted). */
  get size(): number {
    return this.#map.size
  }

  /** Sum of the encoded sizes of the values held, in bytes. */
  get bytes(): number {
    return this.#bytes
  }

  async get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined> {
    if (options?.codec !== undefined) resolveCodec(options.codec)
    return this.getSync<T>(key, options)
  }

  /**
   * Synchronous `get`: the value, or `undefined` on a miss (counted and published like `get`).
   */
  getSync<T = unknown>(key: string, options?: GetOptions): T | undefined {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(this.#events)
    const entry = this.#map.get(key)
    if (entry === undefined || (entry.expiresAt !== 0 && expired(entry.expiresAt))) {
      if (entry !== undefined) this.#remove(key, entry)
      this.#stats.miss(key, start)
      return undefined
    }
    entry.used = true
    this.#stats.hit(key, start)
    return readValue(entry.value as T, options)
  }

  async set(
    key: string,
    value: unknown,
    ttlSeconds?: number,
    options?: SetOptions,
  ): Promise<boolean> {
    const ttl = ttlSeconds ?? this.#defaultTtl
    assertTtl(ttl)
    return this.#set(key, value, ttl * 1000, options)
  }

  /** @internal */
  async [kSetMs](
    key: string,
    value: unknown,
    ttlMs: number,
    options?: SetOptions,
  ): Promise<boolean> {
    assertTtl(ttlMs, 'ttlMs')
    return this.#set(key, value, ttlMs, options)
  }

  /** @internal */
  [kReportError](key: string, error: unknown): void {
    if (cacheChannel.hasSubscribers) {
      const err = error instanceof Error ? error : new Error(String(error))
      publishCacheEvent({ op: 'error', key, namespace: this.namespace, durationMs: 0, error: err })
    }
  }

  #set(key: string, value: unknown, ttlMs: number, options: SetOptions | undefined): boolean {
    assertKey(key, this.#maxKeyLength)
    const codec = codecFor(options, this.#codec)
    const size = byteSize(encodeValue(codec, value))
    if (this.#closed) throw closedError()
    const start = eventStart(this.#events)
    const stored = this.#store(key, value, ttlMs, size)
    if (start >= 0 && stored) publishTimedEvent('set', key, this.namespace, start)
    return stored
  }

  /**
   * Holds a value that was already validated elsewhere (the two-tier cache backfilling from
   * Redis) for `ttlMs` milliseconds (`0`: no expiry), with an estimated size. Not counted as a
   * request.
   * @internal
   */
  backfill(key: string, value: unknown, ttlMs: number, size: number): boolean {
    if (this.#closed) return false
    return this.#store(key, value, ttlMs, size)
  }

  /**
   * Drops the copies of `keys`, silently (an invalidation, not a request); a no-op once closed.
   * @internal
   */
  evict(keys: readonly string[]): void {
    for (const key of keys) {
      const entry = this.#map.get(key)
      if (entry !== undefined) this.#remove(key, entry)
    }
  }

  /** Drops every entry, silently; a no-op once closed. @internal */
  evictAll(): void {
    this.#map.clear()
    this.#bytes = 0
  }

  async delete(key: string): Promise<boolean> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(this.#events)
    const entry = this.#map.get(key)
    if (entry !== undefined) this.#remove(key, entry)
    // Published for every delete, found or not, like the other stores.
    if (start >= 0) publishTimedEvent('delete', key, this.namespace, start)
    return entry !== undefined && (entry.expiresAt === 0 || entry.expiresAt > Date.now())
  }

  async exists(key: string): Promise<boolean> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const entry = this.#map.get(key)
    if (entry === undefined) return false
    if (entry.expiresAt !== 0 && expired(entry.expiresAt)) {
      this.#remove(key, entry)
      return false
    }
    return true
  }

  async clear(): Promise<number> {
    if (this.#closed) throw closedError()
    const now = Date.now()
    let live = 0
    for (const entry of this.#map.values()) {
      if (entry.expiresAt === 0 || entry.expiresAt > now) live++
    }
    this.#map.clear()
    this.#bytes = 0
    return live
  }

  async getMany<T = unknown>(
    keys: readonly string[],
    options?: GetOptions,
  ): Promise<Map<string, T>> {
    assertKeys(keys, this.#maxKeyLength)
    if (options?.codec !== undefined) resolveCodec(options.codec)
    const out = new Map<string, T>()
    for (const key of keys) {
      const value = this.getSync<T>(key, options)
      if (value !== undefined) out.set(key, value)
    }
    return out
  }

  async setMany(
    entries: Readonly<Record<string, unknown>> | ReadonlyMap<string, unknown>,
    ttlSeconds?: number,
    options?: SetOptions,
  ): Promise<boolean> {
    const ttl = ttlSeconds ?? this.#defaultTtl
    assertTtl(ttl)
    const { list, encoded } = encodeEntries(
      entries,
      codecFor(options, this.#codec),
      this.#maxKeyLength,
    )
    const sizes = encoded.map((e) => byteSize(e))
    if (this.#closed) throw closedError()
    let all = true
    for (let i = 0; i < list.length; i++) {
      const [key, value] = list[i]!
      const start = eventStart(this.#events)
      const stored = this.#store(key, value, ttl * 1000, sizes[i]!)
      if (start >= 0 && stored) publishTimedEvent('set', key, this.namespace, start)
      all &&= stored
    }
    return all
  }

  /** The keys of the live entries (a snapshot taken when iteration starts). */
  async *keys(): AsyncIterableIterator<string> {
    if (this.#closed) throw closedError()
    const now = Date.now()
    const live: string[] = []
    for (const [key, entry] of this.#map) {
      if (entry.expiresAt === 0 || entry.expiresAt > now) live.push(key)
    }
    yield* live
  }

  getStats(): CacheStats {
    return this.#stats.snapshot()
  }

  resetStats(): void {
    this.#stats.reset()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    releaseClock()
    this.#map.clear()
    this.#bytes = 0
  }

  /** @internal */
  [kMuteEvents](): void {
    this.#events = false
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #store(key: string, value: unknown, ttlMs: number, size: number): boolean {
    const previous = this.#map.get(key)
    if (previous !== undefined) this.#remove(key, previous)
    if (this.#maxBytes > 0 && size > this.#maxBytes) return false
    const expiresAt = ttlMs === 0 ? 0 : exactNow() + ttlMs
    this.#map.set(key, { value, expiresAt, size, used: false })
    this.#bytes += size
    this.#evict()
    return true
  }

  #evict(): void {
    // Approximate LRU ("second chance", like Redis's own approximation): the Map keeps write
    // order; an entry read since it was written or last moved goes to the back once instead of
    // being evicted. Reads then cost one flag write instead of a Map delete + insert.
    const over = () =>
      this.#map.size > this.#maxEntries || (this.#maxBytes > 0 && this.#bytes > this.#maxBytes)
    let spared = 0
    while (over()) {
      const first = this.#map.entries().next()
      if (first.done) return
      const [key, entry] = first.value
      if (entry.used && spared < this.#map.size) {
        spared++
        entry.used = false
        this.#map.delete(key)
        this.#map.set(key, entry)
      } else {
        this.#remove(key, entry)
      }
    }
  }

  #remove(key: string, entry: Entry): void {
    this.#map.delete(key)
    this.#bytes -= entry.size
  }
}

function expired(expiresAt: number): boolean {
  const now = coarseNow()
  if (expiresAt - now > COARSE_CLOCK_SLACK_MS) return false
  return expiresAt <= exactNow()
}

function byteSize(encoded: string | Buffer): number {
  return typeof encoded === 'string' ? Buffer.byteLength(encoded) : encoded.byteLength
}
