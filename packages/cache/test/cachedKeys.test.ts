import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CacheError, cached, MemoryCache } from '../src/index.js'

const noop = async (..._args: unknown[]) => 1

/** Values that look alike as text: a key encoding that confuses types collides on these. */
const lookalikes: unknown[] = [
  1,
  '1',
  -1,
  '-1',
  0,
  -0,
  '0',
  '-0',
  1.5,
  '1.5',
  1n,
  '1n',
  null,
  'null',
  undefined,
  'undefined',
  true,
  'true',
  false,
  Number.NaN,
  'NaN',
  Number.POSITIVE_INFINITY,
  'Infinity',
  '',
  "'",
  "''",
  '"',
  ':',
  '/',
  '\\',
  '#',
  '@',
  '[]',
  '{}',
  'a',
  'a:b',
  new Date(0),
  '@1970-01-01T00:00:00.000Z',
]
const lookalike = fc.constantFrom(...lookalikes)

const argument = fc.letrec((tie) => ({
  value: fc.oneof(
    { maxDepth: 2, depthIdentifier: 'arg' },
    lookalike,
    fc.string({
      unit: fc.constantFrom(':', '/', '\\', "'", '"', ',', '=', 'a', '1'),
      maxLength: 4,
    }),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', '"', '='), tie('value'), {
      maxKeys: 2,
      noNullPrototype: true,
    }),
    fc.array(fc.tuple(lookalike, tie('value')), { maxLength: 2 }).map((e) => new Map(e)),
    fc.array(lookalike, { maxLength: 3 }).map((items) => new Set(items)),
    fc.constantFrom(new Uint8Array([1, 2]), Buffer.from([1, 2]), new Float32Array([1])),
  ),
})).value

describe('cached() keys', () => {
  it('gives two argument lists the same key only when they are deeply equal (property-based)', () => {
    const fn = cached(noop, { keyPrefix: 'prop' })
    fc.assert(
      fc.property(
        fc.array(argument, { maxLength: 3 }),
        fc.array(argument, { maxLength: 3 }),
        (a, b) => {
          expect(fn.key(...a) === fn.key(...b)).toBe(isDeepStrictEqual(a, b))
        },
      ),
      { numRuns: 20_000 },
    )
  })

  it('gives every pair of look-alike values, bare or nested, different keys (exhaustive)', () => {
    const fn = cached(noop, { keyPrefix: 'pairs' })
    const wraps = [
      (x: unknown) => [x],
      (x: unknown) => [[x]],
      (x: unknown) => [{ a: x }],
      (x: unknown) => [new Set([x])],
      (x: unknown) => [new Map([[x, 1]])],
      (x: unknown) => [x, 'tail'],
    ]
    for (const wrap of wraps) {
      for (const x of lookalikes) {
        for (const y of lookalikes) {
          const [a, b] = [wrap(x), wrap(y)]
          expect(fn.key(...a) === fn.key(...b), `${String(x)} / ${String(y)}`).toBe(
            isDeepStrictEqual(a, b),
          )
        }
      }
    }
  })

  it('keeps arguments of different types apart', () => {
    const fn = cached(noop, { keyPrefix: 'types' })
    const pairs: [unknown, unknown][] = [
      ['123', 123],
      ['null', null],
      [1n, 1],
      ['undefined', undefined],
      [-0, 0],
      [new Map([['a', 1]]), {}],
      [new Set([1]), [1]],
      [new URL('https://a.example/'), 'https://a.example/'],
      [new Date(0), new Date(0).toISOString()],
    ]
    for (const [a, b] of pairs) expect(fn.key(a), String(a)).not.toBe(fn.key(b))
    expect(fn.key('https://a.example/x')).toBe('bookgen:types:https://a.example/x')
    expect(fn.key(42, 'x')).toBe('bookgen:types:42:x')
    expect(fn.key('42')).toBe("bookgen:types:'42")
    expect(fn.key(new Set([2, 1]))).toBe(fn.key(new Set([1, 2])))
    expect(fn.key(new URL('https://a.example/'))).toBe(fn.key(new URL('https://a.example/')))
  })

  it('rejects class instances without a key function, naming the argument', async () => {
    class Source {
      constructor(readonly url: string) {}
    }
    const cache = new MemoryCache()
    try {
      const fn = cached(async (s: Source) => s.url.length, { cache, keyPrefix: 'src' })
      const error = await fn(new Source('https://a.example')).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(CacheError)
      expect(error).toMatchObject({ code: 'INVALID_KEY' })
      expect((error as Error).message).toMatch(/^args\[0\]: class instances .* got a Source$/)
      const keyed = cached(async (s: Source) => s.url.length, {
        cache,
        key: (s) => `src:${s.url}`,
      })
      expect(await keyed(new Source('https://a.example'))).toBe(17)
    } finally {
      await cache.close()
    }
  })

  it('needs a keyPrefix (or key) for an anonymous function', () => {
    expect(() => cached(async () => 1)).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringContaining('options.keyPrefix must be given'),
      }),
    )
    expect(cached(async () => 1, { keyPrefix: 'one' }).key()).toBe('bookgen:one')
    expect(cached(async () => 1, { key: () => 'fixed' }).key()).toBe('fixed')
    for (const keyPrefix of ['', 5]) {
      expect(() => cached(noop, { keyPrefix: keyPrefix as string })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION' }),
      )
    }
    expect(() => cached(noop, { key: 'nope' as never })).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringContaining('options.key'),
      }),
    )
  })
})
