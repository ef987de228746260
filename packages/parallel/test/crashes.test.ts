import { afterEach, describe, expect, it } from 'vitest'
import {
  defineWorkerTask,
  type ExecutorOptions,
  type ParallelError,
  ParallelTaskExecutor,
} from '../src/index.js'

const fixtures = new URL('./fixtures/tasks.mjs', import.meta.url)
interface LoggedInput {
  id: number
  log: SharedArrayBuffer
  crashAt: number
  crash: 'exit' | 'uncaught' | 'memory' | 'throw'
  ms: number
  mixed?: boolean
}
const logged = defineWorkerTask<LoggedInput, number | number[]>(fixtures, 'logged')

/**
 * Crash runs cost a thread restart each (tens of ms, far more on a loaded machine): CI runs a
 * sample; `BOOKGEN_CRASH_RUNS=200` runs the full stress.
 */
const RUNS = Number(process.env.BOOKGEN_CRASH_RUNS ?? 16)

const executors: ParallelTaskExecutor[] = []
function executor(options: ExecutorOptions = {}) {
  const e = new ParallelTaskExecutor(options)
  executors.push(e)
  return e
}
afterEach(async () => {
  await Promise.all(executors.splice(0).map((e) => e.close()))
})

/** Runs `n` logged tasks, one of them crashing its thread; checks isolation and exactly-once. */
async function crashRun(
  ex: ParallelTaskExecutor,
  n: number,
  crash: LoggedInput['crash'],
  crashAt: number,
  ms: number,
  mixed = false,
) {
  const log = new SharedArrayBuffer(4 * n)
  const items = Array.from({ length: n }, (_, id) => ({ id, log, crashAt, crash, ms, mixed }))
  const results = await ex.mapParallel(logged, items)
  const runs = Array.from(new Int32Array(log))
  expect(results).toHaveLength(n)
  const healthyFailures = results.filter((r, id) => id !== crashAt && !r.success)
  const reruns = runs.filter((count, id) => id !== crashAt && count !== 1)
  const plain = (r: { result?: unknown }) => (Array.isArray(r.result) ? r.result[0] : r.result)
  const wrong = results.filter((r, id) => id !== crashAt && plain(r) !== id * 2)
  expect({ healthyFailures, reruns, wrong }).toEqual({ healthyFailures: [], reruns: [], wrong: [] })
  expect(results.map((r) => r.taskId)).toEqual(items.map((_, id) => id))
  const failed = results[crashAt]
  expect(failed?.success).toBe(false)
  expect(runs[crashAt]).toBe(1)
  return failed?.error as ParallelError
}

describe('a crashing worker thread fails only the task it was running (default options)', () => {
  it('process.exit at a random task of many runs: no healthy failure, no re-run, nothing lost', async () => {
    // One executor, threads reused across runs: each run kills one thread, the pool replaces it.
    const ex = executor({ threads: 2 })
    for (let round = 0; round < RUNS; round++) {
      const n = 20 + Math.floor(Math.random() * 60)
      const crashAt = Math.floor(Math.random() * n)
      const error = await crashRun(ex, n, 'exit', crashAt, round % 3 === 0 ? 1 : 0)
      expect(error.code).toBe('WORKER_CRASHED')
    }
  })

  it('many short runs with tiny tasks in auto-sized chunks keep every finished result', async () => {
    const ex = executor({ threads: 2 })
    for (let round = 0; round < RUNS; round++) {
      const n = 200 + Math.floor(Math.random() * 300)
      const crashAt = Math.floor(Math.random() * n)
      await crashRun(ex, n, round % 2 === 0 ? 'exit' : 'uncaught', crashAt, 0, round % 4 < 2)
    }
  })

  it.each([
    ['an uncaught exception', 'uncaught', {}],
    ['the heap limit', 'memory', { resourceLimits: { maxOldGenerationSizeMb: 32 } }],
  ] as const)('%s fails only its own task, in chunks of 20 ms tasks', async (_, crash, extra) => {
    const ex = executor({ threads: 2, ...extra })
    for (let round = 0; round < 2; round++) {
      const n = 30
      const error = await crashRun(ex, n, crash, Math.floor(Math.random() * n), 20)
      expect(error.code).toBe('WORKER_CRASHED')
    }
  })

  it('with retries, the crashed task runs again and succeeds elsewhere only if it stops crashing', async () => {
    const ex = executor({ threads: 2, retries: 1, retryDelay: 1 })
    const n = 40
    const log = new SharedArrayBuffer(4 * n)
    const items = Array.from({ length: n }, (_, id) => ({
      id,
      log,
      crashAt: 7,
      crash: 'exit' as const,
      ms: 0,
    }))
    const results = await ex.mapParallel(logged, items)
    const runs = Array.from(new Int32Array(log))
    expect(runs[7]).toBe(2)
    expect(results[7]).toMatchObject({ success: false, attempts: 2 })
    expect(runs.filter((c, id) => id !== 7 && c !== 1)).toEqual([])
    expect(results.filter((r) => r.success)).toHaveLength(n - 1)
  })
})
