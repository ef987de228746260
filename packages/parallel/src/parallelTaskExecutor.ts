import {
  type BoundWorkerTask,
  defineWorkerTask,
  describe,
  isBoundWorkerTask,
  isWorkerTask,
  type WorkerTask,
  workerTaskKey,
} from './defineWorkerTask.js'
import { LiveItems } from './liveItems.js'
import { MetricsRecorder } from './metrics.js'
import {
  DEFAULT_OPTIONS,
  type ResolvedOptions,
  resolveOptions,
  resolveRunOptions,
} from './options.js'
import { loadTimeoutError, ParallelError } from './parallelError.js'
import { ResultStream } from './resultStream.js'
import { type RunConfig, type RunFeed, type RunSource, type Sink, TaskRun } from './taskRun.js'
import { ThreadBackend } from './threadBackend.js'
import { unwrapTransfer } from './transfer.js'
import type {
  ChunkBackend,
  ExecutorMetrics,
  ExecutorOptions,
  RunOptions,
  Task,
  TaskContext,
  TaskResult,
} from './types.js'

export { DEFAULT_OPTIONS }

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

/** What the entry points accept as input: an iterable or an async iterable. */
export type Input<T> = Iterable<T> | AsyncIterable<T>

type Inline = (input: unknown) => unknown

/**
 * Runs independent tasks in parallel and returns one `TaskResult` per task, in input order.
 * Closures run concurrently in-process (at most `maxWorkers` in flight: I/O-bound work); worker
 * tasks (`defineWorkerTask`) run on a backend, by default a lazily created tinypool of worker
 * threads (CPU-bound work). Close it with `close()` or `await using`.
 *
 * @example
 * const executor = new ParallelTaskExecutor({ maxWorkers: 4 })
 * const results = await executor.executeParallel([() => validate(a), () => validate(b)])
 */
export class ParallelTaskExecutor implements AsyncDisposable {
  readonly #options: ResolvedOptions
  readonly #metrics: MetricsRecorder
  readonly #backend: ChunkBackend | undefined
  readonly #inline = new Map<string, Promise<Inline>>()
  readonly #runs = new Set<TaskRun>()
  #closed = false

