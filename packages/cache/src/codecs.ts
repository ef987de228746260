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
    return float32At(bytes, 0)
  },
}

/** The vector stored in `bytes` from `offset` on, copied out (no view on the reply's memory). */
function float32At(bytes: Buffer, offset: number): Float32Array {
  const length = bytes.byteLength - offset
  if (length % 4 !== 0) {
    throw new Error(`float32 codec: ${length} bytes is not a multiple of 4`)
  }
  // One copy, not a view: the Buffer may share memory with the socket's read buffer.
  const start = bytes.byteOffset + offset
  return new Float32Array(bytes.buffer.slice(start, start + length) as ArrayBuffer)
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
const headers = new Map<string, Header>()

interface Header {
  /** `\0<name>\0` */
  readonly text: string
  readonly bytes: Buffer
}

let lastCodec: Codec | undefined
let lastHeader: Header | undefined

function headerOf(codec: Codec): Header {
  if (codec === lastCodec) return lastHeader!
  let header = headers.get(codec.name)
  if (header === undefined) {
    const text = `\0${codec.name}\0`
    header = { text, bytes: Buffer.from(text, 'latin1') }
    headers.set(codec.name, header)
  }
  lastCodec = codec
  lastHeader = header
  return header
}

/**
 * The bytes stored for a value: a header naming the codec that wrote it (`\0<name>\0`), then the
 * codec's output. A text codec's output stays text, so JSON values remain readable.
 * @internal
 */
export function tagValue(codec: Codec, encoded: string | Buffer): string | Buffer {
  const header = headerOf(codec)
  return typeof encoded === 'string'
    ? header.text + encoded
    : Buffer.concat([header.bytes, encoded], header.bytes.length + encoded.length)
}

/**
 * `tagValue(float32Codec, float32Codec.encode(vector))` with one copy of the vector instead of two.
 * @internal
 */
export function tagFloat32(vector: Float32Array): Buffer {
  const header = headerOf(float32Codec as Codec).bytes
  const out = Buffer.allocUnsafe(header.length + vector.byteLength)
  header.copy(out, 0)
  out.set(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength), header.length)
  return out
}

/**
 * Decodes stored bytes with the codec named in their header: `preferred` when it is that codec,
 * else the built-in codec of that name. Throws (a plain `Error`, reported by the store as a counted
 * error and a miss) for bytes without a header or written by a codec this process does not know,
 * so a value is never decoded by the wrong codec.
 * @internal
 */
export function decodeTagged(raw: Buffer, preferred: Codec): unknown {
  const own = headerOf(preferred).bytes
  let codec: Codec | undefined
  let start: number
  if (startsWith(raw, own)) {
    codec = preferred
    start = own.length
  } else {
    const end = raw[0] === TAG ? raw.indexOf(TAG, 1) : -1
    if (end < 2 || end > 33) throw noHeader()
    const name = raw.toString('latin1', 1, end)
    codec = name === preferred.name ? preferred : byName[name]
    if (codec === undefined) {
      throw new Error(`the stored value was written by the unknown codec "${name}"`)
    }
    start = end + 1
  }
  if (codec === float32Codec) return float32At(raw, start)
  return codec.decode(codec.binary ? raw.subarray(start) : raw.toString('utf8', start))
}

/** What `decodeTaggedText` answers when only the stored bytes can give `decodeTagged`'s answer. */
export const NEEDS_BYTES: unique symbol = Symbol('needs bytes')

/**
 * Decodes a stored value read as UTF-8 text (the reply of a plain GET) with a text codec
 * `preferred`, giving exactly what `decodeTagged` gives for the bytes: the value, or the same
 * error. The text identifies the bytes only in part (UTF-8 decoding is lossy for binary data), so
 * it answers `NEEDS_BYTES` when the value is not `preferred`'s and has a header: then the caller
 * reads the bytes. Exact because a header is ASCII: text starting with `preferred`'s header comes
 * from bytes starting with it, and the rest decodes as the bytes after it would; text not starting
 * with NUL comes from bytes not starting with 0 (no header).
 * @internal
 */
export function decodeTaggedText(text: string, preferred: Codec): unknown {
  if (preferred.binary) return NEEDS_BYTES
  const header = headerOf(preferred).text
  if (text.startsWith(header)) return preferred.decode(text.slice(header.length))
  if (text.charCodeAt(0) !== TAG) throw noHeader()
  return NEEDS_BYTES
}

function noHeader(): Error {
  return new Error('the stored value has no codec header (written by another client?)')
}

function startsWith(bytes: Buffer, prefix: Buffer): boolean {
  if (bytes.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false
  return true
}
