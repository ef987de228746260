import { createHash } from 'node:crypto'
import { CacheError, CacheErrorCode } from './cacheError.js'
import { describe } from './validate.js'

/** Prefix of every key built by `cacheKey()`. */
export const CACHE_KEY_PREFIX = 'bookgen'

/** Keys built by `cacheKey()` longer than this are hashed (keeping `bookgen:<prefix>:`). */
export const CACHE_KEY_MAX_LENGTH = 200

/**
 * Builds a cache key: `cacheKey('user', 123)` → `'bookgen:user:123'`.
 *
 * Parts are joined with `:`. Strings are used as they are, with the characters that could make
 * two different part lists give the same key escaped by a backslash: `\` itself, a `:` that is
 * not followed by `/` (so `https://…` stays readable), and a leading `/` or `#`. So
 * `cacheKey('a:b')` (`bookgen:a\:b`) and `cacheKey('a', 'b')` (`bookgen:a:b`) differ, and any two
 * different lists of string parts give different keys. Other values are written in the typed form
 * `cached()` uses for its arguments (numbers as digits, objects with sorted keys, dates as
 * `@<ISO>`…), so `cacheKey('user', 123)` and `cacheKey('user', '123')` are the same key on
 * purpose. When the key would be longer than 200 characters, everything after `bookgen:<prefix>:`
 * is replaced by `#` and its SHA-256 (base64url): long arguments still give short, stable,
 * distinct keys.
 */
export function cacheKey(prefix: string, ...parts: readonly unknown[]): string {
  if (typeof prefix !== 'string' || prefix.length === 0) {
    throw new CacheError(
      CacheErrorCode.INVALID_KEY,
      `cacheKey prefix must be a non-empty string, got ${describe(prefix)}`,
    )
  }
  let rest = ''
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]
    const text = typeof part === 'string' ? part : encodeKeyValue(part, `parts[${i}]`, false)
    rest += (i === 0 ? '' : ':') + escapeKeyPart(text)
  }
  const head = `${CACHE_KEY_PREFIX}:${escapeKeyPart(prefix)}`
  const key = parts.length === 0 ? head : `${head}:${rest}`
  if (key.length <= CACHE_KEY_MAX_LENGTH) return key
  // A leading `#` of a part is always escaped, so a hashed key never equals a plain one.
  const hashedHead = head.length > 100 ? `${CACHE_KEY_PREFIX}:#${digest(prefix)}` : head
  return parts.length === 0 ? hashedHead : `${hashedHead}:#${digest(rest)}`
}

/**
 * The key parts `cached()` builds from a call's arguments: one string per argument, from a typed
 * encoding that never gives two different argument lists the same parts. Strings stay as they are
 * unless they could be read as another type (`'123'`, `'null'`, `''`, `"'x"`…): those get a
 * leading `'`. Numbers, bigints (`1n`), booleans, `null`, `undefined`, dates (`@<ISO>`), arrays,
 * plain objects (keys sorted), `Map`, `Set`, `URL` and typed arrays are encoded by value; class
 * instances, functions, symbols and circular structures throw `INVALID_KEY` (give `key`).
 * @internal
 */
export function argumentKeyParts(args: readonly unknown[]): string[] {
  const out: string[] = new Array(args.length)
  for (let i = 0; i < args.length; i++) out[i] = encodeKeyValue(args[i], `args[${i}]`, true)
  return out
}

