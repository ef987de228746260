// The BullMQ backend on a real Redis Cluster (3 masters, throwaway, on loopback): every key of a
// queue carries the {bookgen} hash tag, so BullMQ's scripts and ours stay in one slot.
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  startRedisCluster,
  type ThrowawayRedisCluster,
} from '../../../tools/testing/redisCluster.mjs'
import { bullmqBackend, serveTasks, type TaskServer } from '../src/bullmq/index.js'
import { uniqueQueue } from './bullmqWorkers.js'
import registry, { double, echo } from './fixtures/bullmqRegistry.js'

let cluster: ThrowawayRedisCluster
let server: TaskServer
const queue = uniqueQueue()
const clients: Cluster[] = []

function connect(): Cluster {
  const client = new Cluster([...cluster.startupNodes], {
    redisOptions: { maxRetriesPerRequest: null },
  })
  clients.push(client)
  return client
}

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 })
  server = await serveTasks({ connection: connect(), queue, tasks: registry, threads: 1 })
})
afterAll(async () => {
  await server?.close()
  for (const client of clients) client.disconnect()
  await cluster?.stop()
})

it('runs, reports and collects a run on a Redis Cluster', async () => {
  const b = bullmqBackend({ connection: connect(), queue, tasks: registry })
  try {
    const items = Array.from({ length: 2000 }, (_, i) => i)
    const results = await b.map(double, items, { runId: 'cluster-run' })
    expect(results.map((r) => r.result)).toEqual(items.map((i) => i * 2))
    const vectors = await b.map(echo, [new Float32Array([0.5, -1])])
    expect(vectors[0]?.result).toEqual(new Float32Array([0.5, -1]))
    const again = await b.collect('cluster-run')
    expect(again.map((r) => r.result)).toEqual(items.map((i) => i * 2))
  } finally {
    await b.close()
  }
})
