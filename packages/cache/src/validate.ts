import { CacheError, CacheErrorCode } from './cacheError.js'
import type { Codec } from './types.js'

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

/**
 * Throws `INVALID_TTL` unless `ttl` is a non-negative (safe) integer number of seconds; Redis
 * rejects larger ones.
 */
export function assertTtl(ttl: unknown, what = 'ttlSeconds'): asserts ttl is number {
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 0) {
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

/** Throws `INVALID_ARGUMENT` unless `keys` is an array, and validates every key. */
export function assertKeys(keys: unknown, maxBytes: number): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) {
    throw new CacheError(
      CacheErrorCode.INVALID_ARGUMENT,
      `keys must be an array of strings, got ${describe(keys)}`,
    )
  }
  for (const key of keys) assertKey(key, maxBytes)
}

/** The entries of a `setMany` record or Map; throws `INVALID_ARGUMENT` for anything else. */
export function entryList(entries: unknown): [string, unknown][] {
  if (entries instanceof Map) return [...entries]
  if (typeof entries === 'object' && entries !== null && !Array.isArray(entries)) {
    return Object.entries(entries)
  }
  throw new CacheError(
    CacheErrorCode.INVALID_ARGUMENT,
    `entries must be a record or a Map, got ${describe(entries)}`,
  )
}

/**
 * Encodes with `codec`; any failure becomes `UNENCODABLE_VALUE` (custom codecs may throw
 * anything), and `what` names the argument (`value`, `entries["k"]`) when it is not `value`.
 */
export function encodeValue(codec: Codec, value: unknown, what = 'value'): string | Buffer {
  try {
    return codec.encode(value)
  } catch (error) {
    if (error instanceof CacheError && what === 'value') throw error
    const message = error instanceof Error ? error.message : String(error)
    throw new CacheError(
      CacheErrorCode.UNENCODABLE_VALUE,
      error instanceof CacheError
        ? `${what}: ${message}`
        : `${what} cannot be encoded by the ${codec.name} codec, got ${describe(value)}: ${message}`,
      { cause: error instanceof CacheError ? (error.cause ?? error) : error },
    )
  }
}

/** Short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'symbol') return value.toString()
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'Object'}`
  return String(value)
}

/** Throws `INVALID_OPTION` unless `namespace` (`options.namespace`) is a non-empty string. */
export function assertNamespace(namespace: unknown): asserts namespace is string {
  if (typeof namespace !== 'string' || namespace.length === 0) {
    throw new CacheError(
      CacheErrorCode.INVALID_OPTION,
      `options.namespace must be a non-empty string, got ${String(namespace)}`,
    )
  }
}

/**
 * Checks and encodes the entries of a `setMany` call before anything is written: `entries` must be
 * a record or a Map, every key valid, every value encodable by `codec` (errors name the entry,
 * `entries["k"]`). Resolves the entries and their encodings, in the same order.
 */
export function encodeEntries(
  entries: unknown,
  codec: Codec,
  maxKeyLength: number,
): { list: [string, unknown][]; encoded: (string | Buffer)[] } {
  const list = entryList(entries)
  const encoded: (string | Buffer)[] = []
  for (const [key, value] of list) {
    assertKey(key, maxKeyLength)
    encoded.push(encodeValue(codec, value, `entries[${JSON.stringify(key)}]`))
  }
  return { list, encoded }
}
