import { Packr } from 'msgpackr'
import { CacheError, CacheErrorCode } from './cacheError.js'
import type { Codec, CodecOption } from './types.js'
import { describe } from './validate.js'

/**
 * JSON codec (the default): strings in Redis, readable by any client. Rejects what JSON would
 * silently change or cannot represent: BigInt, functions, symbols, NaN/Infinity, circular
 * structures, and `undefined` as the value itself.
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
