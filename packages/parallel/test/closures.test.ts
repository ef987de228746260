import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { type ParallelError, ParallelTaskExecutor, type TaskContext } from '../src/index.js'

const executors: ParallelTaskExecutor[] = []
function executor(options: ConstructorParameters<typeof ParallelTaskExecutor>[0] = {}) {
  const e = new ParallelTaskExecutor(options)
  executors.push(e)
  return e
}
afterEach(async () => {
  await Promise.all(executors.splice(0).map((e) => e.close()))
})

describe('maxWorkers bounds the attempts really running', () => {
  it('a timed-out closure keeps its slot until it settles, retries included', async () => {
    const ex = executor({ maxWorkers: 2, timeout: 20, retries: 2, retryDelay: 1 })
    let running = 0
    let peak = 0
    const aborted: boolean[] = []
    const results = await ex.executeParallel(
      Array.from({ length: 4 }, () => async ({ signal }: TaskContext) => {
        running++
        peak = Math.max(peak, running)
        // Ignores its signal for a while, like code that cannot be interrupted.
        await sleep(60)
        aborted.push(signal.aborted)
        running--
      }),
    )
    expect(results.every((r) => (r.error as ParallelError).code === 'TASK_TIMEOUT')).toBe(true)
    expect(results.every((r) => r.attempts === 3)).toBe(true)
    expect(peak).toBeLessThanOrEqual(2)
    expect(aborted.every(Boolean)).toBe(true)
  })

  it('a cancelled closure keeps its slot too: the next run of the lane waits for it', async () => {
    const ex = executor({ maxWorkers: 1 })
    const controller = new AbortController()
    const order: string[] = []
    const pending = ex.executeParallel(
      [
        async () => {
          await sleep(50)
          order.push('first settled')
        },
        () => order.push('second started'),
      ],
      { signal: controller.signal },
    )
    await sleep(10)
    controller.abort()
    const results = await pending
    expect(results.map((r) => (r.error as ParallelError).code)).toEqual(['CANCELLED', 'CANCELLED'])
    await sleep(80)
    expect(order).toEqual(['first settled'])
  })
})

describe('every closure gets its context, whatever its parameter list', () => {
  it('rest, default and destructured parameters receive it (not decided by fn.length)', async () => {
    const ex = executor({ maxWorkers: 2 })
    const results = await ex.executeParallel(
      [
        (...args: TaskContext[]) => args[0]?.taskId,
        (context: TaskContext = { taskId: 'none' } as TaskContext) => context.taskId,
        ({ index, attempt, signal }: TaskContext) => `${index}:${attempt}:${signal.aborted}`,
      ],
      { taskIds: ['a', 'b', 'c'] },
    )
    expect(results.map((r) => r.result)).toEqual(['a', 'b', '2:1:false'])
    const mapped = await ex.mapParallel(
      (item: string, ...rest: [number, TaskContext]) => `${item}${rest[0]}${rest[1].taskId}`,
      ['x', 'y'],
    )
    expect(mapped.map((r) => r.result)).toEqual(['x00', 'y11'])
  })
})
