import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeTagged, decodeTaggedText, NEEDS_BYTES, tagFloat32, tagValue } from '../src/codecs.js'
import { type Codec, float32Codec, jsonCodec, msgpackCodec, resolveCodec } from '../src/index.js'

describe('codecs', () => {
  it('msgpack round-trips JSON values (except __proto__ keys, which msgpackr renames)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value)
        fc.pre(!text.includes('"__proto__"'))
        expect(JSON.stringify(msgpackCodec.decode(msgpackCodec.encode(value)))).toBe(text)
      }),
      { numRuns: 300 },
    )
  })

  it('float32 round-trips any Float32Array, and reads unaligned Buffers', () => {
    fc.assert(
      fc.property(fc.float32Array({ maxLength: 64 }), (vector) => {
        const bytes = float32Codec.encode(vector) as Buffer
        const unaligned = Buffer.concat([Buffer.from([0]), bytes]).subarray(1)
        expect(float32Codec.decode(unaligned)).toEqual(vector)
      }),
    )
  })

  it('json rejects what it would change, with UNENCODABLE_VALUE', () => {
    class Point {
      x = 1
    }
    for (const value of [
      Number.POSITIVE_INFINITY,
      Symbol('s'),
      [1n],
      new Map([['a', 1]]),
      { nested: new Set([1]) },
      new Uint8Array(2),
      new Point(),
      [new Number(1)],
      /re/,
    ]) {
      expect(() => jsonCodec.encode(value)).toThrow(
        expect.objectContaining({ code: 'UNENCODABLE_VALUE' }),
      )
    }
    expect(jsonCodec.encode(new Date(0))).toBe('"1970-01-01T00:00:00.000Z"')
    expect(jsonCodec.encode(Object.assign(Object.create(null), { a: 1 }))).toBe('{"a":1}')
  })

  it('custom codecs need a name that fits the value header', () => {
    const base = { binary: false, encode: String, decode: String }
    for (const name of ['', 'has space', 'x'.repeat(33), 'a\0b', 7]) {
      expect(() => resolveCodec({ ...base, name } as never)).toThrow(
        expect.objectContaining({
          code: 'INVALID_OPTION',
          message: expect.stringContaining('options.codec.name'),
        }),
      )
    }
    expect(resolveCodec({ ...base, name: 'my-codec.v2' }).name).toBe('my-codec.v2')
  })
})

/** The reading of stored bytes every faster path must agree with (as the stores first did it). */
function plainDecode(raw: Buffer, preferred: Codec): unknown {
  const end = raw[0] === 0 ? raw.indexOf(0, 1) : -1
  if (end < 2 || end > 33) {
    throw new Error('the stored value has no codec header (written by another client?)')
  }
  const name = raw.toString('latin1', 1, end)
  const builtIn: Record<string, Codec> = {
    json: jsonCodec,
    msgpack: msgpackCodec,
    float32: float32Codec as Codec,
  }
  const codec = name === preferred.name ? preferred : builtIn[name]
  if (codec === undefined)
    throw new Error(`the stored value was written by the unknown codec "${name}"`)
  const payload = raw.subarray(end + 1)
  return codec.decode(codec.binary ? payload : payload.toString('utf8'))
}

type Outcome = { value: unknown } | { error: string }
function outcome(read: () => unknown): Outcome {
  try {
    return { value: read() }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

const upperCodec: Codec = {
  name: 'upper',
  binary: false,
  encode: (v) => String(v).toUpperCase(),
  decode: (d) => `decoded:${String(d)}`,
}
const readers: Codec[] = [jsonCodec, msgpackCodec, float32Codec as Codec, upperCodec]

/** Stored values as Redis may hold them: every codec's output, foreign text and bytes, odd headers. */
const storedBytes: fc.Arbitrary<Buffer> = fc.oneof(
  fc.jsonValue().map((v) => Buffer.from(tagValue(jsonCodec, jsonCodec.encode(v)) as string)),
  fc
    .jsonValue()
    .filter((v) => !JSON.stringify(v).includes('"__proto__"'))
    .map((v) => tagValue(msgpackCodec, msgpackCodec.encode(v)) as Buffer),
  fc.float32Array({ maxLength: 16 }).map((v) => tagFloat32(v)),
  fc.string().map((s) => Buffer.from(tagValue(upperCodec, upperCodec.encode(s)) as string)),
  fc.string({ unit: 'binary' }).map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)),
  fc
    .tuple(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 16 }))
    .map(([name, rest]) => Buffer.concat([Buffer.from([0]), name, Buffer.from([0]), rest])),
  fc
    .tuple(fc.constantFrom('json', 'msgpack', 'float32', 'upper', 'jsön', 'x'), fc.string())
    .map(([name, rest]) => Buffer.from(`\0${name}\0${rest}`)),
)

describe('tagged values', () => {
  it('decodeTagged reads bytes exactly as the plain decoding does, for every reader', () => {
    fc.assert(
      fc.property(storedBytes, fc.constantFrom(...readers), (raw, reader) => {
        expect(outcome(() => decodeTagged(raw, reader))).toEqual(
          outcome(() => plainDecode(raw, reader)),
        )
      }),
      { numRuns: 2000 },
    )
  })

  it('decodeTaggedText on the UTF-8 text of the bytes gives the same value or error, or asks for the bytes', () => {
    let decided = 0
    fc.assert(
      fc.property(storedBytes, fc.constantFrom(...readers), (raw, reader) => {
        const fromText = outcome(() => decodeTaggedText(raw.toString('utf8'), reader))
        if ('value' in fromText && fromText.value === NEEDS_BYTES) return
        decided++
        expect(fromText).toEqual(outcome(() => plainDecode(raw, reader)))
      }),
      { numRuns: 2000 },
    )
    // Not vacuous: most values of a text reader's own codec, and foreign text, are decided.
    expect(decided).toBeGreaterThan(200)
  })

  it('text reads ask for the bytes of other codecs, and binary readers always do', () => {
    const vector = tagFloat32(new Float32Array([1, 2]))
    expect(decodeTaggedText(vector.toString('utf8'), jsonCodec)).toBe(NEEDS_BYTES)
    expect(decodeTaggedText('\0json\x005', msgpackCodec)).toBe(NEEDS_BYTES)
    expect(decodeTaggedText('\0json\x005', jsonCodec)).toBe(5)
    expect(() => decodeTaggedText('{"a":1}', jsonCodec)).toThrow('no codec header')
  })

  it('tagFloat32 stores what tagValue(float32, encode) stores', () => {
    fc.assert(
      fc.property(fc.float32Array({ maxLength: 64 }), fc.nat(3), (vector, skip) => {
        const view = vector.subarray(Math.min(skip, vector.length))
        expect(tagFloat32(view)).toEqual(tagValue(float32Codec as Codec, float32Codec.encode(view)))
      }),
    )
  })
})
