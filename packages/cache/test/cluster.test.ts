// RedisCache on a real local Redis Cluster: 3 masters + 3 replicas started once for this file.
import fc from 'fast-check'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  redisCli,
  startRedisCluster,
  type ThrowawayRedisCluster,
} from '../../../tools/testing/redisCluster.mjs'
import { waitFor } from '../../../tools/testing/servers.mjs'
import { clusterSlot } from '../src/clusterSlot.js'
import { CacheError, RedisCache } from '../src/index.js'
import { describeCacheSuite } from './cacheSuite.js'
import { STEADY, sleep, testNamespace } from './helpers.js'

let cluster: ThrowawayRedisCluster
let client: Cluster

function connect(): Promise<Cluster> {
  const c = new Cluster([...cluster.startupNodes], {
    // The client's own (long) timeout: the cache's bound must hold anyway.
    redisOptions: { commandTimeout: 1000 },
    enableAutoPipelining: true,
    clusterRetryStrategy: () => 100,
  })
  c.on('error', () => {})
  return new Promise((resolve, reject) => {
    c.once('ready', () => resolve(c))
    c.once('error', reject)
  })
}

beforeAll(async () => {
  cluster = await startRedisCluster()
  client = await connect()
}, 90_000)

afterAll(async () => {
  client?.disconnect()
  await cluster?.stop()
})

describeCacheSuite(
  'RedisCache on a Redis Cluster',
  () => new RedisCache({ client, namespace: testNamespace('cluster-suite'), ...STEADY }),
)

describe('RedisCache on a Redis Cluster', () => {
  it('computes the hash slot of every key like the cluster does (property-based)', async () => {
    const port = cluster.nodes[0]!.port
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ minLength: 1, maxLength: 12 }),
          fc
            .tuple(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }))
            .map(([a, b]) => `${a}{${b}}x`),
        ),
        async (key) => {
          fc.pre(!key.includes('\n') && !key.includes('\r') && !key.includes('\0'))
          const expected = Number((await redisCli(port, 'cluster', 'keyslot', key)).trim())
          expect(clusterSlot(key)).toBe(expected)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('reads, writes, batches and clears across every master, leaving foreign keys', async () => {
    const cache = new RedisCache({ client, namespace: testNamespace('cluster') })
    const entries = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, { i }]))
    expect(await cache.setMany(entries, 60)).toBe(true)
    expect(await cache.get('k7')).toEqual({ i: 7 })
    const found = await cache.getMany(['k1', 'k150', 'k299', 'missing'])
    expect([...found.keys()]).toEqual(['k1', 'k150', 'k299'])
    // The keys really are spread over the three masters.
    const perMaster = await Promise.all(client.nodes('master').map((n) => n.dbsize()))
    expect(perMaster.filter((count) => count > 0)).toHaveLength(3)
    await client.set('foreign:key', 'stays')
    expect(await cache.clear()).toBe(300)
    expect(await cache.getMany(['k1', 'k150'])).toEqual(new Map())
    expect(await client.get('foreign:key')).toBe('stays')
    await client.del('foreign:key')
    await cache.close()
    expect(client.status).toBe('ready')
  })

  it('a master killed mid-load: only its keys fail, within the bound; clear() reports it, then covers the promoted master', async () => {
    const cache = new RedisCache({
      client,
      namespace: testNamespace('cluster-fault'),
      commandTimeout: 250,
    })
    const keys = Array.from({ length: 200 }, (_, i) => `f${i}`)
    expect(await cache.setMany(Object.fromEntries(keys.map((k) => [k, k])), 120)).toBe(true)
    const [victim] = await cluster.masters()
    const victimAddress = `127.0.0.1:${victim!.port}`
    const slotOwner = (key: string) => client.slots[clusterSlot(`${cache.keyPrefix}${key}`)]?.[0]
    const onVictim = keys.filter((k) => slotOwner(k) === victimAddress)
    const elsewhere = keys.filter((k) => slotOwner(k) !== victimAddress)
    expect(onVictim.length).toBeGreaterThan(0)

    let stop = false
    let thrown = 0
    let late = 0
    let calls = 0
    /** Runs one call against a timer of commandTimeout + 20 ms started with it. */
    const inBound = async (call: () => Promise<unknown>) => {
      let fired = false
      const timer = setTimeout(() => {
        fired = true
      }, 250 + 20)
      try {
        await call()
      } finally {
        clearTimeout(timer)
        calls++
        if (fired) late++
      }
    }
    const load = (async () => {
      let i = 0
      while (!stop) {
        const key = keys[i++ % keys.length]!
        await Promise.all([
          inBound(() => cache.get(key)),
          inBound(() => cache.set(key, key, 120)),
        ]).catch(() => thrown++)
        await sleep(2)
      }
    })()
    await sleep(100)
    await victim!.kill()
    // Before a replica took over, clear() cannot reach that master: a coded error, not a silent 0.
    const incomplete = await cache.clear().then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(incomplete).toBeInstanceOf(CacheError)
    expect(incomplete).toMatchObject({ code: 'CLEAR_INCOMPLETE', removed: expect.any(Number) })
    expect((incomplete as Error).message).toContain(String(victim!.port))

    // Healthy masters keep taking writes while the dead one's breaker is open.
    for (let round = 0; round < 10; round++) {
      for (const key of onVictim.slice(0, 3)) await cache.get(key)
    }
    expect(cache.getHealth().circuit).not.toBe('closed')
    // (Keys the load does not touch, served by the other masters.)
    const healthy = Array.from({ length: 200 }, (_, i) => `h${i}`)
      .filter((k) => slotOwner(k) !== victimAddress)
      .slice(0, 50)
    // On a busy machine one call can miss its 250 ms deadline (a false / a miss, fail-soft):
    // tried until every write and read lands, well before the failover below.
    await waitFor(
      async () =>
        (await Promise.all(healthy.map((k) => cache.set(k, 'still', 120)))).every(Boolean),
      20_000,
      'writes to the healthy masters while the dead one is out',
    )
    await waitFor(
      async () => (await Promise.all(healthy.map((k) => cache.get(k)))).every((v) => v === 'still'),
      20_000,
      'reads from the healthy masters',
    )
    expect(elsewhere.length).toBeGreaterThan(0)

    await cluster.failMaster(victim!)
    stop = true
    await load
    expect(thrown).toBe(0)
    // Every call of the load, through the kill and the failover, came back within its bound.
    expect(calls).toBeGreaterThan(0)
    expect(late).toBe(0)
    // After the failover the promoted replica serves the slots: writes there work again.
    await waitFor(
      async () => (await cache.set(onVictim[0]!, 'back', 120)) === true,
      20_000,
      'writes to the promoted master',
    )
    // clear() asks the cluster for its masters again: the promoted one is cleared too.
    const removed = await cache.clear()
    expect(removed).toBeGreaterThan(0)
    const leftovers = await Promise.all(
      [...keys, ...healthy].map((k) => client.exists(`${cache.keyPrefix}${k}`)),
    )
    expect(leftovers.reduce((a, b) => a + b, 0)).toBe(0)
    await victim!.restart()
    await cache.close()
  }, 120_000)
})
