// Runs in a fresh project with only the packed tarball installed (ESM).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  defineWorkerTask,
  ParallelTaskExecutor,
  parallelBatchProcess,
  parallelMap,
} from '@bookgen/parallel'

const file = join(process.cwd(), 'smoke-task.mjs')
writeFileSync(file, 'export const square = (n) => n * n\n')
const square = defineWorkerTask(file, 'square')
const executor = new ParallelTaskExecutor({ maxWorkers: 2 })
const onThreads = await executor.parallelMap(square, [1, 2, 3, 3])
const closures = await executor.executeParallel([() => 'a', async () => 'b', square.with(5)])
await executor.close()
const mapped = await parallelMap((n) => n + 1, [1, 1])
const batched = await parallelBatchProcess([1, 2, 3], (b) => b.map((n) => -n), { batchSize: 2 })
const got = JSON.stringify([onThreads, closures.map((r) => r.result), mapped, batched])
if (got !== '[[1,4,9,9],["a","b",25],[2,2],[-1,-2,-3]]') throw new Error(`unexpected ${got}`)

// The BullMQ backend is a subpath; bullmq is an optional peer, not installed here.
const { bullmqBackend, defineTaskRegistry } = await import('@bookgen/parallel/bullmq')
const remote = bullmqBackend({
  connection: 'redis://127.0.0.1:1',
  queue: 'smoke',
  tasks: defineTaskRegistry({ square }),
})
const missing = await remote.map(square, [1]).then(
  () => 'resolved',
  (error) => error.code,
)
if (missing !== 'DRIVER_MISSING') throw new Error(`expected DRIVER_MISSING, got ${missing}`)
console.log('esm ok')
