import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { ClosureLanes } from './closureLanes.js'
import type { WorkerTask } from './defineWorkerTask.js'
import type { MetricsRecorder, Outcome } from './metrics.js'
import { ParallelError } from './parallelError.js'
import { RetryPolicy } from './retryPolicy.js'
import { type TaskEvent, taskChannel } from './taskChannel.js'
import type { ChunkBackend } from './types.js'
import { WorkerChunks } from './workerChunks.js'

/** Work of a run, by index. */
export interface RunSource {
  /** Tasks known so far (grows while a `feed` reads the input). */
  readonly n: number
  /** False when no task is a worker task (skips partitioning). */
  readonly hasWorkers: boolean
  /** Runs closure task `i` in-process; `lanes.context(i)` is its TaskContext. */
  call(i: number, lanes: ClosureLanes): unknown
  /** The worker task of item `i`, or undefined when `i` runs in-process. */
  worker(i: number): WorkerTask<unknown, unknown> | undefined
  /** The input sent to the worker for item `i`. */
  input(i: number): unknown
  /** Set when every item runs through this one worker task (a map): partitioned as one range. */
  readonly only?: WorkerTask<unknown, unknown> | undefined
  /** Set when item `i`'s input is `items[i]` (an array map): chunks slice it. */
  readonly items?: readonly unknown[] | undefined
  /** Forgets item `i` once it settled (lazily read inputs). */
  release?(i: number): void
}

/** Reads a lazily consumed input into its `RunSource`. */
export interface RunFeed {
  /** Reads up to `room` more items; resolves with how many were added (0 only at the end). */
  pull(room: number): number | Promise<number>
  /** True once the input is exhausted. */
  readonly done: boolean
  /** Stops reading (calls the iterator's `return()`). */
  close(): void
}

/** Receives every settled task exactly once. */
export interface Sink {
  (
    i: number,
    success: boolean,
    value: unknown,
    error: unknown,
    durationMs: number,
    attempts: number,
  ): void
  /**
   * Optional bulk form, for a sink that runs no user code: tasks `base .. base + count - 1` all
   * succeeded, task `base + k` with `values[k]` in `durationsMs[k]` ms after `attempts[base + k]`
   * attempts. Both `values` and `durationsMs` are read during the call only.
   */
  range?: (
    base: number,
    count: number,
    values: ArrayLike<unknown>,
    durationsMs: ArrayLike<number>,
    attempts: Uint16Array,
  ) => void
}

/** Resolved settings of one run. */
export interface RunConfig {
  maxWorkers: number
  timeout: number | undefined
  retries: number
  retryDelay: number
  maxRetryDelay: number
  chunkSize: number | 'auto'
  signal: AbortSignal | undefined
  taskIds: readonly (string | number)[] | undefined
  /** `options.idempotencyKeys`; undefined: `${runKey}:${index}`. */
  idempotencyKeys: readonly string[] | undefined
  /** Where worker tasks run; undefined: in-process (inline mode). */
  backend: ChunkBackend | undefined
  metrics: MetricsRecorder
  stopOnError: boolean
  /** Time every closure (TaskResult durations needed); otherwise closures are sampled. */
  timeEveryTask: boolean
  /** No user callback runs between two tasks of a lane, so their clock readings can be shared. */
  chainTiming: boolean
  /** Reads the input lazily; undefined when every task is known up front. */
  feed: RunFeed | undefined
  /** With a feed: most tasks read and not yet consumed. */
  maxQueue: number
  /** With a feed: a settled task counts as consumed (no stream reader consumes it). */
  consumeOnSettle: boolean
}

const PENDING = 0
const RUNNING = 1
const WAITING = 2
const SETTLED = 3

/**
 * One call's worth of tasks: closures on in-process lanes (`ClosureLanes`), worker tasks in
 * chunks on a backend (`WorkerChunks`), retries through one `RetryPolicy`. Every task settles
 * exactly once: success, failure, timeout or cancelled.
 */
