// The executor behaviour every backend shares, on the BullMQ backend: real Redis, two real
// bookgen-worker processes, `new ParallelTaskExecutor({ backend: bullmqBackend(...) })`.
import { afterAll, beforeAll } from 'vitest'
import { bullmqBackend } from '../src/bullmq/index.js'
import { ParallelTaskExecutor } from '../src/index.js'
import { backendSuite, type SuiteTasks } from './backendSuite.js'
import { cleanUp, redisUrl, startWorker, uniqueQueue, type WorkerProcess } from './bullmqWorkers.js'
import registry, { suiteTasks } from './fixtures/bullmqRegistry.js'

const queue = uniqueQueue()
let workers: WorkerProcess[] = []
beforeAll(async () => {
  workers = await Promise.all([startWorker(queue), startWorker(queue)])
})
afterAll(async () => {
  await cleanUp(queue, workers)
})

const tasks: SuiteTasks = {
  ...suiteTasks,
  // Needs memory shared with the caller: not run on this backend (sharedMemory: false).
  logged: suiteTasks.double as unknown as SuiteTasks['logged'],
}

backendSuite('BullMQ backend (two bookgen-worker processes)', {
  executor: (options = {}) =>
    new ParallelTaskExecutor({
      retryDelay: 1,
      ...options,
      backend: bullmqBackend({ connection: redisUrl, queue, tasks: registry }),
    }),
  tasks,
  sharedMemory: false,
})
