import type { WorkerTask } from './defineWorkerTask.js'
import { type MapFunction, ParallelTaskExecutor } from './parallelTaskExecutor.js'
import type { ExecutorOptions, RunOptions } from './types.js'

/** Options of the standalone `parallelMap`: the executor's options plus the per-call ones. */
export type ParallelMapOptions<Out> = ExecutorOptions & RunOptions<Out>

/**
 * Maps `items` through `fn` in parallel and resolves with the plain results in input order
 * (matched by index, so duplicate and object items are fine). `fn` is a closure (in-process,
 * at most `maxWorkers` in flight) or a worker task (worker threads). Uses a short-lived
 * executor, closed before it returns. Fail-fast: on the first failure nothing new starts, what
 * can be stopped is cancelled, and it rejects with a ParallelError `TASK_FAILED` carrying every
 * TaskResult in `results` (see `ParallelTaskExecutor.parallelMap` for the exact semantics).
 *
 * @example
 * const lengths = await parallelMap(async (url) => (await fetch(url)).status, urls, { maxWorkers: 4 })
 */
export async function parallelMap<In, Out>(
  fn: MapFunction<In, Out> | WorkerTask<In, Out>,
  items: Iterable<In> | AsyncIterable<In>,
  options: ParallelMapOptions<Out> = {},
): Promise<Out[]> {
  const executor = new ParallelTaskExecutor(options)
  try {
    return await executor.parallelMap(fn, items, runOptions(options))
  } finally {
    await executor.close()
  }
}

/** Picks the per-call options out of combined options. */
export function runOptions<T>(options: ExecutorOptions & RunOptions<T>): RunOptions<T> {
  const picked: RunOptions<T> = {}
  if (options.signal !== undefined) picked.signal = options.signal
  if (options.taskIds !== undefined) picked.taskIds = options.taskIds
  if (options.onResult !== undefined) picked.onResult = options.onResult
  return picked
}
