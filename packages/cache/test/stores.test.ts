import { MemoryCache, RedisCache, TieredCache } from '../src/index.js'
import { describeCacheSuite } from './cacheSuite.js'
import { REDIS_URL, testNamespace } from './helpers.js'

describeCacheSuite('MemoryCache', () => new MemoryCache({ namespace: testNamespace('memory') }))

describeCacheSuite(
  'RedisCache',
  () => new RedisCache({ url: REDIS_URL, namespace: testNamespace('redis') }),
)

describeCacheSuite(
  'TieredCache',
  () =>
    new TieredCache({
      remote: new RedisCache({ url: REDIS_URL, namespace: testNamespace('tiered') }),
      memory: { maxEntries: 1000 },
    }),
)
