import type { ResourceLimits } from 'node:worker_threads'
import type { BoundWorkerTask } from './defineWorkerTask.js'

/** The outcome of one task. One per task, in input order. */
export interface TaskResult<T = unknown> {
  /** True when the task returned (or resolved) a value. */
  success: boolean
  /** The value, when `success`. */
  result?: T
  /** What the task threw, or a `ParallelError` (`TASK_TIMEOUT`, `CANCELLED`, `WORKER_CRASHED`...). */
  error?: unknown
  /**
   * Run time of the last attempt, in seconds (0 for a cancelled task). `NaN`
   * when it was not measured: in the `results` of a `TASK_FAILED` rejection of `parallelMap`
   * without `onResult`, which times only a sample of its closures.
   */
  duration: number
  /** The id given in `taskIds`, or the task's index. */
  taskId: string | number
  /** How many times the task was started (1 + retries used; 0 if it never started). */
  attempts: number
}

/** What a closure task receives. */
export interface TaskContext {
  /** The id given in `taskIds`, or the task's index. */
  taskId: string | number
  /** Index of the task in the input. */
  index: number
  /** 1 for the first attempt, 2 for the first retry... */
  attempt: number
  /** Aborted when the run is cancelled or this attempt times out: pass it to your I/O. */
  signal: AbortSignal
}

/** A task for `executeParallel`: a closure (run in-process) or a bound worker task. */
export type Task<T> = ((context: TaskContext) => T | PromiseLike<T>) | BoundWorkerTask<T>

/** Options of `ParallelTaskExecutor` (and of the standalone helpers). */
export interface ExecutorOptions {
  /**
   * Most closures in flight at once (in-process concurrency); the default of `threads` derives from it.
   * @default Math.min(32, os.availableParallelism() + 4)  (like Python's ThreadPoolExecutor)
   */
  maxWorkers?: number
  /**
   * Worker threads for worker tasks (created on first use, reused until `close()`).
   * @default Math.min(maxWorkers, os.availableParallelism())
   */
  threads?: number
  /**
   * `'threads'` runs worker tasks on worker threads; `'inline'` runs the same tasks on the main
   * thread (tests, tiny inputs, environments without workers).
   * @default 'threads'
   */
  mode?: 'threads' | 'inline'
  /**
   * Per-attempt timeout in ms, counted from the task's own start (for a worker task: when its
   * thread starts running it, after the thread started and loaded the module). With a timeout,
   * worker tasks are sent one per message, so a timed-out thread takes no other task with it.
   * @default undefined (none)
   */
  timeout?: number
  /**
   * Bound of loading a worker task's module on a thread (with `workerSetup`), in ms, counted from
   * the start of the load: a module that hangs at top level fails with `WORKER_TASK_LOAD_TIMEOUT`
   * naming the module and export (the call rejects when the check before the run times out; a
   * later load on another thread fails that thread's tasks). Inline mode bounds an import that
   * awaits forever the same way.
   * @default 30000
   */
  loadTimeout?: number
  /** Extra attempts after a failure (error, timeout, crash). @default 0 */
  retries?: number
  /** Base backoff before a retry, in ms: `retryDelay * 2^(attempt-1)`, with jitter. @default 100 */
  retryDelay?: number
  /** Upper bound of one backoff, in ms. @default 10000 */
  maxRetryDelay?: number
  /**
   * Worker tasks per message to a thread: `'auto'` sizes chunks from measured run times
   * (about 8 ms of work per message), or a fixed positive integer. Ignored (1) with a `timeout`.
   * @default 'auto'
   */
  chunkSize?: number | 'auto'
  /**
   * A module (`file:` URL or absolute path) every worker thread imports once before any task
   * module: e.g. one that registers a TypeScript loader so task modules may be `.ts`
   * (`import { register } from 'tsx/esm/api'; register()`).
   * @default undefined
   */
  workerSetup?: string | URL
  /** Memory limits of each worker thread (a thread exceeding them is replaced). @default undefined */
  resourceLimits?: ResourceLimits
}

/** Per-call options of `executeParallel`, `mapParallel`, `parallelMap` and the streams. */
export interface RunOptions<T = unknown> {
  /** Cancels pending tasks (and running worker tasks); they settle with code `CANCELLED`. @default undefined */
  signal?: AbortSignal
  /** Overrides the executor's `timeout` (ms). @default the executor's `timeout` */
  timeout?: number
  /** Overrides the executor's `retries`. @default the executor's `retries` */
  retries?: number
  /** Overrides the executor's `retryDelay` (ms). @default the executor's `retryDelay` */
  retryDelay?: number
  /** Overrides the executor's `chunkSize`. @default the executor's `chunkSize` */
  chunkSize?: number | 'auto'
  /** Ids for the tasks, in input order. @default the index of each task */
  taskIds?: readonly (string | number)[]
  /** Called with each result as soon as its task settles (completion order). @default undefined */
  onResult?: (result: TaskResult<T>) => void
}

/** Percentiles of a duration, in milliseconds. */
export interface DurationStats {
  count: number
  mean: number
  p50: number
  p95: number
  p99: number
  max: number
}

/** What `executor.getMetrics()` returns. */
export interface ExecutorMetrics {
  /** Settled tasks by outcome. */
  tasks: {
    total: number
    succeeded: number
    failed: number
    timedOut: number
    cancelled: number
    retried: number
  }
  /** Task run time (ms). */
  runTime: DurationStats
  /** Time from a task being ready to its start (ms). */
  waitTime: DurationStats
  /** Messages (chunks of worker tasks) sent to worker threads. */
  threadMessages: number
  /** Busy time / (active time x slots), 0..1, for closures and for worker threads. */
  utilization: { inProcess: number; threads: number }
}
