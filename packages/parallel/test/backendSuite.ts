// The behaviour every ChunkBackend must show, run by each backend's test file with its own
// executor factory and task definitions (the local threads: threadBackend.test.ts).
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import type { ParallelError, ParallelTaskExecutor, WorkerTask } from '../src/index.js'

/** The worker tasks the suite needs, defined for the backend under test. */
export interface SuiteTasks {
  /** n => n * 2 */
  double: WorkerTask<number, number>
  /** Throws a RangeError `odd: n` (code E_ODD, details, cause) for odd n, returns n otherwise. */
  failOdd: WorkerTask<number, number>
  /** Busy-waits n ms, returns n. */
  spin: WorkerTask<number, number>
  /** Logs its run in a shared side-effect log, then crashes its worker when id === crashAt. */
  logged: WorkerTask<
    { id: number; log: SharedArrayBuffer; crashAt: number; crash: 'exit'; ms: number },
    number
  >
}

/** Runs the shared behaviour suite against one backend. */
export function backendSuite(
  name: string,
  setup: {
    executor: (options?: { timeout?: number; retries?: number }) => ParallelTaskExecutor
    tasks: SuiteTasks
    /** False for backends whose workers cannot share memory with the caller. */
    sharedMemory?: boolean
  },
): void {
  const { tasks } = setup
  const open: ParallelTaskExecutor[] = []
  const executor = (options?: { timeout?: number; retries?: number }) => {
    const e = setup.executor(options)
    open.push(e)
    return e
  }
  describe(`${name}: the executor behaviour every backend shares`, () => {
    afterEach(async () => {
      await Promise.all(open.splice(0).map((e) => e.close()))
    })

    it('maps in input order, mixed with closures', async () => {
      const ex = executor()
      const items = Array.from({ length: 200 }, (_, i) => i)
      expect(await ex.parallelMap(tasks.double, items)).toEqual(items.map((i) => i * 2))
      const mixed = await ex.executeParallel([tasks.double.with(4), () => 'closure'])
      expect(mixed.map((r) => r.result)).toEqual([8, 'closure'])
    })

    it('fails a throwing task alone, its error keeping class, code, cause and properties', async () => {
      const ex = executor()
      const results = await ex.mapParallel(tasks.failOdd, [0, 1, 2, 3, 4])
      expect(results.map((r) => r.success)).toEqual([true, false, true, false, true])
      const error = results[1]?.error as RangeError & { code: string; details: unknown }
      expect(error).toBeInstanceOf(RangeError)
      expect(error.message).toBe('odd: 1')
      expect(error.code).toBe('E_ODD')
      expect(error.details).toEqual({ n: 1, tags: ['a', 'b'] })
      expect((error.cause as Error).message).toBe('root cause')
    })

    it('times out only the slow task', async () => {
      const ex = executor({ timeout: 400 })
      const results = await ex.mapParallel(tasks.spin, [5, 3000, 5, 5])
      expect(results.map((r) => r.success)).toEqual([true, false, true, true])
      expect((results[1]!.error as ParallelError).code).toBe('TASK_TIMEOUT')
    })

    it('cancels running tasks with a signal, and a stream left early stops them', async () => {
      const ex = executor()
      const controller = new AbortController()
      const pending = ex.mapParallel(tasks.spin, [3000, 3000], { signal: controller.signal })
      await sleep(200)
      controller.abort()
      const results = await pending
      expect(results.map((r) => (r.error as ParallelError).code)).toEqual([
        'CANCELLED',
        'CANCELLED',
      ])
      for await (const r of ex.streamMap(tasks.spin, [1, 3000, 3000])) {
        expect(r.result).toBe(1)
        break
      }
      expect(await ex.parallelMap(tasks.double, [1])).toEqual([2])
    })

    it('retries a failed task and counts its attempts', async () => {
      const ex = executor({ retries: 2 })
      const results = await ex.mapParallel(tasks.failOdd, [2, 3])
      expect(results.map((r) => r.attempts)).toEqual([1, 3])
    })

    // Registered only where the side-effect log can be shared (nothing reported as skipped).
    const withSharedMemory = setup.sharedMemory !== false ? it : undefined
    withSharedMemory?.(
      'a crashing worker costs only its running task: finished ones are never run again',
      async () => {
        const ex = executor()
        const n = 60
        const log = new SharedArrayBuffer(4 * n)
        const items = Array.from({ length: n }, (_, id) => ({
          id,
          log,
          crashAt: 31,
          crash: 'exit' as const,
          ms: 0,
        }))
        const results = await ex.mapParallel(tasks.logged, items)
        const runs = Array.from(new Int32Array(log))
        expect(runs.every((count) => count === 1)).toBe(true)
        expect(results.filter((r) => !r.success).map((r) => r.taskId)).toEqual([31])
        expect((results[31]!.error as ParallelError).code).toBe('WORKER_CRASHED')
      },
    )
  })
}
