import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import {
  type BatchOutcome,
  defineWorkerTask,
  ParallelError,
  parallelBatchProcess,
  ValidationParallelizer,
} from '../src/index.js'

describe('parallelBatchProcess', () => {
  it('returns the concatenated results in input order', async () => {
    const items = Array.from({ length: 23 }, (_, i) => i)
    const seenSizes: number[] = []
    const out = await parallelBatchProcess(
      items,
      async (batch: number[]) => {
        seenSizes.push(batch.length)
        await sleep(Math.random() * 10)
        return batch.map((n) => n * n)
      },
      { batchSize: 5, maxWorkers: 3 },
    )
    expect(out).toEqual(items.map((n) => n * n))
    expect(seenSizes.sort((a, b) => a - b)).toEqual([3, 5, 5, 5, 5])
  })

  it('rejects with BATCH_FAILED naming the failed batches, their items and errors', async () => {
    const error = (await parallelBatchProcess(
      [1, 2, 3, 4, 5, 6, 7],
      (batch: number[]) => {
        if (batch.includes(4)) throw new Error('bad batch')
        return batch
      },
      { batchSize: 3, maxWorkers: 2 },
    ).catch((e) => e)) as ParallelError
    expect(error).toBeInstanceOf(ParallelError)
    expect(error.code).toBe('BATCH_FAILED')
    expect(error.message).toContain('1 of 3 batches failed')
    expect(error.failures).toEqual([
      { batchIndex: 1, start: 3, items: [4, 5, 6], error: expect.any(Error) },
    ])
    const outcomes = error.results as BatchOutcome<number, number>[]
    expect(outcomes.map((o) => o.success)).toEqual([true, false, true])
    expect(outcomes[0]?.results).toEqual([1, 2, 3])
    expect(outcomes[2]?.results).toEqual([7])
  })

  it('with settle: true returns per-batch outcomes, including non-array results as failures', async () => {
    const outcomes = await parallelBatchProcess(
      ['a', 'b', 'c'],
      (batch: string[], index) => (index === 1 ? (null as unknown as string[]) : batch),
      { batchSize: 1, settle: true },
    )
    expect(outcomes.map((o) => o.success)).toEqual([true, false, true])
    expect((outcomes[1]!.error as ParallelError).code).toBe('INVALID_BATCH_RESULT')
    expect(outcomes[1]?.items).toEqual(['b'])
  })

  it('accepts a worker task as the batch processor', async () => {
    const sum = defineWorkerTask<number[], number[]>(
      `data:text/javascript,export const sums = (b) => [b.reduce((a, x) => a + x, 0)]`,
      'sums',
    )
    expect(await parallelBatchProcess([1, 2, 3, 4, 5], sum, { batchSize: 2 })).toEqual([3, 7, 5])
  })
})

describe('ValidationParallelizer', () => {
  it('validates sources and chapters in parallel and summarises like the original', async () => {
    await using v = new ValidationParallelizer({ maxWorkers: 4 })
    const sources = [{ url: 'a' }, { url: '' }, { url: 'c' }, { url: 'd' }]
    const results = await v.validateSourcesParallel(sources, async (s) => {
      await sleep(10)
      if (!s.url) throw new Error('empty url')
      return { valid: true }
    })
    expect(results.map((r) => r.taskId)).toEqual(['source_0', 'source_1', 'source_2', 'source_3'])
    const summary = v.getSummary(results)
    expect(summary).toMatchObject({ total: 4, successful: 3, failed: 1, successRate: 0.75 })
    expect(summary.errors).toEqual([
      { taskId: 'source_1', message: 'empty url', error: expect.any(Error) },
    ])
    expect(summary.totalTime).toBeGreaterThan(0.03)
    expect(summary.averageTime).toBeCloseTo(summary.totalTime / 4, 6)
    expect(summary.p50Duration).toBeGreaterThan(0.005)
    expect(summary.p95Duration).toBeGreaterThanOrEqual(summary.p50Duration)

    const chapters = await v.validateChaptersParallel(['x', 'y'], (c: string) => c.length)
    expect(chapters.map((r) => [r.taskId, r.result])).toEqual([
      ['chapter_0', 1],
      ['chapter_1', 1],
    ])
    expect(v.getSummary([])).toMatchObject({ total: 0, successRate: 0, averageTime: 0 })
  })

  it('runs 10 validations of 100 ms on 4 workers in 3 waves', async () => {
    await using v = new ValidationParallelizer({ maxWorkers: 4 })
    const started = performance.now()
    let running = 0
    const concurrency: number[] = []
    const results = await v.validateSourcesParallel(Array.from({ length: 10 }), async () => {
      concurrency.push(++running)
      await sleep(100)
      running--
    })
    const elapsed = performance.now() - started
    expect(results.every((r) => r.success)).toBe(true)
    // 4 at once from the start, never more: waves of 4, 4 and 2, so at least 3 × 100 ms
    expect(concurrency.slice(0, 4)).toEqual([1, 2, 3, 4])
    expect(Math.max(...concurrency)).toBe(4)
    expect(elapsed).toBeGreaterThanOrEqual(295)
  })
})
