import { describe, expect, it } from 'vitest'
import { cacheKey } from '../src/index.js'

describe('cacheKey', () => {
  it('builds bookgen:<prefix>:<parts>', () => {
    expect(cacheKey('user', 123)).toBe('bookgen:user:123')
    expect(cacheKey('validation', 'https://a.org/x')).toBe('bookgen:validation:https://a.org/x')
    expect(cacheKey('page', 'a', 2, true, null)).toBe('bookgen:page:a:2:true:null')
    expect(cacheKey('all')).toBe('bookgen:all')
  })

  it('serialises objects with sorted keys, so equal objects give equal keys', () => {
    expect(cacheKey('q', { b: 2, a: [1, { d: 1, c: 2 }] })).toBe(
      cacheKey('q', { a: [1, { c: 2, d: 1 }], b: 2 }),
    )
    expect(cacheKey('q', { a: 1 })).not.toBe(cacheKey('q', { a: 2 }))
    expect(cacheKey('d', new Date('2024-01-01T00:00:00Z'))).toBe(
      'bookgen:d:2024-01-01T00:00:00.000Z',
    )
  })

  it('hashes long keys, keeping the prefix, short and distinct', () => {
    const a = cacheKey('validation', 'x'.repeat(1000))
    const b = cacheKey('validation', `${'x'.repeat(999)}y`)
    expect(a.startsWith('bookgen:validation:#')).toBe(true)
    expect(a.length).toBeLessThanOrEqual(200)
    expect(a).not.toBe(b)
    expect(cacheKey('validation', 'x'.repeat(1000))).toBe(a)
  })

  it('rejects an empty prefix, functions and circular parts with INVALID_KEY', () => {
    const circular: Record<string, unknown> = {}
    circular.me = circular
    for (const run of [
      () => cacheKey(''),
      () => cacheKey('f', { fn: () => 1 }),
      () => cacheKey('c', circular),
    ]) {
      expect(run).toThrow(expect.objectContaining({ code: 'INVALID_KEY', name: 'CacheError' }))
    }
  })
})
