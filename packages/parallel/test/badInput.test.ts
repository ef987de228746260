import { describe, expect, it } from 'vitest'
import {
  defineWorkerTask,
  ParallelError,
  ParallelTaskExecutor,
  parallelBatchProcess,
  parallelMap,
} from '../src/index.js'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ParallelError)
    expect((error as ParallelError).name).toBe('ParallelError')
    return (error as ParallelError).code
  }
  return undefined
}

describe('bad input', () => {
  it.each([0, -1, 1.5, Number.NaN, '4'])('rejects maxWorkers %s with INVALID_OPTION', (value) => {
    expect(codeOf(() => new ParallelTaskExecutor({ maxWorkers: value as number }))).toBe(
      'INVALID_OPTION',
    )
  })

  it('names the option and the value in the message', () => {
    expect(() => new ParallelTaskExecutor({ maxWorkers: 0 })).toThrow(
      'options.maxWorkers must be a positive integer, got 0',
    )
  })

  it('rejects other bad options', () => {
    expect(codeOf(() => new ParallelTaskExecutor({ threads: 0 }))).toBe('INVALID_OPTION')
    expect(codeOf(() => new ParallelTaskExecutor({ timeout: -5 }))).toBe('INVALID_OPTION')
    expect(codeOf(() => new ParallelTaskExecutor({ retries: -1 }))).toBe('INVALID_OPTION')
    expect(codeOf(() => new ParallelTaskExecutor({ chunkSize: 0 }))).toBe('INVALID_OPTION')
    expect(codeOf(() => new ParallelTaskExecutor({ mode: 'fork' as 'inline' }))).toBe(
      'INVALID_OPTION',
    )
    expect(codeOf(() => defineWorkerTask('./relative.mjs', 'x'))).toBe('INVALID_OPTION')
    expect(codeOf(() => defineWorkerTask('/abs/path.mjs', ''))).toBe('INVALID_OPTION')
  })

  it('rejects batchSize <= 0 or non-integer', async () => {
    for (const batchSize of [0, -3, 2.5]) {
      await expect(parallelBatchProcess([1], (b) => b, { batchSize })).rejects.toMatchObject({
        code: 'INVALID_OPTION',
      })
    }
  })

  it('rejects non-function tasks and non-iterable items', async () => {
    const ex = new ParallelTaskExecutor()
    try {
      await expect(ex.executeParallel([() => 1, 42 as never])).rejects.toMatchObject({
        code: 'INVALID_TASK',
        message: expect.stringContaining('tasks[1]'),
      })
      await expect(ex.executeParallel(5 as never)).rejects.toMatchObject({ code: 'INVALID_ITEMS' })
      await expect(ex.mapParallel('nope' as never, [1])).rejects.toMatchObject({
        code: 'INVALID_TASK',
      })
      await expect(parallelMap((x: number) => x, null as never)).rejects.toMatchObject({
        code: 'INVALID_ITEMS',
      })
      await expect(parallelBatchProcess({} as never, (b) => b)).rejects.toMatchObject({
        code: 'INVALID_ITEMS',
      })
      await expect(parallelBatchProcess([1], 'x' as never)).rejects.toMatchObject({
        code: 'INVALID_TASK',
      })
      await expect(ex.executeParallel([() => 1], { taskIds: ['a', 'b'] })).rejects.toMatchObject({
        code: 'INVALID_OPTION',
      })
      await expect(ex.executeParallel([() => 1], { timeout: 0 })).rejects.toMatchObject({
        code: 'INVALID_OPTION',
      })
    } finally {
      await ex.close()
    }
  })
})
