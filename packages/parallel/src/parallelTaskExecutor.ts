import { availableParallelism } from 'node:os'
import { findUncloneable } from './cloneCheck.js'
import {
  type BoundWorkerTask,
  defineWorkerTask,
  describe,
  isBoundWorkerTask,
  isWorkerTask,
  type WorkerTask,
  workerTaskKey,
} from './defineWorkerTask.js'
import { MetricsRecorder } from './metrics.js'
import { ParallelError } from './parallelError.js'
import { type RunConfig, type RunSource, type Sink, TaskRun } from './taskRun.js'
import type {
  ExecutorMetrics,
  ExecutorOptions,
  RunOptions,
  Task,
  TaskContext,
  TaskResult,
} from './types.js'
import { loadTimeoutError, WorkerPool } from './workerPool.js'

/** A closure for `mapParallel` / `parallelMap`: called with the item, its index and a context. */
export type MapFunction<In, Out> = (
  item: In,
  index: number,
  context: TaskContext,
) => Out | PromiseLike<Out>

/** The value type a task produces: a closure's awaited return type or a worker task's output. */
export type TaskOutput<T> =
  T extends BoundWorkerTask<infer Out>
    ? Out
    : T extends (...args: never[]) => infer R
      ? Awaited<R>
      : never

/** The defaults of every option, in one place. */
export const DEFAULT_OPTIONS = {
  maxWorkers: Math.min(32, availableParallelism() + 4),
  mode: 'threads',
  timeout: undefined,
  loadTimeout: 30_000,
  retries: 0,
  retryDelay: 100,
  maxRetryDelay: 10_000,
  chunkSize: 'auto',
} as const

interface Resolved {
  maxWorkers: number
  threads: number
  mode: 'threads' | 'inline'
  timeout: number | undefined
  loadTimeout: number
  retries: number
  retryDelay: number
  maxRetryDelay: number
  chunkSize: number | 'auto'
}

/**
 * Runs independent tasks in parallel and returns one `TaskResult` per task, in input order.
 * Closures run concurrently in-process (at most `maxWorkers` in flight: I/O-bound work); worker
 * tasks (`defineWorkerTask`) run on a lazily created tinypool of worker threads (CPU-bound work).
 * Close it with `close()` or `await using`.
 *
 * @example
 * const executor = new ParallelTaskExecutor({ maxWorkers: 4 })
 * const results = await executor.executeParallel([() => validate(a), () => validate(b)])
 */
export class ParallelTaskExecutor implements AsyncDisposable {
  readonly #options: Resolved
  readonly #metrics: MetricsRecorder
  #pool: WorkerPool | undefined
  readonly #inline = new Map<string, Promise<(input: unknown) => unknown>>()
  readonly #runs = new Set<TaskRun>()
  #closed = false

