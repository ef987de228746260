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
