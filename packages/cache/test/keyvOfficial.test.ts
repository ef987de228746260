// The official Keyv adapter suite (`@keyv/test-suite`: API, values, namespaces, iteration) run
// against KeyvStore over real Redis, the coherent TieredCache and a Redis Cluster.
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite'
import { Cluster } from 'ioredis'
import Keyv from 'keyv'
import * as vitest from 'vitest'
import {
  startRedisCluster,
  type ThrowawayRedisCluster,
} from '../../../tools/testing/redisCluster.mjs'
import { type Cache, RedisCache, TieredCache } from '../src/index.js'
import { KeyvStore } from '../src/keyv.js'
import { REDIS_URL, STEADY, testNamespace } from './helpers.js'

const { afterAll, beforeAll, describe } = vitest

/**
 * Runs the official suites on one cache. The suite calls `store()` for every Keyv it builds and
 * Keyv writes its namespace onto the store, so each call gets its own KeyvStore over the shared cache.
 */
function officialSuite(name: string, open: () => Cache | Promise<Cache>): void {
  describe(`@keyv/test-suite: KeyvStore over ${name}`, () => {
    let cache: Cache
    beforeAll(async () => {
      cache = await open()
    }, 90_000)
    afterAll(async () => {
      await cache?.clear()
      await cache?.close()
    })
    const store = () => new KeyvStore(cache)
    keyvTestSuite(vitest, Keyv, store)
    keyvIteratorTests(vitest, Keyv, store)
  })
}

officialSuite(
  'RedisCache',
  () => new RedisCache({ url: REDIS_URL, namespace: testNamespace('keyv-suite-redis'), ...STEADY }),
)

officialSuite(
  'TieredCache (client tracking)',
  () =>
    new TieredCache({
      remote: { url: REDIS_URL, namespace: testNamespace('keyv-suite-tiered'), ...STEADY },
    }),
)

let cluster: ThrowawayRedisCluster | undefined
let client: Cluster | undefined
afterAll(async () => {
  client?.disconnect()
  await cluster?.stop()
})

officialSuite('RedisCache on a Redis Cluster', async () => {
  cluster = await startRedisCluster({ replicasPerMaster: 0 })
  const c = new Cluster([...cluster.startupNodes], { enableAutoPipelining: true })
  c.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    c.once('ready', () => resolve())
    c.once('error', reject)
  })
  client = c
  return new RedisCache({ client: c, namespace: testNamespace('keyv-suite-cluster'), ...STEADY })
})
