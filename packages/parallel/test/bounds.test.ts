import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import {
  defineWorkerTask,
  type ExecutorOptions,
  ParallelError,
  ParallelTaskExecutor,
  type TaskResult,
} from '../src/index.js'

const fixtures = new URL('./fixtures/tasks.mjs', import.meta.url)
const double = defineWorkerTask<number, number>(fixtures, 'double')
const spin = defineWorkerTask<number, number>(fixtures, 'spin')
const waitOrFail = defineWorkerTask<number, number>(fixtures, 'waitOrFail')
const fixture = (file: string) => new URL(`./fixtures/${file}`, import.meta.url)

const executors: ParallelTaskExecutor[] = []
function executor(options: ExecutorOptions = {}) {
  const e = new ParallelTaskExecutor({ maxWorkers: 2, ...options })
  executors.push(e)
  return e
}
afterEach(async () => {
  await Promise.all(executors.splice(0).map((e) => e.close()))
})

describe('a worker task timeout counts from the task start', () => {
  it('not from a fresh thread starting and loading the module', async () => {
    // The module takes 1.5 s to load per thread; the second thread loads it inside the run.
    const ex = executor({ threads: 2, timeout: 700 })
    const slowLoadSpin = defineWorkerTask<number, number>(fixture('slowLoad.mjs'), 'spin')
    const results = await ex.mapParallel(slowLoadSpin, [50, 50, 50, 50])
    expect(results.map((r) => r.error)).toEqual([undefined, undefined, undefined, undefined])
    expect(results.map((r) => r.result)).toEqual([50, 50, 50, 50])
    // (counted from the thread start, the 1.5 s load would have timed them out at 700 ms)
    for (const r of results) expect(r.duration).toBeGreaterThanOrEqual(0.045)
  })

  it('times out a task that starts after a slow load on a fresh thread, counted from its start', async () => {
    const ex = executor({ threads: 2, timeout: 700 })
    const slowLoadSpin = defineWorkerTask<number, number>(fixture('slowLoad.mjs'), 'spin')
    const results = await ex.mapParallel(slowLoadSpin, [4000, 4000])
    // The check before the run loads the module on one thread (1.5 s), the other thread loads it
    // inside the run (1.5 s). Both tasks time out on their own clock (TASK_TIMEOUT), not on the
    // load timeout (which would be WORKER_TASK_LOAD_TIMEOUT).
    for (const r of results) {
      expect((r.error as ParallelError).code).toBe('TASK_TIMEOUT')
      expect(r.duration).toBeGreaterThanOrEqual(0.69)
    }
  })

  it('not from the wait behind another call on the same thread', async () => {
    const ex = executor({ threads: 1 })
    const busy = ex.parallelMap(spin, [1500])
    await sleep(100)
    const [timed] = await ex.mapParallel(spin, [20], { timeout: 600 })
    expect(timed).toMatchObject({ success: true, result: 20, attempts: 1 })
    expect(await busy).toEqual([1500])
  })

  it('still times out a task that runs too long, with its duration from its start', async () => {
    const ex = executor({ threads: 1, timeout: 300 })
    const [slow, quick] = await ex.mapParallel(spin, [5000, 10])
    expect((slow!.error as ParallelError).code).toBe('TASK_TIMEOUT')
    expect(slow?.duration).toBeGreaterThanOrEqual(0.29)
    expect(quick).toMatchObject({ success: true, result: 10 })
  })

  it('a timed-out chunk keeps its finished tasks and sends those it never started again', async () => {
    const ex = executor({ threads: 1, timeout: 400, chunkSize: 4 })
    const results = await ex.mapParallel(spin, [5, 5, 3000, 5, 5])
    expect(results.map((r) => r.success)).toEqual([true, true, false, true, true])
    expect((results[2]!.error as ParallelError).code).toBe('TASK_TIMEOUT')
    expect(results.map((r) => r.attempts)).toEqual([1, 1, 1, 1, 1])
    // Chunks travel with a timeout too: [5, 5, 3000, 5], then the one never started and [5].
    expect(ex.getMetrics().threadMessages).toBeLessThan(5)
  })
})