const NEEDS_ESCAPE = /[\\:]|^[/#]/

/** Escapes one part so that joining parts with `:` is injective. */
function escapeKeyPart(part: string): string {
  if (!NEEDS_ESCAPE.test(part)) return part
  let out = ''
  for (let i = 0; i < part.length; i++) {
    const c = part[i]!
    if (c === '\\') out += '\\\\'
    else if (c === ':') out += part[i + 1] === '/' ? ':' : '\\:'
    else if (i === 0 && (c === '/' || c === '#')) out += `\\${c}`
    else out += c
  }
  return out
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}

const RESERVED_WORDS = new Set(['null', 'undefined', 'true', 'false', 'NaN', 'Infinity'])
/** First characters of every non-string encoding: a raw string starting with one is quoted. */
const RESERVED_FIRST = /^[-0-9'"@#[{]/

/**
 * One value in the typed key encoding. `top` values that are strings are written raw when they
 * cannot be mistaken for another type; nested strings are always JSON-quoted.
 */
function encodeKeyValue(value: unknown, path: string, top: boolean, seen?: Set<object>): string {
  switch (typeof value) {
    case 'string':
      if (!top) return JSON.stringify(value)
      return value.length === 0 || RESERVED_FIRST.test(value) || RESERVED_WORDS.has(value)
        ? `'${value}`
        : value
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value)
    case 'bigint':
      return `${value}n`
    case 'boolean':
      return value ? 'true' : 'false'
    case 'undefined':
      return 'undefined'
    case 'function':
    case 'symbol':
      throw unkeyable(path, value, 'functions and symbols cannot be part of a key')
  }
  if (value === null) return 'null'
  const object = value as object
  if (object instanceof Date) {
    const time = object.getTime()
    return Number.isNaN(time) ? '@invalid' : `@${object.toISOString()}`
  }
  if (object instanceof URL) return `#URL(${JSON.stringify(object.href)})`
  if (ArrayBuffer.isView(object)) {
    const bytes = Buffer.from(object.buffer, object.byteOffset, object.byteLength)
    return `#${object.constructor.name}(${bytes.toString('base64')})`
  }
  seen ??= new Set()
  if (seen.has(object)) throw unkeyable(path, value, 'circular structures cannot be part of a key')
  seen.add(object)
  let out: string
  if (Array.isArray(object)) {
    const items: string[] = []
    for (let i = 0; i < object.length; i++) {
      items.push(encodeKeyValue(object[i], `${path}[${i}]`, false, seen))
    }
    out = `[${items.join(',')}]`
  } else if (object instanceof Map) {
    const entries: string[] = []
    let i = 0
    for (const [k, v] of object) {
      const at = `${path}.<entry ${i++}>`
      entries.push(`${encodeKeyValue(k, at, false, seen)}=${encodeKeyValue(v, at, false, seen)}`)
    }
    out = `#Map{${entries.sort().join(',')}}`
  } else if (object instanceof Set) {
    const items: string[] = []
    let i = 0
    for (const item of object)
      items.push(encodeKeyValue(item, `${path}.<item ${i++}>`, false, seen))
    out = `#Set[${items.sort().join(',')}]`
  } else {
    const proto = Object.getPrototypeOf(object)
    if (proto !== Object.prototype && proto !== null) {
      throw unkeyable(
        path,
        value,
        'class instances cannot be part of a key (give options.key, or pass plain data)',
      )
    }
    const record = object as Record<string, unknown>
    const keys = Object.keys(record).sort()
    const entries: string[] = []
    for (const k of keys) {
      entries.push(`${JSON.stringify(k)}=${encodeKeyValue(record[k], `${path}.${k}`, false, seen)}`)
    }
    out = `{${entries.join(',')}}`
  }
  seen.delete(object)
  return out
}

function unkeyable(path: string, value: unknown, why: string): CacheError {
  return new CacheError(CacheErrorCode.INVALID_KEY, `${path}: ${why}, got ${describe(value)}`)
}

/**
 * The Redis prefix of a namespace: the namespace with `\` and every `:` escaped, then `:`. The
 * first unescaped `:` of a stored key ends its namespace, so namespace `x` never reads or clears
 * the keys of namespace `x:sessions` (stored as `x\:sessions:<key>`).
 * @internal
 */
export function namespacePrefix(namespace: string): string {
  return `${namespace.replace(/[\\:]/g, '\\$&')}:`
}