  constructor(options: ExecutorOptions = {}) {
    const o = resolveOptions(options)
    this.#options = o
    this.#metrics = new MetricsRecorder(o.maxWorkers, o.backend?.concurrency ?? o.threads)
    if (o.backend !== undefined) this.#backend = o.backend
    else if (o.mode === 'threads') {
      this.#backend = new ThreadBackend({
        threads: o.threads,
        minThreads: o.minThreads,
        idleTimeout: o.idleTimeout,
        resourceLimits: o.resourceLimits,
        loadTimeout: o.loadTimeout,
        setup: o.workerSetup === undefined ? undefined : defineWorkerTask(o.workerSetup).moduleUrl,
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
   * only for bad input: options, a non-task (in an array), a missing worker module/export.
   */
  async executeParallel<Tasks extends Task<unknown>>(
    tasks: Input<Tasks>,
    options: RunOptions<TaskOutput<Tasks>> = {},
  ): Promise<TaskResult<TaskOutput<Tasks>>[]> {
    type T = TaskOutput<Tasks>
    const { source, feed } = await this.#taskSource(tasks, options)
    const results: TaskResult<T>[] = new Array(source.n)
    await this.#run(source, feed, options, false, this.#resultSink(results, options))
    return results
  }

  /**
   * Runs `fn` on every item: a closure (in-process) or a worker task (worker threads).
   * Resolves with one `TaskResult` per item, in input order.
   */
  async mapParallel<In, Out>(
    fn: MapFunction<In, Out> | WorkerTask<In, Out>,
    items: Input<In>,
    options: RunOptions<Out> = {},
  ): Promise<TaskResult<Out>[]> {
    const { source, feed } = await this.#mapSource(fn, items, options)
    const results: TaskResult<Out>[] = new Array(source.n)
    await this.#run(source, feed, options, false, this.#resultSink(results, options))
    return results
  }

  /**
   * Like `mapParallel` but resolves with the plain values, in input order (duplicates and
   * objects are fine: results are matched by index).
   *
   * Fail-fast: on the first failure (once its retries are used up) nothing new starts; closures
   * still running have their context `signal` aborted and worker tasks still running are stopped
   * (their threads are replaced); all of them settle as `CANCELLED`, while tasks that finished
   * keep their outcome. Then it rejects with a ParallelError `TASK_FAILED` whose `cause` is the
   * first failure's error and whose `results` holds one TaskResult per task read (a `duration`
   * is `NaN` where it was not measured: without `onResult`, only a sample of closures is timed).
   */
  async parallelMap<In, Out>(
    fn: MapFunction<In, Out> | WorkerTask<In, Out>,
    items: Input<In>,
    options: RunOptions<Out> = {},
  ): Promise<Out[]> {
    const { source, feed } = await this.#mapSource(fn, items, options)
    const values: Out[] = new Array(source.n)
    // Typed arrays when the size is known (written in completion order: a plain array would
    // turn sparse); plain arrays, filled as tasks are read, for a lazy input.
    const durations: { [i: number]: number } = feed ? [] : new Float64Array(source.n)
    const attemptsOf: { [i: number]: number } = feed ? [] : new Uint16Array(source.n)
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
    if (onResult === undefined) {
      // Nothing observes a single settlement: a chunk whose tasks all succeeded lands at once.
      sink.range = (base, count, vals, durs, attemptsOfRun) => {
        for (let k = 0; k < count; k++) {
          const i = base + k
          values[i] = vals[k] as Out
          durations[i] = durs[k] as number
          attemptsOf[i] = attemptsOfRun[i] as number
        }
      }
    }
    await this.#run(source, feed, options, true, sink)
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
    if (values.length !== source.n) values.length = source.n
    return values
  }

  /**
   * Runs the tasks and yields each `TaskResult` as soon as its task settles (completion order).
   * The input (an iterable or an async iterable) is read lazily: at most `maxQueue` tasks are
   * read and not yet consumed. Breaking out of the loop (`return()`) stops reading, cancels what
   * is left and stops running worker tasks; results already yielded are kept. Any number of
   * `next()` calls may wait at once.
   */
  stream<Tasks extends Task<unknown>>(
    tasks: Input<Tasks>,
    options: RunOptions<TaskOutput<Tasks>> = {},
  ): AsyncIterableIterator<TaskResult<TaskOutput<Tasks>>> {
    return this.#stream(() => this.#taskSource(tasks, options, true), options)
  }

  /** `mapParallel` as a stream of results in completion order (see `stream`). */
  streamMap<In, Out>(
    fn: MapFunction<In, Out> | WorkerTask<In, Out>,
    items: Input<In>,
    options: RunOptions<Out> = {},
  ): AsyncIterableIterator<TaskResult<Out>> {
    return this.#stream(() => this.#mapSource(fn, items, options, true), options)
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
    await this.#backend?.close()
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #run(
    source: RunSource,
    feed: RunFeed | undefined,
    options: RunOptions<never> | RunOptions<unknown>,
    stopOnError: boolean,
    sink: Sink,
    started?: (run: TaskRun) => void,
    streamed = false,
  ): Promise<void> {
    this.#assertOpen()
    const o = resolveRunOptions(this.#options, options, feed === undefined ? source.n : undefined)
    const config: RunConfig = {
      maxWorkers: this.#options.maxWorkers,
      timeout: o.timeout,
      retries: o.retries,
      retryDelay: o.retryDelay,
      maxRetryDelay: this.#options.maxRetryDelay,
      chunkSize: o.chunkSize,
      signal: o.signal,
      taskIds: o.taskIds,
      idempotencyKeys: o.idempotencyKeys,
      backend: this.#backend,
      metrics: this.#metrics,
      stopOnError,
      // Plain values without an onResult callback need no per-task durations.
      timeEveryTask: !stopOnError || o.onResult !== undefined,
      chainTiming: o.onResult === undefined,
      feed,
      maxQueue: o.maxQueue,
      consumeOnSettle: !streamed,
    }
    const run = new TaskRun(source, config, sink)
    this.#runs.add(run)
    try {
      started?.(run)
      run.start()
      await run.finished
    } finally {
      this.#runs.delete(run)
    }
    if (run.feedError !== undefined) throw run.feedError.error
    if (run.sinkError !== undefined) {
      throw new ParallelError('CALLBACK_FAILED', 'an onResult callback threw', {
        cause: run.sinkError,
      })
    }
  }

  #resultSink<T>(results: TaskResult<T>[], options: RunOptions<T>): Sink {
    const { onResult, taskIds } = options
    const sink: Sink = (i, success, value, error, ms, attempts) => {
      const result = toResult<T>(i, success, value, error, ms, attempts, taskIds)
      results[i] = result
      onResult?.(result)
    }
    if (onResult === undefined) {
      sink.range = (base, count, values, durations, attempts) => {
        for (let k = 0; k < count; k++) {
          const i = base + k
          const ms = durations[k] as number
          results[i] = toResult<T>(
            i,
            true,
            values[k],
            undefined,
            ms,
            attempts[i] as number,
            taskIds,
          )
        }
      }
    }
    return sink
  }

  #stream<T>(
    makeSource: () => Promise<{ source: RunSource; feed: RunFeed | undefined }>,
    options: RunOptions<T>,
  ): AsyncIterableIterator<TaskResult<T>> {
    let run: TaskRun | undefined
    let closing = false
    const onResult = options.onResult
    const stream: ResultStream<TaskResult<T>> = new ResultStream(
      async () => {
        closing = true
        run?.cancel(streamClosed())
        await finished
      },
      () => run?.consumed(),
    )
    const sink: Sink = (i, success, value, error, ms, attempts) => {
      const result = toResult<T>(i, success, value, error, ms, attempts, options.taskIds)
      onResult?.(result)
      if (!closing) stream.push(result)
    }
    if (onResult === undefined) {
      // A worker chunk whose tasks all succeeded lands at once, pushed in task order.
      sink.range = (base, count, values, durations, attempts) => {
        const { taskIds } = options
        for (let k = 0; k < count; k++) {
          const i = base + k
          const result = toResult<T>(
            i,
            true,
            values[k],
            undefined,
            durations[k] as number,
            attempts[i] as number,
            taskIds,
          )
          if (!closing) stream.push(result)
        }
      }
    }
    const finished = (async () => {
      try {
        const { source, feed } = await makeSource()
        if (closing) {
          feed?.close()
          return
        }
        await this.#run(
          source,
          feed,
          options,
          false,
          sink,
          (r) => {
            run = r
          },
          true,
        )
        stream.end()
      } catch (error) {
        stream.end({ error })
      }
    })()
    return stream
  }

