/** A value codec: turns values into the bytes stored in Redis and back. */
export interface Codec<T = unknown> {
  /** Short name, used in error messages and events. */
  readonly name: string
  /** True when the codec produces and reads raw bytes (reads then use Buffers end to end). */
  readonly binary: boolean
  /**
   * Encodes a value. Throws a `CacheError` with code `UNENCODABLE_VALUE` for values it cannot
   * represent faithfully.
   */
  encode(value: T): string | Buffer
  /** Decodes what `encode` produced (a string for text codecs, a Buffer for binary ones). */
  decode(data: string | Buffer): T
}

/** The codecs built into the package, selectable by name. */
export type CodecName = 'json' | 'msgpack' | 'float32'

/** A codec given by name or as an object. */
export type CodecOption = CodecName | Codec

/** Per-call options of reads. */
export interface GetOptions {
  /**
   * Codec for this call, overriding the cache's codec.
   * @default the cache's `codec`
   */
  codec?: CodecOption
}

/** Per-call options of writes. */
export interface SetOptions {
  /**
   * Codec for this call, overriding the cache's codec.
   * @default the cache's `codec`
   */
  codec?: CodecOption
}

/** Hit/miss counters, shaped exactly like the original's `get_stats()`. */
export interface CacheStats {
  /** Reads that found a value. */
  hits: number
  /** Reads that found nothing (including reads that failed and were answered as misses). */
  misses: number
  /** hits + misses. */
  totalRequests: number
  /** hits / totalRequests, 0 when there were no requests. */
  hitRatio: number
}

/** Health of a store that talks to a server. */
export interface CacheHealth {
  /** Errors since creation or the last `resetStats()` (timeouts, connection errors...). */
  errors: number
  /** Circuit breaker state: `open` means calls are answered locally without touching Redis. */
  circuit: 'closed' | 'open' | 'half-open'
  /** The last error seen, if any. */
  lastError: Error | undefined
}

/** Operations published on the `bookgen:cache` diagnostics channel. */
export type CacheEventOp = 'hit' | 'miss' | 'set' | 'delete' | 'error'

/** Message published on the `bookgen:cache` diagnostics channel. */
export interface CacheEvent {
  op: CacheEventOp
  /** The key as given by the caller (without the namespace). Empty for connection errors. */
  key: string
  /** The namespace of the cache that published the event. */
  namespace: string
  /** Duration of the operation in milliseconds. */
  durationMs: number
  /** For `op: 'error'`: the error. */
  error?: Error
}

/**
 * The one interface every store implements (`MemoryCache`, `RedisCache`, `TieredCache`).
 *
 * Reads never throw because of the server: a failed read is a miss, a failed write returns
 * `false`. Bad input (empty or oversized keys, invalid TTLs, values the codec cannot encode)
 * throws a `CacheError` and writes nothing.
 */
export interface Cache {
  /** The namespace this cache owns; `clear()` removes only keys in it. */
  readonly namespace: string
  /** Returns the value, or `undefined` on a miss (`null`, `0`, `''`, `false` are values). */
  get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined>
  /**
   * Stores a value. `ttlSeconds` is a non-negative integer; `0` means no expiry.
   * Resolves `true` when written, `false` when the store could not be reached.
   */
  set(key: string, value: unknown, ttlSeconds?: number, options?: SetOptions): Promise<boolean>
  /** Removes a key; resolves `true` when it existed. */
  delete(key: string): Promise<boolean>
  /** Resolves `true` when the key holds a value. */
  exists(key: string): Promise<boolean>
  /** Removes every key of this cache's namespace (and nothing else); resolves how many went. */
  clear(): Promise<number>
  /**
   * Reads many keys in one round trip; the Map holds only the keys that exist. Each key counts
   * (and is published) as one hit or miss.
   */
  getMany<T = unknown>(keys: readonly string[], options?: GetOptions): Promise<Map<string, T>>
  /**
   * Writes many entries in one round trip with one TTL. Every key and value is checked first: one
   * bad entry throws and none is written.
   */
  setMany(
    entries: Readonly<Record<string, unknown>> | ReadonlyMap<string, unknown>,
    ttlSeconds?: number,
    options?: SetOptions,
  ): Promise<boolean>
  /**
   * Every key of this cache's namespace, once each, in no particular order (SCAN on Redis, so it
   * never blocks the server). Keys written or removed meanwhile may or may not appear. Optional in
   * the interface; every store of this package has it.
   */
  keys?(): AsyncIterableIterator<string>
  /** Hit/miss counters. */
  getStats(): CacheStats
  /** Sets the counters back to zero. */
  resetStats(): void
  /** Releases connections and timers. Idempotent. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}
