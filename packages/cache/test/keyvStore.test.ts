import { createCache } from 'cache-manager'
import Keyv from 'keyv'
import { afterEach, describe, expect, it } from 'vitest'
import { type Cache, MemoryCache, RedisCache, TieredCache } from '../src/index.js'
import { KeyvStore } from '../src/keyv.js'
import { REDIS_URL, STEADY, sleep, testNamespace } from './helpers.js'

const stores: [string, () => Cache][] = [
  ['MemoryCache', () => new MemoryCache({ namespace: testNamespace('keyv-memory') })],
  [
    'RedisCache',
    () => new RedisCache({ url: REDIS_URL, namespace: testNamespace('keyv-redis'), ...STEADY }),
  ],
  [
    'TieredCache',
    () =>
      new TieredCache({
        remote: { url: REDIS_URL, namespace: testNamespace('keyv-tiered'), ...STEADY },
      }),
  ],
]

for (const [name, open] of stores) {
  describe(`KeyvStore over ${name}`, () => {
    const opened: Cache[] = []
    const keyv = (namespace?: string, cache = open()) => {
      opened.push(cache)
      return new Keyv({ store: new KeyvStore(cache), ...(namespace ? { namespace } : {}) })
    }

    afterEach(async () => {
      for (const cache of opened.splice(0)) {
        await cache.clear()
        await cache.close()
      }
    })

    it('gets, sets, deletes and checks keys, keeping null and falsy values', async () => {
      const kv = keyv()
      expect(await kv.get('missing')).toBeUndefined()
      expect(await kv.set('a', { deep: [1, 'two'] })).toBe(true)
      expect(await kv.get('a')).toEqual({ deep: [1, 'two'] })
      for (const [k, v] of [
        ['n', null],
        ['zero', 0],
        ['empty', ''],
        ['no', false],
      ] as const) {
        await kv.set(k, v)
        expect(await kv.get(k)).toBe(v)
      }
      expect(await kv.has('a')).toBe(true)
      expect(await kv.delete('a')).toBe(true)
      expect(await kv.has('a')).toBe(false)
      expect(await kv.delete('a')).toBe(false)
      await kv.set('m1', 1)
      await kv.set('m2', 2)
      expect(await kv.get(['m1', 'nope', 'm2'])).toEqual([1, undefined, 2])
      expect(await kv.delete(['m1', 'm2'])).toBe(true)
    })

    it('expires values after their TTL in milliseconds', async () => {
      const kv = keyv()
      await kv.set('short', 'v', 300)
      await kv.set('long', 'v', 60_000)
      expect(await kv.get('short')).toBe('v')
      await sleep(450)
      expect(await kv.get('short')).toBeUndefined()
      expect(await kv.get('long')).toBe('v')
    })

    it('keeps Keyv namespaces apart: clear() and iterator() see only their own keys', async () => {
      const cache = open()
      const a = keyv('a', cache)
      const b = new Keyv({ store: new KeyvStore(cache), namespace: 'b' })
      await a.set('k1', 'a1')
      await a.set('k2', 'a2')
      await b.set('k1', 'b1')
      expect(await a.get('k1')).toBe('a1')
      expect(await b.get('k1')).toBe('b1')
      const seen: [string, unknown][] = []
      for await (const entry of a.iterator!(undefined)) seen.push(entry as [string, unknown])
      expect(seen.sort()).toEqual([
        ['k1', 'a1'],
        ['k2', 'a2'],
      ])
      await a.clear()
      expect(await a.get('k1')).toBeUndefined()
      expect(await b.get('k1')).toBe('b1')
    })

    it('serves cache-manager through Keyv', async () => {
      const cm = createCache({ stores: [keyv('cm')] })
      await cm.set('user:1', { name: 'Marie' }, 60_000)
      expect(await cm.get('user:1')).toEqual({ name: 'Marie' })
      expect(await cm.wrap('computed', async () => 42, 60_000)).toBe(42)
      expect(await cm.get('computed')).toBe(42)
    })
  })
}

describe('KeyvStore', () => {
  it('answers a dead Redis with misses, within the bound, instead of errors', async () => {
    const cache = new RedisCache({
      url: 'redis://127.0.0.1:1',
      namespace: testNamespace('keyv-dead'),
    })
    const kv = new Keyv({ store: new KeyvStore(cache) })
    const errors: unknown[] = []
    kv.on('error', (e) => errors.push(e))
    expect(await kv.get('k')).toBeUndefined()
    expect(await kv.set('k', 1)).toBe(false)
    expect(errors).toEqual([])
    await cache.close()
  })

  it('rejects what is not a cache with INVALID_ARGUMENT', () => {
    expect(() => new KeyvStore({} as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', name: 'CacheError' }),
    )
  })
})