export class TaskRun {
  readonly source: RunSource
  readonly config: RunConfig
  #runKey: string | undefined
  readonly #sink: Sink
  #n: number
  /** Per task: PENDING, RUNNING (1), WAITING for a retry or SETTLED. */
  status: Uint8Array
  /** Per task: attempts started. */
  attempts: Uint16Array
  #consumed = 0
  #pulling = false
  /** Set when reading the input failed: the run was cancelled with it. */
  feedError: { error: unknown } | undefined
  #readyAt: Float64Array | undefined
  readonly #runStart: number
  #settled = 0
  #finished = false
  /** No task starts any more (cancelled, or stopping at the first failure). */
  stopped = false
  #cancelled = false
  readonly #ctrl = new AbortController()
  readonly #retry: RetryPolicy
  #lanes: ClosureLanes | undefined
  #chunks: WorkerChunks | undefined
  #onAbort: (() => void) | undefined
  #resolve!: () => void
  /** Resolves when every task has settled. */
  readonly finished: Promise<void>
  /** The first error thrown by the sink (an `onResult` callback), if any. */
  sinkError: unknown

  constructor(source: RunSource, config: RunConfig, sink: Sink) {
    this.source = source
    this.config = config
    this.#sink = sink
    this.#n = source.n
    const capacity = config.feed === undefined ? this.#n : Math.max(16, this.#n)
    this.status = new Uint8Array(capacity)
    this.attempts = new Uint16Array(capacity)
    this.#retry = new RetryPolicy(config, (i) => this.#retryReady(i))
    this.finished = new Promise<void>((resolve) => {
      this.#resolve = resolve
    })
    config.metrics.runStarted()
    this.#runStart = performance.now()
  }

  /** Aborted when the run is cancelled or stops at a failure: the closures' default signal. */
  get signal(): AbortSignal {
    return this.#ctrl.signal
  }

