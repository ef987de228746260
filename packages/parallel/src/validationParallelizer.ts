import type { WorkerTask } from './defineWorkerTask.js'
import { percentile } from './metrics.js'
import { type MapFunction, ParallelTaskExecutor } from './parallelTaskExecutor.js'
import type { ExecutorOptions, RunOptions, TaskResult } from './types.js'

/** What `getSummary` returns: the original's fields plus duration percentiles. */
export interface ValidationSummary {
  /** Number of results. */
  total: number
  /** Results with `success`. */
  successful: number
  /** Results without `success`. */
  failed: number
  /** `successful / total`, 0..1 (0 when there are no results). */
  successRate: number
  /** Sum of the durations, in seconds. */
  totalTime: number
  /** Mean duration, in seconds (0 when there are no results). */
  averageTime: number
  /** Median duration, in seconds. */
  p50Duration: number
  /** 95th percentile duration, in seconds. */
  p95Duration: number
  /** One entry per failed result. */
  errors: { taskId: string | number; message: string; error: unknown }[]
}

/** A validator: a closure (in-process) or a worker task (worker threads). */
export type Validator<In, Out> = MapFunction<In, Out> | WorkerTask<In, Out>

/**
 * Validates sources or chapters in parallel on its own executor; task ids are `source_<i>` and
 * `chapter_<i>` like the original. Close it with `close()` or `await using`.
 *
 * @example
 * const v = new ValidationParallelizer({ maxWorkers: 4 })
 * const summary = v.getSummary(await v.validateSourcesParallel(sources, validateSource))
 */
export class ValidationParallelizer implements AsyncDisposable {
  /** The executor doing the work. */
  readonly executor: ParallelTaskExecutor

  constructor(options: ExecutorOptions = {}) {
    this.executor = new ParallelTaskExecutor(options)
  }

  /** Runs `validator` on every source; one TaskResult per source, in input order. */
  validateSourcesParallel<In, Out>(
    sources: Iterable<In> | AsyncIterable<In>,
    validator: Validator<In, Out>,
    options: Omit<RunOptions<Out>, 'taskIds'> = {},
  ): Promise<TaskResult<Out>[]> {
    return this.#validate('source', sources, validator, options)
  }

  /** Runs `validator` on every chapter; one TaskResult per chapter, in input order. */
  validateChaptersParallel<In, Out>(
    chapters: Iterable<In> | AsyncIterable<In>,
    validator: Validator<In, Out>,
    options: Omit<RunOptions<Out>, 'taskIds'> = {},
  ): Promise<TaskResult<Out>[]> {
    return this.#validate('chapter', chapters, validator, options)
  }

  /** Summarises results: counts, success rate, total/average/p50/p95 time (s), errors. */
  getSummary(results: readonly TaskResult<unknown>[]): ValidationSummary {
    const total = results.length
    let successful = 0
    let totalTime = 0
    const durations = new Float64Array(total)
    const errors: ValidationSummary['errors'] = []
    results.forEach((r, i) => {
      if (r.success) successful++
      else {
        const message = (r.error as Error)?.message ?? String(r.error)
        errors.push({ taskId: r.taskId, message, error: r.error })
      }
      totalTime += r.duration
      durations[i] = r.duration
    })
    durations.sort()
    return {
      total,
      successful,
      failed: total - successful,
      successRate: total === 0 ? 0 : successful / total,
      totalTime,
      averageTime: total === 0 ? 0 : totalTime / total,
      p50Duration: percentile(durations, 0.5),
      p95Duration: percentile(durations, 0.95),
      errors,
    }
  }

  /** Closes the executor. */
  close(): Promise<void> {
    return this.executor.close()
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #validate<In, Out>(
    prefix: string,
    items: Iterable<In> | AsyncIterable<In>,
    validator: Validator<In, Out>,
    options: Omit<RunOptions<Out>, 'taskIds'>,
  ): Promise<TaskResult<Out>[]> {
    let list: Iterable<In> | AsyncIterable<In> = items
    if (items != null && !Array.isArray(items) && typeof items === 'object') {
      const collected: In[] = []
      if (Symbol.iterator in items) collected.push(...(items as Iterable<In>))
      else if (Symbol.asyncIterator in items) {
        for await (const item of items as AsyncIterable<In>) collected.push(item)
      }
      list = collected
    }
    const taskIds = Array.isArray(list) ? list.map((_, i) => `${prefix}_${i}`) : undefined
    return this.executor.mapParallel(validator, list, {
      ...options,
      ...(taskIds ? { taskIds } : {}),
    })
  }
}
