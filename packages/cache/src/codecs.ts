import { Packr } from 'msgpackr'
import { CacheError, CacheErrorCode } from './cacheError.js'
import type { Codec, CodecOption } from './types.js'
import { describe } from './validate.js'

/**
 * JSON codec (the default): text in Redis, readable by any client. Rejects what JSON would
 * silently change or cannot represent: BigInt, functions, symbols, NaN/Infinity, circular
 * structures, `undefined` as the value itself, `Map`, `Set`, typed arrays, boxed primitives and
 * class instances (they would come back as plain objects). Objects with a `toJSON` method (such as
 * `Date`) are stored as what it returns; `undefined` properties are left out, as JSON does.
 */
export const jsonCodec: Codec = {
  name: 'json',
  binary: false,
  encode(value) {
    let text: string | undefined
    try {
      text = JSON.stringify(value, strictJson)
    } catch (cause) {
      throw unencodable('json', value, cause)
    }
    if (text === undefined) throw unencodable('json', value)
    return text
  },
  decode(data) {
    return JSON.parse(typeof data === 'string' ? data : data.toString('utf8'))
  },
}

const packr = new Packr({ useRecords: false, moreTypes: false })

/**
 * MessagePack codec (msgpackr): compact binary objects, read as Buffers. Keeps `undefined`,
 * BigInt within 64 bits, Dates, typed arrays; rejects functions, symbols and circular structures.
 */
export const msgpackCodec: Codec = {
  name: 'msgpack',
  binary: true,
  encode(value) {
    if (value === undefined) throw unencodable('msgpack', value)
    try {
      assertPackable(value, new Set())
      return packr.pack(value)
    } catch (cause) {
      if (cause instanceof CacheError) throw cause
      throw unencodable('msgpack', value, cause)
    }
  },
  decode(data) {
    return packr.unpack(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  },
}

/**
 * Binary float32 codec for embedding vectors: a `Float32Array` in, a `Float32Array` out, stored as
 * its raw bytes (platform byte order, little-endian on x86 and ARM). Anything else is rejected.
 */
export const float32Codec: Codec<Float32Array> = {
  name: 'float32',
  binary: true,
  encode(value) {
    if (!(value instanceof Float32Array)) throw unencodable('float32', value)
    return Buffer.copyBytesFrom(value)
  },
  decode(data) {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data
    if (bytes.byteLength % 4 !== 0) {
      throw new Error(`float32 codec: ${bytes.byteLength} bytes is not a multiple of 4`)
    }
    // One copy, not a view: the Buffer may share memory with the socket's read buffer.
    return new Float32Array(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    )
  },
}

const byName: Record<string, Codec> = {
  json: jsonCodec,
  msgpack: msgpackCodec,
  float32: float32Codec as Codec,
}

/** Resolves a codec name or object; throws `INVALID_OPTION` for anything else. */
export function resolveCodec(codec: CodecOption | undefined, what = 'options.codec'): Codec {
  if (codec === undefined) return jsonCodec
  if (typeof codec === 'string') {
    const found = byName[codec]
    if (found) return found
  } else if (
    typeof codec === 'object' &&
    codec !== null &&
    typeof codec.encode === 'function' &&
    typeof codec.decode === 'function'
  ) {
    if (typeof codec.name !== 'string' || !CODEC_NAME.test(codec.name)) {
      throw new CacheError(
        CacheErrorCode.INVALID_OPTION,
        `${what}.name must be 1 to 32 letters, digits, '.', '_' or '-', got ${describe(codec.name)}`,
      )
    }
    return codec as Codec
  }
  throw new CacheError(
    CacheErrorCode.INVALID_OPTION,
    `${what} must be 'json', 'msgpack', 'float32' or a Codec, got ${describe(codec)}`,
  )
}

function strictJson(this: unknown, _key: string, value: unknown): unknown {
  switch (typeof value) {
    case 'function':
    case 'symbol':
    case 'bigint':
      throw new TypeError(`${typeof value} is not JSON-representable`)
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${value} is not JSON-representable`)
      return value
    case 'object': {
      if (value === null || Array.isArray(value)) return value
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        const name = (value as object).constructor?.name ?? 'object'
        throw new TypeError(`a ${name} would not come back from JSON as it went in`)
      }
      return value
    }
    default:
      return value
  }
}

function assertPackable(value: unknown, ancestors: Set<object>): void {
  const type = typeof value
  if (type === 'function' || type === 'symbol') {
    throw new TypeError(`${type} is not encodable`)
  }
  if (type !== 'object' || value === null || ArrayBuffer.isView(value)) return
  const object = value as object
  if (ancestors.has(object)) throw new TypeError('circular structure is not encodable')
  ancestors.add(object)
  if (Array.isArray(object)) {
    for (const item of object) assertPackable(item, ancestors)
  } else if (object instanceof Map) {
    for (const [k, v] of object) {
      assertPackable(k, ancestors)
      assertPackable(v, ancestors)
    }
  } else if (object instanceof Set) {
    for (const item of object) assertPackable(item, ancestors)
  } else if (!(object instanceof Date)) {
    for (const key of Object.keys(object)) {
      assertPackable((object as Record<string, unknown>)[key], ancestors)
    }
  }
  ancestors.delete(object)
}

function unencodable(codec: string, value: unknown, cause?: unknown): CacheError {
  const reason = cause instanceof Error ? `: ${cause.message}` : ''
  return new CacheError(
    CacheErrorCode.UNENCODABLE_VALUE,
    `value cannot be encoded by the ${codec} codec, got ${describe(value)}${reason}`,
    { cause },
  )
}

/** The codec of one call: `options.codec` when given (resolved), else the store's `fallback`. */
export function codecFor(options: { codec?: CodecOption } | undefined, fallback: Codec): Codec {
  return options?.codec === undefined ? fallback : resolveCodec(options.codec)
}

const CODEC_NAME = /^[A-Za-z0-9._-]{1,32}$/
const TAG = 0
const headers = new Map<string, { text: string; bytes: Buffer }>()

/**
 * The bytes stored for a value: a header naming the codec that wrote it (`\0<name>\0`), then the
 * codec's output. A text codec's output stays text, so JSON values remain readable.
 * @internal
 */
export function tagValue(codec: Codec, encoded: string | Buffer): string | Buffer {
  let header = headers.get(codec.name)
  if (header === undefined) {
    const text = `\0${codec.name}\0`
    header = { text, bytes: Buffer.from(text, 'latin1') }
    headers.set(codec.name, header)
  }
  return typeof encoded === 'string'
    ? header.text + encoded
    : Buffer.concat([header.bytes, encoded], header.bytes.length + encoded.length)
}

/**
 * Decodes stored bytes with the codec named in their header: `preferred` when it is that codec,
 * else the built-in codec of that name. Throws (a plain `Error`, reported by the store as a counted
 * error and a miss) for bytes without a header or written by a codec this process does not know,
 * so a value is never decoded by the wrong codec.
 * @internal
 */
export function decodeTagged(raw: Buffer, preferred: Codec): unknown {
  const end = raw[0] === TAG ? raw.indexOf(TAG, 1) : -1
  if (end < 2 || end > 33) {
    throw new Error('the stored value has no codec header (written by another client?)')
  }
  const name = raw.toString('latin1', 1, end)
  const codec = name === preferred.name ? preferred : byName[name]
  if (codec === undefined) {
    throw new Error(`the stored value was written by the unknown codec "${name}"`)
  }
  const payload = raw.subarray(end + 1)
  return codec.decode(codec.binary ? payload : payload.toString('utf8'))
}
