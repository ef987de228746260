import { createHash } from 'node:crypto'
import { CacheError, CacheErrorCode } from './cacheError.js'

/** Prefix of every key built by `cacheKey()`. */
export const CACHE_KEY_PREFIX = 'bookgen'

/** Keys built by `cacheKey()` longer than this are hashed (keeping `bookgen:<prefix>:`). */
export const CACHE_KEY_MAX_LENGTH = 200

/**
 * Builds a cache key: `cacheKey('user', 123)` → `'bookgen:user:123'`.
 *
 * Parts are joined with `:`; strings and numbers are used as they are, other values as JSON with
 * object keys sorted (so `{ a, b }` and `{ b, a }` give the same key). When the key would be longer
 * than 200 characters, everything after `bookgen:<prefix>:` is replaced by its SHA-256 (base64url),
 * so long arguments still give short, stable, distinct keys.
 */
export function cacheKey(prefix: string, ...parts: readonly unknown[]): string {
  if (typeof prefix !== 'string' || prefix.length === 0) {
    throw new CacheError(
      CacheErrorCode.INVALID_KEY,
      `cacheKey prefix must be a non-empty string, got ${String(prefix)}`,
    )
  }
  let rest = ''
  for (let i = 0; i < parts.length; i++) {
    rest += (i === 0 ? '' : ':') + keyPart(parts[i])
  }
  const head = `${CACHE_KEY_PREFIX}:${prefix}`
  const key = parts.length === 0 ? head : `${head}:${rest}`
  if (key.length <= CACHE_KEY_MAX_LENGTH) return key
  const hashedHead = head.length > 100 ? `${CACHE_KEY_PREFIX}:${digest(prefix)}` : head
  return `${hashedHead}:#${digest(rest)}`
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}

/** One part of a key: strings as they are, anything else as `stableStringify` writes it. */
function keyPart(value: unknown): string {
  return typeof value === 'string' ? value : stableStringify(value)
}

/** `seen` holds the objects being written (circular check); made on the first object. */
function stableStringify(value: unknown, seen?: Set<object>): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value)
    case 'undefined':
      return 'undefined'
    case 'function':
    case 'symbol':
      throw new CacheError(
        CacheErrorCode.INVALID_KEY,
        `cacheKey parts must be serialisable, got a ${typeof value}`,
      )
  }
  const object = value as object
  if (object instanceof Date) return object.toISOString()
  seen ??= new Set()
  if (seen.has(object)) {
    throw new CacheError(CacheErrorCode.INVALID_KEY, 'cacheKey parts must not be circular')
  }
  seen.add(object)
  let out: string
  if (Array.isArray(object)) {
    out = `[${object.map((item) => stableStringify(item, seen)).join(',')}]`
  } else if (object instanceof Map) {
    const entries = [...object.entries()].map(
      ([k, v]) => [stableStringify(k, seen), stableStringify(v, seen)] as const,
    )
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    out = `Map{${entries.map(([k, v]) => `${k}:${v}`).join(',')}}`
  } else if (ArrayBuffer.isView(object)) {
    out = `${object.constructor.name}(${Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64')})`
  } else {
    const record = object as Record<string, unknown>
    const keys = Object.keys(record).sort()
    out = `{${keys
      .filter((k) => record[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableStringify(record[k], seen)}`)
      .join(',')}}`
  }
  seen.delete(object)
  return out
}
