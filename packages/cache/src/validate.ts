import { CacheError, CacheErrorCode } from './cacheError.js'

/** Throws `INVALID_KEY` / `KEY_TOO_LONG` unless `key` is a non-empty string within `maxBytes`. */
export function assertKey(key: unknown, maxBytes: number): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new CacheError(
      CacheErrorCode.INVALID_KEY,
      `key must be a non-empty string, got ${typeof key === 'string' ? '""' : String(key)}`,
    )
  }
  // Cheap length check first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (key.length * 3 > maxBytes && Buffer.byteLength(key) > maxBytes) {
    throw new CacheError(
      CacheErrorCode.KEY_TOO_LONG,
      `key must be at most ${maxBytes} bytes, got ${Buffer.byteLength(key)} bytes ("${key.slice(0, 32)}…")`,
    )
  }
}

/** Throws `INVALID_TTL` unless `ttl` is a non-negative integer number of seconds. */
export function assertTtl(ttl: unknown, what = 'ttlSeconds'): asserts ttl is number {
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0) {
    throw new CacheError(
      CacheErrorCode.INVALID_TTL,
      `${what} must be a non-negative integer number of seconds, got ${String(ttl)}`,
    )
  }
}

/** Throws `INVALID_OPTION` unless `value` is a positive integer (or undefined when optional). */
export function assertPositiveInteger(value: unknown, what: string, allowZero = false): void {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 0 ||
    (value === 0 && !allowZero)
  ) {
    throw new CacheError(
      CacheErrorCode.INVALID_OPTION,
      `${what} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${String(value)}`,
    )
  }
}

/** Copies an options object without its undefined properties, so defaults apply to them. */
export function stripUndefined<T extends object>(options: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(options)) if (v !== undefined) out[k] = v
  return out as T
}