  async #taskSource(
    tasks: Input<Task<unknown>>,
    options: RunOptions<never> | RunOptions<unknown>,
    lazy = false,
  ): Promise<{ source: RunSource; feed: RunFeed | undefined }> {
    this.#assertOpen()
    if (Array.isArray(tasks) && !lazy) {
      resolveRunOptions(this.#options, options, tasks.length)
      const list = tasks as Task<unknown>[]
      const defs = new Map<string, WorkerTask<unknown, unknown>>()
      for (let i = 0; i < list.length; i++) {
        const task = list[i]
        if (isBoundWorkerTask(task)) defs.set(workerTaskKey(task.task), task.task)
        else if (typeof task !== 'function') throw invalidTask(i, task)
      }
      const inline = await this.#prepare([...defs.values()])
      return { source: taskSourceOf(list, inline), feed: undefined }
    }
    resolveRunOptions(this.#options, options, undefined)
    const list = new LiveItems<Task<unknown>>()
    const inline = new Map<string, Inline>()
    const known = new Set<WorkerTask<unknown, unknown>>()
    const feed = this.#feed(tasks, 'tasks', list, async (task) => {
      if (isBoundWorkerTask(task) && !known.has(task.task)) {
        known.add(task.task)
        const prepared = await this.#prepare([task.task])
        if (prepared) for (const [k, v] of prepared) inline.set(k, v)
      }
    })
    const source = taskSourceOf(list, inline)
    source.release = (i) => list.delete(i)
    return { source, feed }
  }

  async #mapSource<In, Out>(
    fn: MapFunction<In, Out> | WorkerTask<In, Out>,
    items: Input<In>,
    options: RunOptions<never> | RunOptions<unknown>,
    lazy = false,
  ): Promise<{ source: RunSource; feed: RunFeed | undefined }> {
    this.#assertOpen()
    if (typeof fn !== 'function' && !isWorkerTask(fn)) {
      throw new ParallelError(
        'INVALID_TASK',
        `fn must be a function or a worker task (defineWorkerTask), got ${describe(fn)}`,
      )
    }
    const eager = Array.isArray(items) && !lazy
    resolveRunOptions(this.#options, options, eager ? (items as In[]).length : undefined)
    const list: ItemList<In> = eager ? (items as In[]) : new LiveItems<In>()
    const feed = eager ? undefined : this.#feed(items, 'items', list, undefined)
    if (typeof fn !== 'function') {
      const task = fn as WorkerTask<unknown, unknown>
      const run = (await this.#prepare([task]))?.get(workerTaskKey(task))
      const source: RunSource = {
        get n() {
          return list.length
        },
        hasWorkers: true,
        call: (i) => (run as Inline)(unwrapTransfer(itemAt(list, i))),
        worker: () => task,
        input: (i) => itemAt(list, i),
        only: task,
        items: list instanceof LiveItems ? undefined : list,
      }
      if (list instanceof LiveItems) source.release = (i) => list.delete(i)
      return { source, feed }
    }
    const source: RunSource = {
      get n() {
        return list.length
      },
      hasWorkers: false,
      call:
        list instanceof LiveItems
          ? (i, lanes) => fn(list.get(i), i, lanes.context(i))
          : (i, lanes) => fn(list[i] as In, i, lanes.context(i)),
      worker: () => undefined,
      input: () => undefined,
    }
    if (list instanceof LiveItems) source.release = (i) => list.delete(i)
    return { source, feed }
  }

  /**
   * A feed reading `input` into `list`: a sync iterable in batches, an async one item by item.
   * `check` runs before an item is added (e.g. to load a new worker task first).
   */
  #feed<T>(
    input: Input<T>,
    name: string,
    list: ItemList<T>,
    check: ((item: T) => Promise<void>) | undefined,
  ): RunFeed {
    let sync: Iterator<T> | undefined
    let async: AsyncIterator<T> | undefined
    if (input != null && typeof (input as Iterable<T>)[Symbol.iterator] === 'function') {
      sync = (input as Iterable<T>)[Symbol.iterator]()
    } else if (
      input != null &&
      typeof (input as AsyncIterable<T>)[Symbol.asyncIterator] === 'function'
    ) {
      async = (input as AsyncIterable<T>)[Symbol.asyncIterator]()
    } else {
      throw new ParallelError(
        'INVALID_ITEMS',
        `${name} must be an iterable or an async iterable, got ${describe(input)}`,
      )
    }
    const array =
      sync !== undefined &&
      Array.isArray(input) &&
      input[Symbol.iterator] === ARRAY_VALUES &&
      sync.next === ARRAY_ITERATOR_NEXT
        ? (input as readonly T[])
        : undefined
    let at = 0
    const feed = {
      done: false,
      pull(room: number): number | Promise<number> {
        if (array !== undefined && check === undefined) {
          // What the array's own iterator would read, without a step object per item.
          let k = 0
          for (; k < room; k++) {
            if (at >= array.length) {
              feed.done = true
              break
            }
            list.push(array[at++] as T)
          }
          return k
        }
        if (sync !== undefined && check === undefined) {
          let k = 0
          for (; k < room; k++) {
            const step = sync.next()
            if (step.done) {
              feed.done = true
              break
            }
            list.push(step.value)
          }
          return k
        }
        return pullAsync(room)
      },
      close() {
        if (feed.done) return
        feed.done = true
        try {
          const closing = sync?.return?.() ?? async?.return?.()
          if (closing && typeof (closing as Promise<unknown>).then === 'function') {
            ;(closing as Promise<unknown>).then(undefined, () => {})
          }
        } catch {}
      },
    }
    const pullAsync = async (room: number): Promise<number> => {
      let k = 0
      while (k < room && !feed.done) {
        const step = sync !== undefined ? sync.next() : await (async as AsyncIterator<T>).next()
        if (step.done) {
          feed.done = true
          break
        }
        if (check !== undefined) await check(step.value)
        list.push(step.value)
        k++
        // An async source yields one item at a time: let the run start it right away.
        if (async !== undefined) break
      }
      return k
    }
    return feed
  }

  /** Checks worker tasks exist: on a thread (threads mode) or by importing them (inline mode). */
  async #prepare(defs: WorkerTask<unknown, unknown>[]): Promise<Map<string, Inline> | undefined> {
    if (defs.length === 0) return undefined
    if (this.#backend !== undefined) {
      const backend = this.#backend
      await Promise.all(defs.map((def) => backend.prepare(def)))
      return undefined
    }
    const map = new Map<string, Inline>()
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

  #assertOpen(): void {
    if (this.#closed) throw new ParallelError('CLOSED', 'the executor is closed')
  }
}

