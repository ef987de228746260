import { describe, isWorkerTask, type WorkerTask } from './defineWorkerTask.js'
import { positiveInteger } from './options.js'
import { ParallelError } from './parallelError.js'
import { runOptions } from './parallelMap.js'
import { ParallelTaskExecutor } from './parallelTaskExecutor.js'
import type { ExecutorOptions, RunOptions } from './types.js'

/** The outcome of one batch (`settle: true`, and in a `BATCH_FAILED` error's `results`). */
export interface BatchOutcome<In, Out> {
  /** Index of the batch. */
  batchIndex: number
  /** Index of the batch's first item in the input. */
  start: number
  /** The batch's items. */
  items: In[]
  /** True when `processBatch` returned an array. */
  success: boolean
  /** What `processBatch` returned, when `success`. */
  results?: Out[]
  /** What it threw (or a ParallelError `INVALID_BATCH_RESULT`), when not `success`. */
  error?: unknown
  /** Run time in seconds. */
  duration: number
}

/** Options of `parallelBatchProcess`. */
export interface BatchProcessOptions
  extends ExecutorOptions,
    Omit<RunOptions, 'onResult' | 'taskIds'> {
  /** Items per batch. @default 10 */
  batchSize?: number
  /**
   * `false`: reject with a ParallelError `BATCH_FAILED` when any batch fails (its `failures`
   * name the batches, items and errors; its `results` hold every BatchOutcome).
   * `true`: resolve with one BatchOutcome per batch instead.
   * @default false
   */
  settle?: boolean
}

/** Batch processor: a closure or a worker task taking an array and returning an array. */
export type BatchProcessor<In, Out> =
  | ((batch: In[], batchIndex: number) => Out[] | PromiseLike<Out[]>)
  | WorkerTask<In[], Out[]>

/**
 * Splits `items` into batches of `batchSize`, runs `processBatch` on the batches in parallel
 * and resolves with the concatenated results in input order. A failed batch is never dropped:
 * by default the call rejects with `BATCH_FAILED`; with `settle: true` it resolves with the
 * per-batch outcomes.
 */
export function parallelBatchProcess<In, Out>(
  items: Iterable<In> | AsyncIterable<In>,
  processBatch: BatchProcessor<In, Out>,
  options: BatchProcessOptions & { settle: true },
): Promise<BatchOutcome<In, Out>[]>
export function parallelBatchProcess<In, Out>(
  items: Iterable<In> | AsyncIterable<In>,
  processBatch: BatchProcessor<In, Out>,
  options?: BatchProcessOptions & { settle?: false },
): Promise<Out[]>
export async function parallelBatchProcess<In, Out>(
  items: Iterable<In> | AsyncIterable<In>,
  processBatch: BatchProcessor<In, Out>,
  options: BatchProcessOptions = {},
): Promise<Out[] | BatchOutcome<In, Out>[]> {
  const batchSize = positiveInteger('options.batchSize', options.batchSize ?? 10)
  if (!isInput(items)) {
    throw new ParallelError(
      'INVALID_ITEMS',
      `items must be an iterable or an async iterable, got ${describe(items)}`,
    )
  }
  if (typeof processBatch !== 'function' && !isWorkerTask(processBatch)) {
    throw new ParallelError(
      'INVALID_TASK',
      `processBatch must be a function or a worker task, got ${describe(processBatch)}`,
    )
  }
  // Sparse arrays keep their holes: slice() copies a hole as a hole, in its place.
  const batches: In[][] = []
  if (Array.isArray(items)) {
    for (let start = 0; start < items.length; start += batchSize) {
      batches.push(items.slice(start, start + batchSize))
    }
  } else {
    let batch: In[] = []
    for await (const item of items as AsyncIterable<In>) {
      batch.push(item)
      if (batch.length === batchSize) {
        batches.push(batch)
        batch = []
      }
    }
    if (batch.length > 0) batches.push(batch)
  }
  const executor = new ParallelTaskExecutor(options)
  let results: Awaited<ReturnType<typeof executor.mapParallel<In[], Out[]>>>
  try {
    results = await executor.mapParallel<In[], Out[]>(
      processBatch as WorkerTask<In[], Out[]>,
      batches,
      runOptions(options),
    )
  } finally {
    await executor.close()
  }
  const outcomes = results.map((result, batchIndex): BatchOutcome<In, Out> => {
    const outcome: BatchOutcome<In, Out> = {
      batchIndex,
      start: batchIndex * batchSize,
      items: batches[batchIndex] as In[],
      success: result.success,
      duration: result.duration,
    }
    if (result.success && !Array.isArray(result.result)) {
      outcome.success = false
      outcome.error = new ParallelError(
        'INVALID_BATCH_RESULT',
        `processBatch must return an array, got ${typeof result.result} for batch ${batchIndex}`,
      )
    } else if (result.success) outcome.results = result.result as Out[]
    else outcome.error = result.error
    return outcome
  })
  if (options.settle === true) return outcomes
  const failures = outcomes.filter((o) => !o.success)
  if (failures.length > 0) {
    const first = failures[0] as BatchOutcome<In, Out>
    throw new ParallelError(
      'BATCH_FAILED',
      `${failures.length} of ${batches.length} batches failed (first: batch ${first.batchIndex}, items ${first.start}..${first.start + first.items.length - 1}: ${(first.error as Error)?.message ?? String(first.error)})`,
      {
        cause: first.error,
        failures: failures.map((f) => ({
          batchIndex: f.batchIndex,
          start: f.start,
          items: f.items,
          error: f.error,
        })),
        results: outcomes,
      },
    )
  }
  // Not flatMap: it would drop the holes of results that mirror a sparse input.
  const out: Out[] = []
  let k = 0
  for (const o of outcomes) {
    const batch = o.results as Out[]
    for (let j = 0; j < batch.length; j++, k++) if (j in batch) out[k] = batch[j] as Out
  }
  out.length = k
  return out
}

function isInput(value: unknown): boolean {
  return (
    value != null &&
    (typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function' ||
      typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
  )
}
