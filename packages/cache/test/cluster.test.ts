// RedisCache on a real local 3-master Redis Cluster (redis-server --cluster-enabled yes).
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type ThrowawayRedis, waitFor } from '../../../tools/testing/servers.mjs'
import { RedisCache } from '../src/index.js'
import { testNamespace } from './helpers.js'

const run = promisify(execFile)

describe('RedisCache on a Redis Cluster', () => {
  const nodes: ThrowawayRedis[] = []
  let cluster: Cluster

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await startRedis({
          args: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'],
        }),
      )
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ])
    await waitFor(
      async () => {
        const { stdout } = await run('redis-cli', ['-p', String(nodes[0]!.port), 'cluster', 'info'])
        return stdout.includes('cluster_state:ok')
      },
      15_000,
      'cluster_state:ok',
    )
    cluster = new Cluster(
      nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      { redisOptions: { commandTimeout: 1000 }, enableAutoPipelining: true },
    )
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', resolve)
      cluster.once('error', reject)
    })
  }, 60_000)

  afterAll(async () => {
    cluster?.disconnect()
    for (const node of nodes) await node.stop()
  })

  it('reads, writes, batches and clears across every master, leaving foreign keys', async () => {
    const cache = new RedisCache({ client: cluster, namespace: testNamespace('cluster') })
    const entries = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, { i }]))
    expect(await cache.setMany(entries, 60)).toBe(true)
    expect(await cache.get('k7')).toEqual({ i: 7 })
    const found = await cache.getMany(['k1', 'k150', 'k299', 'missing'])
    expect([...found.keys()]).toEqual(['k1', 'k150', 'k299'])
    // The keys really are spread over the three masters.
    const perMaster = await Promise.all(cluster.nodes('master').map((n) => n.dbsize()))
    expect(perMaster.filter((count) => count > 0)).toHaveLength(3)
    await cluster.set('foreign:key', 'stays')
    expect(await cache.clear()).toBe(300)
    expect(await cache.getMany(['k1', 'k150'])).toEqual(new Map())
    expect(await cluster.get('foreign:key')).toBe('stays')
    await cache.close()
    expect(cluster.status).toBe('ready')
  })
})
