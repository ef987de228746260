// A Redis crash and restart in the middle of a run, on a throwaway redis-server with an
// append-only file (fsync always, so the restart loses nothing acknowledged).
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startRedis } from '../../../tools/testing/servers.mjs'
import { bullmqBackend } from '../src/bullmq/index.js'
import { cleanUp, startWorker, uniqueQueue, type WorkerProcess } from './bullmqWorkers.js'
import registry, { sleepy } from './fixtures/bullmqRegistry.js'

interface RedisHandle {
  url: string
  kill(): Promise<void>
  restart(): Promise<void>
  stop(): Promise<void>
}

let redis: RedisHandle
const queue = uniqueQueue()
let workers: WorkerProcess[] = []
beforeAll(async () => {
  redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] })
  const fast = ['--lock-duration', '2000', '--stalled-interval', '1000']
  workers = await Promise.all([
    startWorker(queue, fast, redis.url),
    startWorker(queue, fast, redis.url),
  ])
})
afterAll(async () => {
  await cleanUp(queue, workers, redis.url).catch(() => {})
  await redis.stop()
})

it('settles every task once when Redis crashes and comes back mid-run', async () => {
  const b = bullmqBackend({ connection: redis.url, queue, tasks: registry, concurrency: 4 })
  try {
    const n = 200
    const items = Array.from({ length: n }, (_, i) => ({ i, ms: 10 }))
    const seen = new Uint8Array(n)
    let crashed: Promise<void> | undefined
    const results = await b.map(sleepy, items, {
      chunkSize: 10,
      onResult: (r) => {
        const i = r.taskId as number
        seen[i] = (seen[i] ?? 0) + 1
        if (crashed === undefined && i >= 0 && seen.reduce((a, c) => a + c, 0) >= 30) {
          crashed = redis
            .kill()
            .then(() => new Promise((resolve) => setTimeout(resolve, 500)))
            .then(() => redis.restart())
        }
      },
    })
    await crashed
    expect(crashed).toBeDefined()
    expect(seen.every((c) => c === 1)).toBe(true)
    expect(results.map((r) => r.error)).toEqual(items.map(() => undefined))
    expect(results.map((r) => r.result)).toEqual(items.map((item) => item.i))
  } finally {
    await b.close()
  }
})