  constructor(options: ExecutorOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new ParallelError(
        'INVALID_OPTION',
        `options must be an object, got ${describe(options)}`,
      )
    }
    const maxWorkers = positiveInteger(
      'options.maxWorkers',
      options.maxWorkers ?? DEFAULT_OPTIONS.maxWorkers,
    )
    const threads = positiveInteger(
      'options.threads',
      options.threads ?? Math.min(maxWorkers, availableParallelism()),
    )
    const mode = options.mode ?? DEFAULT_OPTIONS.mode
    if (mode !== 'threads' && mode !== 'inline') {
      throw new ParallelError(
        'INVALID_OPTION',
        `options.mode must be 'threads' or 'inline', got ${describe(mode)}`,
      )
    }
    this.#options = {
      maxWorkers,
      threads,
      mode,
      timeout: optionalTimeout('options.timeout', options.timeout),
      loadTimeout: optionalTimeout(
        'options.loadTimeout',
        options.loadTimeout ?? DEFAULT_OPTIONS.loadTimeout,
      ) as number,
      retries: nonNegativeInteger('options.retries', options.retries ?? DEFAULT_OPTIONS.retries),
      retryDelay: nonNegativeNumber(
        'options.retryDelay',
        options.retryDelay ?? DEFAULT_OPTIONS.retryDelay,
      ),
      maxRetryDelay: nonNegativeNumber(
        'options.maxRetryDelay',
        options.maxRetryDelay ?? DEFAULT_OPTIONS.maxRetryDelay,
      ),
      chunkSize: chunkSizeOption(options.chunkSize ?? DEFAULT_OPTIONS.chunkSize),
    }
    this.#metrics = new MetricsRecorder(maxWorkers, threads)
    if (mode === 'threads') {
      this.#pool = new WorkerPool({
        threads,
        resourceLimits: options.resourceLimits,
        loadTimeout: this.#options.loadTimeout,
        setup:
          options.workerSetup === undefined
            ? undefined
            : defineWorkerTask(options.workerSetup).moduleUrl,
      })
    }
  }

  /** In-process concurrency: most closures in flight at once. */
  get maxWorkers(): number {
    return this.#options.maxWorkers
  }

  /** Worker threads used for worker tasks. */
  get threads(): number {
    return this.#options.threads
  }

  /** `'threads'` or `'inline'`. */
  get mode(): 'threads' | 'inline' {
    return this.#options.mode
  }

  /**
   * Runs every task; resolves with one `TaskResult` per task, in input order, once all settled.
   * Never rejects because a task failed: failures are in the results. Rejects (ParallelError)
   * only for bad input: options, a non-task, a missing worker module/export, an uncloneable input.
   */
  async executeParallel<Tasks extends Task<unknown>>(
    tasks: Iterable<Tasks>,
    options: RunOptions<TaskOutput<Tasks>> = {},
  ): Promise<TaskResult<TaskOutput<Tasks>>[]> {
    type T = TaskOutput<Tasks>
    const source = await this.#taskSource(tasks)
    const results: TaskResult<T>[] = new Array(source.n)
    await this.#run(source, options, false, this.#resultSink(results, options))
    return results
  }

  /**
   * Runs `fn` on every item: a closure (in-process) or a worker task (worker threads).
   * Resolves with one `TaskResult` per item, in input order.
   */
  async mapParallel<In, Out>(
    fn: MapFunction<In, Out> | WorkerTask<In, Out>,
    items: Iterable<In>,
    options: RunOptions<Out> = {},
  ): Promise<TaskResult<Out>[]> {
    const source = await this.#mapSource(fn, items)
    const results: TaskResult<Out>[] = new Array(source.n)
    await this.#run(source, options, false, this.#resultSink(results, options))
    return results
  }

  /**
   * Like `mapParallel` but resolves with the plain values, in input order (duplicates and
   * objects are fine: results are matched by index).
   *
   * Fail-fast: on the first failure (once its retries are used up) nothing new starts. Tasks not
   * started yet, closures still running (their context `signal` is aborted) and worker tasks that
   * can be stopped (the call has a `signal` or a `timeout`) settle as `CANCELLED`; worker chunks
   * already on a thread that cannot be stopped finish, and their tasks keep their real outcome.
   * Then it rejects with a ParallelError `TASK_FAILED` whose `cause` is the first failure's error
   * and whose `results` holds one TaskResult per task (a `duration` is `NaN` where it was not
   * measured: without `onResult`, only a sample of closures is timed).
   */
  async parallelMap<In, Out>(
    fn: MapFunction<In, Out> | WorkerTask<In, Out>,
    items: Iterable<In>,
    options: RunOptions<Out> = {},
  ): Promise<Out[]> {
    const source = await this.#mapSource(fn, items)
    const values: Out[] = new Array(source.n)
    const durations = new Float64Array(source.n)
    const attemptsOf = new Uint16Array(source.n)
    const errors = new Map<number, unknown>()
    let firstFailure: number | undefined
    const { onResult, taskIds } = options
    const sink: Sink = (i, success, value, error, ms, attempts) => {
      if (success) values[i] = value as Out
      else {
        errors.set(i, error)
        if (firstFailure === undefined) firstFailure = i
      }
      durations[i] = ms
      attemptsOf[i] = attempts
      onResult?.(toResult<Out>(i, success, value, error, ms, attempts, taskIds))
    }
    await this.#run(source, options, true, sink)
    if (firstFailure !== undefined) {
      const all = Array.from({ length: source.n }, (_, i) =>
        toResult<Out>(
          i,
          !errors.has(i),
          values[i],
          errors.get(i),
          durations[i] as number,
          attemptsOf[i] as number,
          taskIds,
        ),
      )
      const failed = all[firstFailure] as TaskResult<Out>
      throw new ParallelError(
        'TASK_FAILED',
        `task ${failed.taskId} failed: ${(failed.error as Error)?.message ?? String(failed.error)}`,
        { cause: failed.error, results: all },
      )
    }
    return values
  }

  /**
   * Runs the tasks and yields each `TaskResult` as soon as its task settles (completion order).
   * Breaking out of the loop cancels what is left; results already yielded are kept.
   */
  stream<Tasks extends Task<unknown>>(
    tasks: Iterable<Tasks>,
    options: RunOptions<TaskOutput<Tasks>> = {},
  ): AsyncIterableIterator<TaskResult<TaskOutput<Tasks>>> {
    return this.#stream(() => this.#taskSource(tasks), options)
  }

  /** `mapParallel` as a stream of results in completion order (see `stream`). */
  streamMap<In, Out>(
    fn: MapFunction<In, Out> | WorkerTask<In, Out>,
    items: Iterable<In>,
    options: RunOptions<Out> = {},
  ): AsyncIterableIterator<TaskResult<Out>> {
    return this.#stream(() => this.#mapSource(fn, items), options)
  }

  /** Run time and wait time percentiles (ms), outcomes and utilization since construction. */
  getMetrics(): ExecutorMetrics {
    return this.#metrics.snapshot()
  }

  /**
   * Cancels unfinished tasks (they settle as `CANCELLED`) and terminates the worker threads.
   * Idempotent; the executor cannot be used afterwards.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const reason = new ParallelError('CANCELLED', 'the executor was closed')
    for (const run of this.#runs) run.cancel(reason)
    await this.#pool?.close()
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  // ---- internals ----

  async #run(
    source: RunSource,
    options: RunOptions<never> | RunOptions<unknown>,
    stopOnError: boolean,
    sink: Sink,
    started?: (run: TaskRun) => void,
  ): Promise<void> {
    this.#assertOpen()
    const config = this.#config(source.n, options, stopOnError)
    // Plain values without an onResult callback need no per-task durations.
    config.timeEveryTask = !stopOnError || options.onResult !== undefined
    config.chainTiming = options.onResult === undefined
    const run = new TaskRun(source, config, sink)
    this.#runs.add(run)
    try {
      started?.(run)
      run.start()
      await run.finished
    } finally {
      this.#runs.delete(run)
    }
    if (run.sinkError !== undefined) {
      throw new ParallelError('CALLBACK_FAILED', 'an onResult callback threw', {
        cause: run.sinkError,
      })
    }
  }

  #config(
    n: number,
    options: RunOptions<never> | RunOptions<unknown>,
    stopOnError: boolean,
  ): RunConfig {
    if (options === null || typeof options !== 'object') {
      throw new ParallelError(
        'INVALID_OPTION',
        `options must be an object, got ${describe(options)}`,
      )
    }
    const o = this.#options
    const { signal, taskIds, onResult } = options
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new ParallelError(
        'INVALID_OPTION',
        `options.signal must be an AbortSignal, got ${describe(signal)}`,
      )
    }
    if (onResult !== undefined && typeof onResult !== 'function') {
      throw new ParallelError(
        'INVALID_OPTION',
        `options.onResult must be a function, got ${describe(onResult)}`,
      )
    }
    if (taskIds !== undefined && (!Array.isArray(taskIds) || taskIds.length !== n)) {
      throw new ParallelError(
        'INVALID_OPTION',
        `options.taskIds must be an array of ${n} ids, got ${describe(taskIds)}`,
      )
    }
    return {
      maxWorkers: o.maxWorkers,
      threads: o.threads,
      timeout:
        'timeout' in options ? optionalTimeout('options.timeout', options.timeout) : o.timeout,
      retries:
        options.retries === undefined
          ? o.retries
          : nonNegativeInteger('options.retries', options.retries),
      retryDelay:
        options.retryDelay === undefined
          ? o.retryDelay
          : nonNegativeNumber('options.retryDelay', options.retryDelay),
      maxRetryDelay: o.maxRetryDelay,
      chunkSize: options.chunkSize === undefined ? o.chunkSize : chunkSizeOption(options.chunkSize),
      signal,
      taskIds,
      pool: this.#pool,
      metrics: this.#metrics,
      stopOnError,
      timeEveryTask: true,
      chainTiming: false,
    }
  }

  #resultSink<T>(results: TaskResult<T>[], options: RunOptions<T>): Sink {
    const { onResult, taskIds } = options
    return (i, success, value, error, ms, attempts) => {
      const result = toResult<T>(i, success, value, error, ms, attempts, taskIds)
      results[i] = result
      onResult?.(result)
    }
  }

  #stream<T>(
    makeSource: () => Promise<RunSource>,
    options: RunOptions<T>,
  ): AsyncIterableIterator<TaskResult<T>> {
    const queue: TaskResult<T>[] = []
    let wake: (() => void) | undefined
    let done = false
    let failure: unknown
    let run: TaskRun | undefined
    let closing = false
    const onResult = options.onResult
    const sink: Sink = (i, success, value, error, ms, attempts) => {
      const result = toResult<T>(i, success, value, error, ms, attempts, options.taskIds)
      queue.push(result)
      onResult?.(result)
      wake?.()
    }
    const finished = (async () => {
      try {
        const source = await makeSource()
        await this.#run(source, options, false, sink, (r) => {
          run = r
          if (closing) r.cancel(streamClosed())
        })
      } catch (error) {
        failure = error
      } finally {
        done = true
        wake?.()
      }
    })()
    const stop = async () => {
      closing = true
      run?.cancel(streamClosed())
      await finished
    }
    const iterator: AsyncIterableIterator<TaskResult<T>> = {
      async next() {
        for (;;) {
          if (queue.length > 0) return { value: queue.shift() as TaskResult<T>, done: false }
          if (done) {
            if (failure !== undefined) {
              const error = failure
              failure = undefined
              throw error
            }
            return { value: undefined, done: true }
          }
          await new Promise<void>((resolve) => {
            wake = resolve
          })
          wake = undefined
        }
      },
      async return() {
        await stop()
        queue.length = 0
        return { value: undefined, done: true }
      },
      [Symbol.asyncIterator]() {
        return iterator
      },
    }
    return iterator
  }

  async #taskSource(tasks: Iterable<Task<unknown>>): Promise<RunSource> {
    this.#assertOpen()
    const list = toArray('tasks', tasks)
    const closures: (((context: TaskContext) => unknown) | undefined)[] = new Array(list.length)
    const bound: (BoundWorkerTask<unknown> | undefined)[] = new Array(list.length)
    const defs = new Map<string, WorkerTask<unknown, unknown>>()
    for (let i = 0; i < list.length; i++) {
      const task = list[i]
      if (typeof task === 'function') closures[i] = task
      else if (isBoundWorkerTask(task)) {
        bound[i] = task
        defs.set(workerTaskKey(task.task), task.task)
        this.#assertCloneable(task.input, `tasks[${i}]`)
      } else {
        throw new ParallelError(
          'INVALID_TASK',
          `tasks[${i}] must be a function or a bound worker task (workerTask.with(input)), got ${describe(task)}`,
        )
      }
    }
    const inline = await this.#prepare([...defs.values()])
    return {
      n: list.length,
      hasWorkers: defs.size > 0,
      call(i, context) {
        const fn = closures[i]
        if (fn !== undefined) return fn.length === 0 ? (fn as () => unknown)() : fn(context(i))
        const b = bound[i] as BoundWorkerTask<unknown>
        const run = inline?.get(workerTaskKey(b.task)) as (input: unknown) => unknown
        return run(b.input)
      },
      worker: (i) => bound[i]?.task,
      input: (i) => bound[i]?.input,
    }
  }

  async #mapSource<In, Out>(
    fn: MapFunction<In, Out> | WorkerTask<In, Out>,
    items: Iterable<In>,
  ): Promise<RunSource> {
    this.#assertOpen()
    if (typeof fn !== 'function' && !isWorkerTask(fn)) {
      throw new ParallelError(
        'INVALID_TASK',
        `fn must be a function or a worker task (defineWorkerTask), got ${describe(fn)}`,
      )
    }
    const list = toArray('items', items)
    if (typeof fn === 'function') {
      const wantsContext = fn.length >= 3
      return {
        n: list.length,
        hasWorkers: false,
        call: (i, context) =>
          wantsContext
            ? fn(list[i] as In, i, context(i))
            : (fn as (item: In, index: number) => unknown)(list[i] as In, i),
        worker: () => undefined,
        input: () => undefined,
      }
    }
    const task = fn as WorkerTask<unknown, unknown>
    if (this.#pool !== undefined) {
      for (let i = 0; i < list.length; i++) this.#assertCloneable(list[i], `items[${i}]`)
    }
    const inline = await this.#prepare([task])
    const run = inline?.get(workerTaskKey(task))
    return {
      n: list.length,
      hasWorkers: true,
      call: (i) => (run as (input: unknown) => unknown)(list[i]),
      worker: () => task,
      input: (i) => list[i],
    }
  }

  /** Checks worker tasks exist: on a thread (threads mode) or by importing them (inline mode). */
  async #prepare(
    defs: WorkerTask<unknown, unknown>[],
  ): Promise<Map<string, (input: unknown) => unknown> | undefined> {
    if (defs.length === 0) return undefined
    if (this.#pool !== undefined) {
      const pool = this.#pool
      await Promise.all(defs.map((def) => pool.probe(def)))
      return undefined
    }
    const map = new Map<string, (input: unknown) => unknown>()
    for (const def of defs) {
      const key = workerTaskKey(def)
      let fn = this.#inline.get(key)
      if (fn === undefined) {
        fn = importInline(def, this.#options.loadTimeout)
        this.#inline.set(key, fn)
        fn.catch(() => this.#inline.delete(key))
      }
      map.set(key, await fn)
    }
    return map
  }

  #assertCloneable(value: unknown, what: string): void {
    if (this.#pool === undefined) return
    const path = findUncloneable(value)
    if (path !== undefined) {
      throw new ParallelError(
        'NOT_CLONEABLE',
        `${what}${path} cannot be cloned to a worker thread (functions, symbols, promises and weak collections cannot cross threads)`,
      )
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new ParallelError('CLOSED', 'the executor is closed')
  }
}

function streamClosed(): ParallelError {
  return new ParallelError('CANCELLED', 'the stream was closed before the end')
}

function toResult<T>(
  i: number,
  success: boolean,
  value: unknown,
  error: unknown,
  ms: number,
  attempts: number,
  taskIds: readonly (string | number)[] | undefined,
): TaskResult<T> {
  const duration = ms / 1000
  const taskId = taskIds?.[i] ?? i
  // Two literal shapes, no property added later: cheap to create by the hundred thousand.
  return success
    ? { success, result: value as T, duration, taskId, attempts }
    : { success, error, duration, taskId, attempts }
}

async function importInline(
  def: WorkerTask<unknown, unknown>,
  loadTimeout: number,
): Promise<(input: unknown) => unknown> {
  const what = `worker task "${def.exportName}" from module ${def.moduleUrl}`
  let mod: Record<string, unknown>
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    // Ref'd on purpose, like the task timeouts: the caller is awaiting this load.
    timer = setTimeout(() => reject(loadTimeoutError(def, loadTimeout)), loadTimeout)
  })
  try {
    mod = (await Promise.race([import(def.moduleUrl), expired])) as Record<string, unknown>
  } catch (error) {
    if (error instanceof ParallelError) throw error
    const code = (error as { code?: unknown })?.code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ENOENT') {
      throw new ParallelError(
        'WORKER_TASK_NOT_FOUND',
        `${what}: the module ${def.moduleUrl} was not found (export "${def.exportName}")`,
        { cause: error },
      )
    }
    throw new ParallelError(
      'WORKER_TASK_LOAD_FAILED',
      `${what}: the module threw while loading: ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    )
  } finally {
    clearTimeout(timer)
  }
  const fn = mod[def.exportName]
  if (typeof fn !== 'function') {
    throw new ParallelError(
      'WORKER_TASK_NOT_FOUND',
      `${what}: the module has no exported function "${def.exportName}"`,
    )
  }
  return fn as (input: unknown) => unknown
}

function toArray<T>(name: string, items: Iterable<T>): T[] {
  if (Array.isArray(items)) return items
  if (items == null || typeof (items as Iterable<T>)[Symbol.iterator] !== 'function') {
    throw new ParallelError('INVALID_ITEMS', `${name} must be iterable, got ${describe(items)}`)
  }
  return Array.from(items)
}

/** Validates a positive integer option. */
export function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ParallelError(
      'INVALID_OPTION',
      `${name} must be a positive integer, got ${describe(value)}`,
    )
  }
  return value
}

function nonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1000) {
    throw new ParallelError(
      'INVALID_OPTION',
      `${name} must be an integer from 0 to 1000, got ${describe(value)}`,
    )
  }
  return value
}

function nonNegativeNumber(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ParallelError(
      'INVALID_OPTION',
      `${name} must be a finite number >= 0, got ${describe(value)}`,
    )
  }
  return value
}

function optionalTimeout(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 2 ** 31 - 1) {
    throw new ParallelError(
      'INVALID_OPTION',
      `${name} must be a positive number of milliseconds, got ${describe(value)}`,
    )
  }
  return value
}

function chunkSizeOption(value: unknown): number | 'auto' {
  if (value === 'auto') return value
  return positiveInteger('options.chunkSize', value)
}