/** Items by index: an array, or only those read and not yet settled (lazy inputs). */
type ItemList<T> = T[] | LiveItems<T>

/** An array's own iterator and its `next`, as they were before any program could replace them. */
const ARRAY_VALUES = Array.prototype[Symbol.iterator]
const ARRAY_ITERATOR_NEXT = [][Symbol.iterator]().next

function itemAt<T>(list: ItemList<T>, i: number): T {
  return list instanceof LiveItems ? list.get(i) : (list[i] as T)
}

/** A source over tasks (closures and bound worker tasks); `inline` runs worker tasks in-process. */
function taskSourceOf(
  list: ItemList<Task<unknown>>,
  inline: Map<string, Inline> | undefined,
): RunSource {
  return {
    get n() {
      return list.length
    },
    hasWorkers: true,
    call(i, lanes) {
      const task = itemAt(list, i)
      if (typeof task === 'function') return task(lanes.context(i))
      if (!isBoundWorkerTask(task)) throw invalidTask(i, task)
      const run = inline?.get(workerTaskKey(task.task)) as Inline
      return run(unwrapTransfer(task.input))
    },
    worker(i) {
      const task = itemAt(list, i)
      return isBoundWorkerTask(task) ? task.task : undefined
    },
    input: (i) => (itemAt(list, i) as BoundWorkerTask<unknown>).input,
  }
}

function invalidTask(i: number, task: unknown): ParallelError {
  return new ParallelError(
    'INVALID_TASK',
    `tasks[${i}] must be a function or a bound worker task (workerTask.with(input)), got ${describe(task)}`,
  )
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
): Promise<Inline> {
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
  // A result marked with transfer() is the plain value in-process.
  return (input) => {
    const value = (fn as Inline)(input)
    if (value !== null && typeof (value as PromiseLike<unknown>)?.then === 'function') {
      return (value as Promise<unknown>).then(unwrapTransfer)
    }
    return unwrapTransfer(value)
  }
}
