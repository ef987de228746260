import { afterEach, describe, expect, it } from 'vitest'
import {
  defineWorkerTask,
  type ExecutorOptions,
  type ParallelError,
  ParallelTaskExecutor,
} from '../src/index.js'

// With every thread busy, the next chunk is queued on a thread behind its running chunk. These
// tests put chunks there on purpose (fixed chunk sizes, more chunks than threads) and check that
// a queued chunk is never stuck behind a long task, never lost with its thread, and never
// stopped with another run.

const fixtures = new URL('./fixtures/tasks.mjs', import.meta.url)
interface HoldInput {
  hold: boolean
  counter: SharedArrayBuffer
  others: number
  log: SharedArrayBuffer
  id: number
}
const holdOrBump = defineWorkerTask<HoldInput, string>(fixtures, 'holdOrBump')
interface LoggedInput {
  id: number
  log: SharedArrayBuffer
  crashAt: number
  crash: 'exit'
  ms: number
}
const logged = defineWorkerTask<LoggedInput, number>(fixtures, 'logged')
interface MarkInput {
  ms: number
  log: SharedArrayBuffer
  id: number
}
const spinThenMark = defineWorkerTask<MarkInput, number>(fixtures, 'spinThenMark')

const executors: ParallelTaskExecutor[] = []
function executor(options: ExecutorOptions = {}) {
  const e = new ParallelTaskExecutor(options)
  executors.push(e)
  return e
}
afterEach(async () => {
  await Promise.all(executors.splice(0).map((e) => e.close()))
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('a chunk queued behind a running chunk on the same thread', () => {
  it('moves to a thread that went idle: a long task cannot hold it', async () => {
    // Task 0 holds its thread until every other task has run; the chunk queued behind it on that
    // thread can only run if it is taken back and given to the other thread.
    const ex = executor({ threads: 2 })
    const n = 8
    const counter = new SharedArrayBuffer(4)
    const log = new SharedArrayBuffer(4 * n)
    const items = Array.from({ length: n }, (_, id) => ({
      hold: id === 0,
      counter,
      others: n - 1,
      log,
      id,
    }))
    const results = await ex.parallelMap(holdOrBump, items, { chunkSize: 1 })
    expect(results).toEqual(['released', ...Array(n - 1).fill('bumped')])
    expect(Array.from(new Int32Array(log))).toEqual(Array(n).fill(1))
  })

  it('is sent again, not run twice, when the running chunk crashes its thread', async () => {
    const ex = executor({ threads: 1 })
    const n = 12
    const log = new SharedArrayBuffer(4 * n)
    const items = Array.from({ length: n }, (_, id) => ({
      id,
      log,
      crashAt: 1,
      crash: 'exit' as const,
      ms: 2,
    }))
    const results = await ex.mapParallel(logged, items, { chunkSize: 2 })
    expect((results[1]?.error as ParallelError | undefined)?.code).toBe('WORKER_CRASHED')
    expect(results.filter((r) => !r.success).map((r) => r.taskId)).toEqual([1])
    expect(results.map((r) => r.result ?? null)).toEqual(
      items.map((_, id) => (id === 1 ? null : id * 2)),
    )
    expect(Array.from(new Int32Array(log))).toEqual(Array(n).fill(1))
  })

  it('survives every crash of the task ahead of it: 5 crashes, no other task failed or run twice', async () => {
    // Task 0 crashes its thread on every attempt (5 with 4 retries), each time with a chunk
    // queued behind it that never started.
    const ex = executor({ threads: 1, retries: 4, retryDelay: 1 })
    const n = 10
    const log = new SharedArrayBuffer(4 * n)
    const items = Array.from({ length: n }, (_, id) => ({
      id,
      log,
      crashAt: 0,
      crash: 'exit' as const,
      ms: 5,
    }))
    const results = await ex.mapParallel(logged, items, { chunkSize: 1 })
    expect(results[0]).toMatchObject({ success: false, attempts: 5 })
    expect(results.slice(1).map((r) => [r.success, r.result, r.attempts])).toEqual(
      items.slice(1).map((_, k) => [true, (k + 1) * 2, 1]),
    )
    expect(Array.from(new Int32Array(log))).toEqual([5, ...Array(n - 1).fill(1)])
  })

  it('runs after the task ahead of it times out and its thread is stopped', async () => {
    const ex = executor({ threads: 1, timeout: 300 })
    const log = new SharedArrayBuffer(4 * 4)
    const items = [60_000, 0, 0, 0].map((ms, id) => ({ ms, log, id }))
    const results = await ex.mapParallel(spinThenMark, items, { chunkSize: 1 })
    expect((results[0]?.error as ParallelError | undefined)?.code).toBe('TASK_TIMEOUT')
    expect(results.slice(1).map((r) => r.result)).toEqual([1, 2, 3])
    expect(Array.from(new Int32Array(log))).toEqual([0, 1, 1, 1])
  })

  it('is cancelled alone when its run is aborted: the chunk ahead of it, of another run, goes on', async () => {
    const ex = executor({ threads: 1 })
    const log = new SharedArrayBuffer(4 * 2)
    const first = ex.mapParallel(spinThenMark, [{ ms: 1500, log, id: 0 }])
    // The first run's chunk holds the only thread; the second run's chunk queues behind it.
    while (ex.getMetrics().threadMessages < 1) await sleep(5)
    const controller = new AbortController()
    const second = ex.mapParallel(spinThenMark, [{ ms: 0, log, id: 1 }], {
      signal: controller.signal,
    })
    while (ex.getMetrics().threadMessages < 2) await sleep(5)
    controller.abort()
    const [a, b] = await Promise.all([first, second])
    expect(b.map((r) => (r.error as ParallelError).code)).toEqual(['CANCELLED'])
    expect(a.map((r) => [r.success, r.result])).toEqual([[true, 0]])
    expect(Array.from(new Int32Array(log))).toEqual([1, 0])
  })
})
