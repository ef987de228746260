// Runs in a fresh project with only the packed tarball installed (tools/pack-check.mjs).
const assert = require('node:assert/strict')
const { CacheError, MemoryCache, TieredCache, cacheKey } = require('@bookgen/cache')

async function main() {
  const cache = new MemoryCache()
  await cache.setMany({ a: 1, b: null }, 60)
  assert.deepEqual(
    [...(await cache.getMany(['a', 'b', 'c']))],
    [
      ['a', 1],
      ['b', null],
    ],
  )
  assert.equal(cacheKey('x', { b: 1, a: 2 }), 'bookgen:x:{"a"=2,"b"=1}')
  // The Keyv adapter works without keyv installed (it is an optional peer).
  const { KeyvStore } = require('@bookgen/cache/keyv')
  const store = new KeyvStore(cache)
  assert.equal(await store.set('kv', 'v', 1000), true)
  assert.equal(await store.get('kv'), 'v')
  assert.equal(typeof TieredCache, 'function')
  await assert.rejects(
    cache.set('k', 10n),
    (e) => e instanceof CacheError && e.code === 'UNENCODABLE_VALUE',
  )
  await cache.close()
  console.log('cjs ok')
}
main().catch((error) => {
  console.error(error)
  process.exit(1)
})
