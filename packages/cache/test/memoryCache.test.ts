import { describe, expect, it } from 'vitest'
import { MemoryCache } from '../src/index.js'

describe('MemoryCache', () => {
  it('evicts the least recently used entry when maxEntries is reached', async () => {
    const cache = new MemoryCache({ maxEntries: 3 })
    await cache.setMany({ a: 1, b: 2, c: 3 }, 60)
    expect(await cache.get('a')).toBe(1) // a is now the most recent
    await cache.set('d', 4, 60)
    expect(await cache.exists('b')).toBe(false)
    expect([...(await cache.getMany(['a', 'c', 'd'])).keys()]).toEqual(['a', 'c', 'd'])
    expect(cache.size).toBe(3)
  })

  it('stays within maxBytes (encoded sizes) and refuses a value larger than the bound', async () => {
    const cache = new MemoryCache({ maxBytes: 100 })
    for (let i = 0; i < 10; i++) await cache.set(`k${i}`, 'x'.repeat(20), 60) // 22 bytes each
    expect(cache.bytes).toBeLessThanOrEqual(100)
    expect(cache.size).toBe(4)
    expect(await cache.get('k9')).toBe('x'.repeat(20))
    expect(await cache.get('k0')).toBeUndefined()
    expect(await cache.set('huge', 'y'.repeat(500), 60)).toBe(false)
    expect(await cache.exists('huge')).toBe(false)
  })

  it('holds values by reference', async () => {
    const cache = new MemoryCache()
    const value = { list: [1, 2] }
    await cache.set('ref', value, 60)
    expect(await cache.get('ref')).toBe(value)
  })

  it('replacing a key keeps the byte count right', async () => {
    const cache = new MemoryCache()
    await cache.set('r', 'abc', 60)
    await cache.set('r', 'abcdef', 60)
    expect(cache.bytes).toBe(8)
    await cache.delete('r')
    expect(cache.bytes).toBe(0)
  })

  it('validates options with codes', () => {
    expect(() => new MemoryCache({ maxEntries: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    )
    expect(() => new MemoryCache({ maxBytes: -1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    )
    expect(() => new MemoryCache({ defaultTtl: 0.5 })).toThrow(
      expect.objectContaining({ code: 'INVALID_TTL' }),
    )
  })
})