  /** Starts the work. */
  start(): void {
    const { signal } = this.config
    if (this.stopped) return
    if (this.#n === 0 && this.config.feed === undefined) {
      this.#maybeFinish()
      return
    }
    if (signal) {
      if (signal.aborted) {
        this.cancel(cancelled(signal.reason))
        return
      }
      this.#onAbort = () => this.cancel(cancelled(signal.reason))
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
    this.#partition()
    this.#lanes?.start()
    this.#chunks?.pump()
    this.#fill()
  }

  /** A stream reader took one result: room to read more input. */
  consumed(): void {
    this.#consumed++
    this.#fill()
  }

  #fill(): void {
    const feed = this.config.feed
    if (feed === undefined || this.#pulling || feed.done || this.stopped) return
    const { maxQueue } = this.config
    const room = maxQueue - (this.#n - this.#consumed)
    // Read in batches (a quarter of maxQueue at least): one read per item would cost more than
    // a tiny task, and leave lanes idle between reads.
    if (room <= 0 || (room < maxQueue >> 2 && this.#n > this.#consumed)) return
    this.#pulling = true
    let pulled: number | Promise<number>
    try {
      pulled = feed.pull(room)
    } catch (error) {
      this.#feedFailed(error)
      return
    }
    if (typeof pulled === 'number') this.#pulled(pulled)
    else
      pulled.then(
        (k) => this.#pulled(k),
        (error: unknown) => this.#feedFailed(error),
      )
  }

  #pulled(k: number): void {
    this.#pulling = false
    if (this.#finished) return
    if (k > 0 && !this.stopped) this.#grow(k)
    if (!this.#maybeFinish()) this.#fill()
  }

  /** Finishes when every task read has settled and no more will be read. */
  #maybeFinish(): boolean {
    if (this.#settled !== this.#n || this.#pulling) return false
    const feed = this.config.feed
    if (feed !== undefined && !feed.done && !this.stopped) return false
    this.#finish()
    return true
  }

  #feedFailed(error: unknown): void {
    this.#pulling = false
    this.feedError = { error }
    this.cancel(
      new ParallelError('CANCELLED', 'cancelled because reading the input failed', {
        cause: error,
      }),
    )
    this.#maybeFinish()
  }

  #grow(k: number): void {
    const from = this.#n
    const n = from + k
    if (n > this.status.length) {
      const capacity = Math.max(n, this.status.length * 2)
      const status = new Uint8Array(capacity)
      status.set(this.status)
      this.status = status
      const attempts = new Uint16Array(capacity)
      attempts.set(this.attempts)
      this.attempts = attempts
      if (this.#readyAt !== undefined) {
        const readyAt = new Float64Array(capacity).fill(this.#runStart)
        readyAt.set(this.#readyAt)
        this.#readyAt = readyAt
      }
    }
    this.#n = n
    const { source, config } = this
    if (config.backend === undefined || !source.hasWorkers) this.#lanes?.grow(n, undefined)
    else if (source.only !== undefined) {
      ;(this.#chunks as WorkerChunks).addRange(from, n, source.only)
      this.#chunks?.pump()
    } else {
      for (let i = from; i < n; i++) {
        const task = source.worker(i)
        if (task === undefined) (this.#lanes as ClosureLanes).grow(n, i)
        else (this.#chunks as WorkerChunks).add(i, task)
      }
      this.#chunks?.pump()
    }
  }

  /** Settles every unfinished task as cancelled with `reason` and stops running worker tasks. */
  cancel(reason: ParallelError): void {
    if (this.#cancelled) return
    this.#cancelled = true
    this.#stop(reason)
    this.#maybeFinish()
  }

  #stop(reason: ParallelError): void {
    this.stopped = true
    this.#ctrl.abort(reason)
    this.#lanes?.abortAll(reason)
    this.#retry.clear()
    // Tasks of worker chunks in flight settle when their chunk ends: those it finished keep
    // their outcome (even when the chunk ends right now), the others are cancelled then.
    const chunks = this.#chunks
    chunks?.abortAll()
    for (let i = 0; i < this.#n; i++) {
      const status = this.status[i]
      if (status === SETTLED || (status === RUNNING && chunks?.has(i))) continue
      this.#settle(i, false, undefined, reason, 0, 'cancelled')
    }
  }

  #partition(): void {
    const { source, config } = this
    if (config.backend === undefined || !source.hasWorkers) {
      this.#lanes = new ClosureLanes(this, undefined, this.#n)
      return
    }
    if (config.feed !== undefined) {
      this.#lanes = new ClosureLanes(this, [], 0)
      this.#chunks = new WorkerChunks(this, config.backend)
      return
    }
    const chunks = new WorkerChunks(this, config.backend)
    if (source.only !== undefined) {
      chunks.addRange(0, this.#n, source.only)
      this.#chunks = chunks
      return
    }
    let order: number[] | undefined
    for (let i = 0; i < this.#n; i++) {
      const task = source.worker(i)
      if (task !== undefined) chunks.add(i, task)
      else if (order === undefined) order = [i]
      else order.push(i)
    }
    this.#chunks = chunks
    if (order !== undefined) this.#lanes = new ClosureLanes(this, order, order.length)
  }

  /** When task `i` became ready to start (the run's start, or the end of its retry backoff). */
  ready(i: number): number {
    return this.#readyAt === undefined ? this.#runStart : (this.#readyAt[i] as number)
  }

  /** The id given in `taskIds`, or the index. */
  taskId(i: number): string | number {
    return this.config.taskIds?.[i] ?? i
  }

  /** The run's id: the prefix of its default idempotency keys. */
  get runKey(): string {
    this.#runKey ??= randomUUID()
    return this.#runKey
  }

  /** Task `i`'s idempotency key: the same for every attempt. */
  idempotencyKey(i: number): string {
    return this.config.idempotencyKeys?.[i] ?? `${this.runKey}:${i}`
  }

  /** A failed attempt of task `i`: retried when the policy allows it, otherwise settled. */
  fail(i: number, error: unknown, durationMs: number, retryable: boolean): void {
    if (retryable && !this.stopped && this.#retry.schedule(i, this.attempts[i] as number)) {
      this.status[i] = WAITING
      this.config.metrics.retried()
      return
    }
    const outcome: Outcome =
      error instanceof ParallelError && error.code === 'TASK_TIMEOUT' ? 'timeout' : 'failed'
    this.#settle(i, false, undefined, error, durationMs, outcome)
  }

  /** Settles task `i` as cancelled by the run's stop. */
  cancelItem(i: number): void {
    const reason = this.#ctrl.signal.reason ?? cancelled(undefined)
    this.#settle(i, false, undefined, reason, 0, 'cancelled')
  }

  /**
   * Settles tasks `base .. base + count - 1`, every one a success of a chunk sent at `sentAt`
   * (`performance.now()`), in one pass: what `count` calls of `settle` would do when the sink has
   * a bulk form and nothing else observes a single settlement (no channel subscriber, no retry
   * timing). Returns false, having done nothing, when that does not hold or a task of the range
   * is not running: the caller then settles them one by one.
   */
  settleRange(
    base: number,
    count: number,
    values: ArrayLike<unknown>,
    durationsMs: ArrayLike<number>,
    sentAt: number,
  ): boolean {
    const bulk = this.#sink.range
    if (bulk === undefined || this.#readyAt !== undefined || taskChannel.hasSubscribers)
      return false
    const status = this.status
    const end = base + count
    for (let i = base; i < end; i++) if (status[i] !== RUNNING) return false
    const { metrics, consumeOnSettle, feed } = this.config
    metrics.attempts(durationsMs, count, sentAt - this.#runStart)
    metrics.settled('ok', count)
    status.fill(SETTLED, base, end)
    this.#settled += count
    if (consumeOnSettle) this.#consumed += count
    bulk(base, count, values, durationsMs, this.attempts)
    const release = this.source.release
    if (release !== undefined) for (let i = base; i < end; i++) release.call(this.source, i)
    if (this.#settled === this.#n && this.#maybeFinish()) return true
    if (consumeOnSettle && feed !== undefined) this.#fill()
    return true
  }

  /** Settles task `i` once; later calls for the same task are ignored. */
  settle(
    i: number,
    success: boolean,
    value: unknown,
    error: unknown,
    durationMs: number,
    outcome: Outcome,
  ): void {
    this.#settle(i, success, value, error, durationMs, outcome)
  }

  #retryReady(i: number): void {
    if (this.status[i] !== WAITING) return
    this.status[i] = PENDING
    if (this.#readyAt === undefined) this.#readyAt = new Float64Array(this.#n).fill(this.#runStart)
    this.#readyAt[i] = performance.now()
    if (this.config.backend !== undefined && this.source.worker(i) !== undefined) {
      this.#chunks?.push(i)
    } else this.#lanes?.push(i)
  }

  #settle(
    i: number,
    success: boolean,
    value: unknown,
    error: unknown,
    durationMs: number,
    outcome: Outcome,
  ): void {
    if (this.status[i] === SETTLED) return
    this.status[i] = SETTLED
    this.#settled++
    if (this.config.consumeOnSettle) this.#consumed++
    this.config.metrics.settled(outcome)
    if (taskChannel.hasSubscribers) {
      const event: TaskEvent = { taskId: this.taskId(i), durationMs, success }
      taskChannel.publish(event)
    }
    try {
      this.#sink(i, success, value, error, durationMs, this.attempts[i] as number)
    } catch (sinkError) {
      if (this.sinkError === undefined) this.sinkError = sinkError
      this.cancel(
        new ParallelError('CANCELLED', 'cancelled because an onResult callback threw', {
          cause: sinkError,
        }),
      )
    }
    if (!success && this.config.stopOnError && !this.stopped) {
      // Fail-fast: nothing new starts, everything still running is stopped (what it finished
      // is kept) and every other task settles as cancelled.
      this.#stop(
        new ParallelError('CANCELLED', `cancelled because task ${this.taskId(i)} failed`, {
          cause: error,
        }),
      )
    }
    this.source.release?.(i)
    if (this.#settled === this.#n && this.#maybeFinish()) return
    if (this.config.consumeOnSettle && this.config.feed !== undefined) this.#fill()
  }

  #finish(): void {
    if (this.#finished) return
    this.#finished = true
    this.stopped = true
    this.#retry.clear()
    this.config.feed?.close()
    if (this.#onAbort) this.config.signal?.removeEventListener('abort', this.#onAbort)
    this.config.metrics.runEnded()
    this.#resolve()
  }
}

function cancelled(reason: unknown): ParallelError {
  return new ParallelError('CANCELLED', 'the task was cancelled', { cause: reason })
}
