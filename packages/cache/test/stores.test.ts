import { MemoryCache, RedisCache, TieredCache } from '../src/index.js'
import { describeCacheSuite } from './cacheSuite.js'
import { REDIS_URL, STEADY, testNamespace } from './helpers.js'

describeCacheSuite('MemoryCache', () => new MemoryCache({ namespace: testNamespace('memory') }))

describeCacheSuite(
  'RedisCache',
  () => new RedisCache({ url: REDIS_URL, namespace: testNamespace('redis'), ...STEADY }),
)

describeCacheSuite(
  'TieredCache',
  () =>
    new TieredCache({
      remote: new RedisCache({ url: REDIS_URL, namespace: testNamespace('tiered'), ...STEADY }),
      memory: { maxEntries: 1000 },
    }),
)
