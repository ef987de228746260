import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cacheKey } from '../src/index.js'

/** Short strings over the characters the escaping is about, so collisions would be found. */
const trickyString = fc.string({
  unit: fc.constantFrom(':', '/', '\\', '#', 'a', "'", '"', ',', '='),
  maxLength: 6,
})

describe('cacheKey', () => {
  it('builds bookgen:<prefix>:<parts>', () => {
    expect(cacheKey('user', 123)).toBe('bookgen:user:123')
    expect(cacheKey('validation', 'https://a.org/x')).toBe('bookgen:validation:https://a.org/x')
    expect(cacheKey('page', 'a', 2, true, null)).toBe('bookgen:page:a:2:true:null')
    expect(cacheKey('all')).toBe('bookgen:all')
  })

  it('escapes separators, so parts never run into each other', () => {
    expect(cacheKey('a:b')).toBe('bookgen:a\\:b')
    expect(cacheKey('a', 'b')).toBe('bookgen:a:b')
    expect(cacheKey('a:b')).not.toBe(cacheKey('a', 'b'))
    expect(cacheKey('a', 'b:c')).not.toBe(cacheKey('a', 'b', 'c'))
    expect(cacheKey('a', 'x:', '/y')).not.toBe(cacheKey('a', 'x:/y'))
    expect(cacheKey('a', 'http://h:8080/p')).toBe('bookgen:a:http://h\\:8080/p')
  })

  it('is injective over lists of string parts: every key decodes back to its parts (property-based)', () => {
    fc.assert(
      fc.property(
        trickyString.filter((s) => s.length > 0),
        fc.array(trickyString, { maxLength: 4 }),
        (prefix, parts) => {
          expect(decodeKey(cacheKey(prefix, ...parts))).toEqual([prefix, ...parts])
        },
      ),
      { numRuns: 20_000 },
    )
  })

  it('gives different keys to part lists that join to the same text (property-based)', () => {
    fc.assert(
      fc.property(fc.array(trickyString, { minLength: 2, maxLength: 5 }), (parts) => {
        const joined = parts.join(':')
        expect(cacheKey('p', ...parts)).not.toBe(cacheKey('p', joined))
      }),
      { numRuns: 5_000 },
    )
  })

  it('serialises objects with sorted keys, so equal objects give equal keys', () => {
    expect(cacheKey('q', { b: 2, a: [1, { d: 1, c: 2 }] })).toBe(
      cacheKey('q', { a: [1, { c: 2, d: 1 }], b: 2 }),
    )
    expect(cacheKey('q', { a: 1 })).not.toBe(cacheKey('q', { a: 2 }))
    expect(cacheKey('d', new Date('2024-01-01T00:00:00Z'))).toBe(
      'bookgen:d:@2024-01-01T00\\:00\\:00.000Z',
    )
  })

  it('hashes long keys, keeping the prefix, short and distinct', () => {
    const a = cacheKey('validation', 'x'.repeat(1000))
    const b = cacheKey('validation', `${'x'.repeat(999)}y`)
    expect(a.startsWith('bookgen:validation:#')).toBe(true)
    expect(a.length).toBeLessThanOrEqual(200)
    expect(a).not.toBe(b)
    expect(cacheKey('validation', 'x'.repeat(1000))).toBe(a)
    // A part that looks like a hash is escaped, so it never equals a hashed key.
    const lookalike = cacheKey('validation', a.slice('bookgen:validation:'.length))
    expect(lookalike).not.toBe(a)
    expect(lookalike).toBe(`bookgen:validation:\\${a.slice('bookgen:validation:'.length)}`)
  })

  it('rejects an empty prefix, functions, class instances and circular parts with INVALID_KEY', () => {
    const circular: Record<string, unknown> = {}
    circular.me = circular
    class Point {
      x = 1
    }
    for (const run of [
      () => cacheKey(''),
      () => cacheKey('f', { fn: () => 1 }),
      () => cacheKey('c', circular),
      () => cacheKey('p', new Point()),
    ]) {
      expect(run).toThrow(expect.objectContaining({ code: 'INVALID_KEY', name: 'CacheError' }))
    }
    expect(() => cacheKey('p', { at: new Point() })).toThrow('parts[0].at: class instances')
  })
})

/** The reading rule of keys, written independently of the encoder. */
function decodeKey(key: string): string[] {
  expect(key.startsWith('bookgen:')).toBe(true)
  const parts: string[] = []
  let current = ''
  for (let i = 'bookgen:'.length; i < key.length; i++) {
    const c = key[i]!
    if (c === '\\') current += key[++i]
    else if (c === ':' && key[i + 1] !== '/') {
      parts.push(current)
      current = ''
    } else current += c
  }
  parts.push(current)
  return parts
}
