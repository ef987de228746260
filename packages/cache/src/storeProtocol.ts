// Internal methods the stores offer each other (a TieredCache over a RedisCache, cached() and the
// Keyv store over any store). Registered symbols, so they stay out of the public surface and are
// the same symbols in every bundle of the package (the main entry and `@bookgen/cache/keyv`).

/** One value read with what is left of its TTL. */
export interface TimedValue<T = unknown> {
  value: T
  /** Milliseconds until the entry expires; `-1` when it has no expiry. */
  ttlMs: number
}

/**
 * `readTimed(keys, options)`: reads values together with their remaining TTL, counting hits and
 * misses like `getMany`. Offered by `RedisCache`.
 */
export const kReadTimed: unique symbol = Symbol.for('bookgen.cache.readTimed')

/**
 * `reportError(key, error)`: counts and publishes an error that happened around the store (a
 * `cached()` result the codec could not encode).
 */
export const kReportError: unique symbol = Symbol.for('bookgen.cache.reportError')

/** `setMs(key, value, ttlMs, options)`: `set` with a TTL in milliseconds (jittered TTLs). */
export const kSetMs: unique symbol = Symbol.for('bookgen.cache.setMs')

/** The signature of `kSetMs`. */
export type SetMs = (
  key: string,
  value: unknown,
  ttlMs: number,
  options?: import('./types.js').SetOptions,
) => Promise<boolean>

/**
 * A `GetOptions` flag (`{ [kRawRead]: true }`): return a `cached()` stale-while-revalidate or grace
 * envelope as it is stored. Without it, every store's reads return the value inside the envelope,
 * so a plain `get` of such a key gives the value, never the wrapper.
 */
export const kRawRead: unique symbol = Symbol.for('bookgen.cache.rawRead')

/** What `cached()` stores for a key with stale-while-revalidate or a grace period. */
export interface StaleEnvelope {
  __bookgen_swr: 1
  /** The value. */
  v: unknown
  /** Fresh until (epoch ms). */
  f: number
  /** Served stale (with a background refresh) until (epoch ms); after that only on failure. */
  s?: number
}

/** True for a value `cached()` stored in a `StaleEnvelope`. */
export function isStaleEnvelope(value: unknown): value is StaleEnvelope {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as StaleEnvelope).__bookgen_swr === 1 &&
    typeof (value as StaleEnvelope).f === 'number'
  )
}

/** `value` as a read returns it: unwrapped from its envelope unless `options` ask for it raw. */
export function readValue<T>(value: T, options: object | undefined): T {
  if (typeof value !== 'object' || value === null) return value
  if (options !== undefined && (options as Record<symbol, unknown>)[kRawRead] === true) return value
  return isStaleEnvelope(value) ? (value.v as T) : value
}
