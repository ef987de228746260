import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { float32Codec, jsonCodec, msgpackCodec, resolveCodec } from '../src/index.js'

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
