import type { ResourceLimits, Transferable } from 'node:worker_threads'
import type { BoundWorkerTask, WorkerTask } from './defineWorkerTask.js'

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
  /**
   * The same for every attempt of this task in this run (`options.idempotencyKeys[index]`, or
   * the run's id and the index): key side effects by it so a retried task applies them once.
   */
  idempotencyKey: string
  /**
   * Aborted when the run is cancelled, stops at a failure, or this attempt times out: pass it to
   * your I/O. An attempt keeps its `maxWorkers` slot until it settles, so honour it.
   */
  signal: AbortSignal
}

/**
 * What a worker task receives as its second argument, on local threads and on remote
 * (`@bookgen/parallel/bullmq`) workers alike.
 */
export interface WorkerTaskContext {
  /**
   * The same for every attempt of this task in this run, retries and (on the BullMQ backend)
   * redeliveries after a worker died included: `options.idempotencyKeys[index]` when given,
   * otherwise the run's id and the task's index (`"<run id>:<index>"`). Execution is at least
   * once; key side effects by it to apply them once.
   */
  idempotencyKey: string
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
   * thread starts running it, after the thread started and loaded the module). A timed-out
   * closure's signal is aborted and it keeps its slot until it settles; a timed-out worker task's
   * thread is terminated (the tasks of its chunk that finished keep their results, those not
   * started are sent again).
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
   * (about 16 ms of work per message), or a fixed positive integer.
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
  /**
   * How long a worker thread may stay idle before it is stopped, down to `minThreads` (ms).
   * Undefined: threads live until `close()`.
   * @default undefined
   */
  idleTimeout?: number
  /** Threads kept alive when idle (only with `idleTimeout`). @default 0 */
  minThreads?: number
  /**
   * Where worker tasks run, instead of the local threads (`threads`, `minThreads`,
   * `idleTimeout`, `resourceLimits` and `workerSetup` then belong to that backend). The executor
   * closes it in `close()`.
   * @default undefined (a `ThreadBackend` of `threads` local worker threads)
   */
  backend?: ChunkBackend
  /**
   * Streams (and non-array inputs): most items taken from the input and not yet consumed
   * (running, waiting or buffered results). The input is read only as results are consumed.
   * @default 1024
   */
  maxQueue?: number
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
  /** Overrides the executor's `maxQueue`. @default the executor's `maxQueue` */
  maxQueue?: number
  /** Ids for the tasks, in input order. @default the index of each task */
  taskIds?: readonly (string | number)[]
  /**
   * The idempotency key of each task, in input order (`TaskContext.idempotencyKey`, and the
   * second argument of worker tasks). @default `"<random run id>:<index>"`
   */
  idempotencyKeys?: readonly string[]
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

/** One chunk of worker-task inputs handed to a `ChunkBackend`. */
export interface ChunkRequest {
  /** The worker task every input runs through. */
  task: WorkerTask<unknown, unknown>
  /** The inputs, in order (values marked with `transfer()` already unwrapped). */
  inputs: unknown[]
  /** What the inputs move rather than copy (from `transfer()`), or undefined. */
  transferList: Transferable[] | undefined
  /** Per-item timeout (ms, from the item's own start); the backend stops an item past it. */
  timeout: number | undefined
  /** The items' idempotency keys (a backend hands each to its task); undefined: none. */
  keys?: ChunkKeys
}

/** Idempotency keys of a chunk's items: `list[k]` when given, else `` `${prefix}:${indices[k]}` ``. */
export interface ChunkKeys {
  /** The run's key prefix (its id). */
  prefix: string
  /** Each item's index in its run. */
  indices: readonly number[]
  /** Each item's key, when the caller gave them (`options.idempotencyKeys`). */
  list?: readonly string[] | undefined
}

/** How a chunk ended (see `ChunkListener.end`). */
export interface ChunkEnd {
  /** Items `0 .. completed - 1` were reported through `item()`. */
  completed: number
  /**
   * Item `completed` was running when the chunk was lost: its thread crashed (`'crash'`) or it
   * outlived the timeout (`'timeout'`). Undefined when no item was running.
   */
  lost?: { kind: 'crash' | 'timeout'; cause: unknown; durationMs: number }
  /**
   * No item started: the chunk could not be sent (`'unsendable'`, e.g. an input structured
   * clone rejects), its module did not load within `loadTimeout` (`'load-timeout'`, `cause` is
   * the ParallelError), or its thread died before starting it (`'thread-lost'`).
   */
  notStarted?: { kind: 'unsendable' | 'load-timeout' | 'thread-lost'; cause: unknown }
}

/** Receives what one chunk produces; every call happens on the main thread. */
export interface ChunkListener {
  /** Item `k` finished (`value` is its result, or what it threw): in item order, once each. */
  item(k: number, success: boolean, value: unknown, durationMs: number): void
  /**
   * Items `0 .. count - 1` all succeeded, `values[k]` in `durationsMs[k]` ms: the same as `count`
   * successful `item()` calls, in one. A backend may call it instead, only before any `item()`
   * call of the chunk; both arrays are read during the call only.
   */
  items?(count: number, values: ArrayLike<unknown>, durationsMs: ArrayLike<number>): void
  /** Called once, after the last `item()`. Items after `completed` (and `lost`) never started. */
  end(end: ChunkEnd): void
}

/** Control of one running chunk. */
export interface ChunkHandle {
  /** Starts no further item of the chunk; the running one finishes and is reported. */
  drain(): void
  /** Stops the chunk now, its running item included (a local thread is terminated). */
  abort(): void
}

/**
 * Where worker-task chunks run: the seam between a run and its engine (local worker threads by
 * default). A backend runs each item of a chunk once, reports every finished item before the
 * chunk ends, and says exactly which item (if any) a lost chunk was running, so that a crash
 * costs only that item and finished items are never run again.
 */
export interface ChunkBackend {
  /** How many chunks it runs at once (threads, or remote concurrency). */
  readonly concurrency: number
  /** Bound of one task module's load (ms), as used for `WORKER_TASK_LOAD_TIMEOUT`. */
  readonly loadTimeout: number
  /** Checks that the task's module loads and exports a function; rejects with a ParallelError. */
  prepare(task: WorkerTask<unknown, unknown>): Promise<void>
  /** Starts a chunk. */
  run(request: ChunkRequest, listener: ChunkListener): ChunkHandle
  /** Stops everything and releases the engine; running chunks end as lost. */
  close(): Promise<void>
}