describe('module loads are bounded by loadTimeout', () => {
  it.each([
    ['awaits forever', 'hangsOnLoad.mjs'],
    ['blocks its thread', 'blocksOnLoad.mjs'],
  ])(
    'a module that %s at top level rejects with WORKER_TASK_LOAD_TIMEOUT naming it',
    async (_, file) => {
      const ex = executor({ loadTimeout: 400 })
      const task = defineWorkerTask<number, number>(fixture(file), 'run')
      const error = (await ex.parallelMap(task, [1, 2]).catch((e) => e)) as ParallelError
      expect(error).toBeInstanceOf(ParallelError)
      expect(error.code).toBe('WORKER_TASK_LOAD_TIMEOUT')
      expect(error.message).toContain(file)
      expect(error.message).toContain('"run"')
      expect(error.message).toContain('400 ms')
      // The pool replaced the stuck thread (or it is still usable): other tasks run.
      expect(await ex.parallelMap(double, [1, 2, 3])).toEqual([2, 4, 6])
    },
  )

  it('inline mode bounds an import that awaits forever the same way', async () => {
    const ex = executor({ mode: 'inline', loadTimeout: 300 })
    const task = defineWorkerTask<number, number>(fixture('hangsOnLoad.mjs'), 'run')
    await expect(ex.parallelMap(task, [1])).rejects.toMatchObject({
      code: 'WORKER_TASK_LOAD_TIMEOUT',
    })
  })

  it('a load that hangs on a later thread fails only the tasks sent to that thread', async () => {
    const marker = join(tmpdir(), `bookgen-parallel-hang-${process.pid}-${Date.now()}`)
    process.env.BOOKGEN_PARALLEL_HANG_MARKER = marker
    try {
      const ex = executor({ threads: 2, loadTimeout: 400 })
      const task = defineWorkerTask<number, number>(fixture('hangsWhenMarked.mjs'), 'run')
      // Threads start with the marker absent: the check before the run loads it on one of them.
      expect(await ex.parallelMap(task, [0])).toEqual([0])
      writeFileSync(marker, '')
      const results = await ex.mapParallel(task, [1, 2, 3, 4], { chunkSize: 1 })
      const failed = results.filter((r) => !r.success)
      expect(failed.length).toBeGreaterThan(0)
      for (const r of failed) {
        expect(r.error).toBeInstanceOf(ParallelError)
        expect((r.error as ParallelError).code).toBe('WORKER_TASK_LOAD_TIMEOUT')
        expect((r.error as Error).message).toContain('hangsWhenMarked.mjs')
        expect((r.error as Error).message).toContain('"run"')
      }
      for (const r of results.filter((r) => r.success)) expect(r.result).toBe(Number(r.taskId) + 1)
    } finally {
      delete process.env.BOOKGEN_PARALLEL_HANG_MARKER
      if (existsSync(marker)) rmSync(marker)
    }
  })

  it('rejects a bad loadTimeout with INVALID_OPTION', () => {
    expect(() => new ParallelTaskExecutor({ loadTimeout: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    )
  })
})

describe('parallelMap fail-fast settles every task', () => {
  it('stops running worker chunks: finished tasks keep their results, the rest is cancelled', async () => {
    const ex = executor({ threads: 2, chunkSize: 2 })
    const items = [-1, 0, 3000, 3000, 5, 6, 7, 8, 9, 10, 11, 12]
    const error = (await ex.parallelMap(waitOrFail, items).catch((e) => e)) as ParallelError
    expect(error.code).toBe('TASK_FAILED')
    expect((error.cause as Error).message).toBe('negative: -1')
    const results = error.results as TaskResult<number>[]
    expect(results).toHaveLength(items.length)
    // The failed task's chunk-mate finished: its result is not thrown away.
    expect(results[1]).toMatchObject({ success: true, result: 0 })
    for (const r of results.slice(2, 4)) expect((r.error as ParallelError).code).toBe('CANCELLED')
    // A chunk that a thread had already started may finish a short task first: it is kept.
    results.slice(4).forEach((r, k) => {
      if (r.success) expect(r.result).toBe(items[k + 4])
      else expect((r.error as ParallelError).code).toBe('CANCELLED')
    })
    expect(await ex.parallelMap(double, [2])).toEqual([4])
  })

  it('with a signal, running worker chunks are stopped and settle as cancelled', async () => {
    const ex = executor({ threads: 2 })
    const controller = new AbortController()
    const error = (await ex
      .parallelMap(waitOrFail, [-1, 4000, 4000, 4000], { signal: controller.signal })
      .catch((e) => e)) as ParallelError
    expect(error.code).toBe('TASK_FAILED')
    const [failed, ...rest] = error.results as TaskResult<number>[]
    expect(failed).toMatchObject({ success: false, error: { message: 'negative: -1' } })
    expect(rest.map((r) => [r.success, (r.error as ParallelError).code])).toEqual([
      [false, 'CANCELLED'],
      [false, 'CANCELLED'],
      [false, 'CANCELLED'],
    ])
  })

  it('reports NaN, never a misleading 0, for closure durations it did not measure', async () => {
    const ex = executor({ maxWorkers: 2 })
    const fn = async (n: number) => {
      await sleep(20)
      if (n === 40) throw new Error('forty')
      return n
    }
    const items = Array.from({ length: 48 }, (_, i) => i)
    const error = (await ex.parallelMap(fn, items).catch((e) => e)) as ParallelError
    const ran = (error.results as TaskResult<number>[]).filter(
      (r) => r.success || (r.error as Error).message === 'forty',
    )
    expect(ran.length).toBeGreaterThanOrEqual(41)
    for (const r of ran) {
      if (!Number.isNaN(r.duration)) expect(r.duration).toBeGreaterThanOrEqual(0.015)
    }
    // With onResult every closure is timed.
    const timed = (await ex
      .parallelMap(fn, items, { onResult: () => {} })
      .catch((e) => e)) as ParallelError
    for (const r of timed.results as TaskResult<number>[]) {
      if (r.success) expect(r.duration).toBeGreaterThanOrEqual(0.015)
    }
  })
})
