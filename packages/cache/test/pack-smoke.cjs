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
  assert.equal(cacheKey('x', { b: 1, a: 2 }), 'bookgen:x:{"a":2,"b":1}')
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
