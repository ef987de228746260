// Runs in a fresh project with only the packed tarball installed (tools/pack-check.mjs).
import assert from 'node:assert/strict'
import { CacheError, cached, cacheKey, float32Codec, MemoryCache } from '@bookgen/cache'
import { KeyvStore } from '@bookgen/cache/keyv'

const cache = new MemoryCache({ maxEntries: 10 })
await cache.set('a', { ok: true }, 60)
assert.deepEqual(await cache.get('a'), { ok: true })
assert.equal(await cache.get('missing'), undefined)
assert.equal(cacheKey('user', 123), 'bookgen:user:123')
let calls = 0
const f = cached(async (n) => ++calls * n, { cache, ttl: 60, keyPrefix: 'smoke' })
await Promise.all([f(2), f(2), f(2)])
assert.equal(calls, 1)
const v = float32Codec.decode(float32Codec.encode(new Float32Array([1.5])))
assert.equal(v[0], 1.5)
await assert.rejects(cache.set('', 1), (e) => e instanceof CacheError && e.code === 'INVALID_KEY')
assert.deepEqual(await new KeyvStore(cache).getMany(['a', 'none']), [{ ok: true }, undefined])
await cache.close()
console.log('esm ok')
