import { performance } from 'node:perf_hooks'
import { deserialize } from 'node:v8'
import type { WorkerTask } from './defineWorkerTask.js'
import type { MetricsRecorder, Outcome } from './metrics.js'
import { ParallelError } from './parallelError.js'
import { clock, createProgress, QUEUED, readProgress, watchProgress } from './progress.js'
import { deserializeError } from './serializeError.js'
import { type TaskEvent, taskChannel } from './taskChannel.js'
import type { TaskContext } from './types.js'
import type { ChunkReply } from './worker.js'
import { loadTimeoutError, type WorkerPool } from './workerPool.js'

/** Work of a run, by index. */
export interface RunSource {
  readonly n: number
  /** False when no task is a worker task (skips partitioning). */
  readonly hasWorkers: boolean
  /** Runs closure task `i` in-process; `context` builds its TaskContext on demand. */
  call(i: number, context: (i: number) => TaskContext): unknown
  /** The worker task of item `i`, or undefined when `i` runs in-process. */
  worker(i: number): WorkerTask<unknown, unknown> | undefined
  /** The input sent to the worker for item `i`. */
  input(i: number): unknown
}

/** Receives every settled task exactly once. */
export type Sink = (
  i: number,
  success: boolean,
  value: unknown,
  error: unknown,
  durationMs: number,
  attempts: number,
) => void

/** Resolved settings of one run. */
export interface RunConfig {
  maxWorkers: number
  threads: number
  timeout: number | undefined
  retries: number
  retryDelay: number
  maxRetryDelay: number
  chunkSize: number | 'auto'
  signal: AbortSignal | undefined
  taskIds: readonly (string | number)[] | undefined
  pool: WorkerPool | undefined
  metrics: MetricsRecorder
  stopOnError: boolean
  /** Time every closure (TaskResult durations needed); otherwise closures are sampled. */
  timeEveryTask: boolean
  /** No user callback runs between two tasks of a lane, so their clock readings can be shared. */
  chainTiming: boolean
}

const PENDING = 0
const RUNNING = 1
const WAITING = 2
const SETTLED = 3

/** Without per-task durations, one closure in this many is timed for the metrics (power of 2). */
const SAMPLE_EVERY = 16

/** How many times a task lost with a thread before it started is sent again. */
const MAX_RESENDS = 3

/**
 * Wall-clock work per message to a worker when chunks are sized automatically. Each message costs
 * the thread a fixed ~0.1-0.2 ms (tinypool reads process.memoryUsage() per task, plus the round
 * trip): at 4 ms that was ~4% behind a bare 2-thread split on CPU-heavy maps, at 8 ms ~1%.
 */
const TARGET_CHUNK_MS = 8

interface WorkerQueue {
  task: WorkerTask<unknown, unknown>
  indices: number[]
  cursor: number
  /** Retried items and items of a crashed chunk: sent one per message. */
  single: number[]
}

interface Chunk {
  queue: WorkerQueue
  indices: number[]
  /** Set for exclusive chunks only: tinypool runs an abortable task alone on its thread. */
  ctrl: AbortController | undefined
  start: number
  /** Shared with the worker (abortable chunks): what runs since when, for the timeouts. */
  progress: SharedArrayBuffer | undefined
  /** Stops watching `progress`. */
  unwatch: (() => void) | undefined
  /** Set when the chunk was aborted because its load or its task outlived its limit. */
  expired: { kind: 'load' | 'task'; since: number } | undefined
}

/**
 * One call's worth of tasks: closures on an in-process worker loop (at most `maxWorkers` in
 * flight), worker tasks in automatically sized chunks on the thread pool (at most two chunks in
 * flight per thread). Every task settles exactly once: success, failure, timeout or cancelled.
 */
export class TaskRun {
  readonly #source: RunSource
  readonly #config: RunConfig
  readonly #sink: Sink
  readonly #n: number
  readonly #status: Uint8Array
  readonly #attempts: Uint16Array
  #readyAt: Float64Array | undefined
  #runStart = 0
  #settled = 0
  #finished = false
  /** No task starts any more (cancelled, or stopping at the first failure). */
  #stopped = false
  #cancelled = false
  #resent: Map<number, number> | undefined
  /** Indices of the chunk whose reply is being settled. */
  #completing: number[] | undefined
  readonly #ctrl = new AbortController()
  readonly #attemptCtrls = new Map<number, AbortController>()
  readonly #retryTimers = new Map<number, NodeJS.Timeout>()
  #closureOrder: number[] | undefined
  #closureCount = 0
  #closureCursor = 0
  readonly #closureRetry: number[] = []
  #lanes = 0
  #tick = 0
  readonly #queues: WorkerQueue[] = []
  #rr = 0
  #workerRemaining = 0
  #inFlight = 0
  readonly #chunks = new Set<Chunk>()
  #avgItemMs: number | undefined
  /**
   * Chunks carry an abort signal (and then run alone on a thread) only when something may
   * have to stop them while they run: a signal or a timeout. Otherwise two chunks per thread
   * are pipelined: the next one waits in the thread's own queue, not for a round trip.
   */
  readonly #exclusive: boolean
  #onAbort: (() => void) | undefined
  #resolve!: () => void
  /** Resolves when every task has settled. */
  readonly finished: Promise<void>
  /** The first error thrown by the sink (an `onResult` callback), if any. */
  sinkError: unknown

  constructor(source: RunSource, config: RunConfig, sink: Sink) {
    this.#source = source
    this.#config = config
    this.#sink = sink
    this.#n = source.n
    this.#status = new Uint8Array(this.#n)
    this.#attempts = new Uint16Array(this.#n)
    this.#exclusive = config.signal !== undefined || config.timeout !== undefined
    this.finished = new Promise<void>((resolve) => {
      this.#resolve = resolve
    })
    config.metrics.runStarted()
    this.#runStart = performance.now()
  }

  /** Starts the work. */
  start(): void {
    const { signal, pool } = this.#config
    if (this.#stopped) return
    if (this.#n === 0) {
      this.#finish()
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
    this.#partition(pool !== undefined)
    const lanes = Math.min(this.#config.maxWorkers, this.#closureCount)
    for (let k = 0; k < lanes; k++) void this.#lane()
    this.#pump()
  }

  /** Settles every unfinished task as cancelled with `reason` and stops running worker tasks. */
  cancel(reason: ParallelError): void {
    if (this.#cancelled) return
    this.#cancelled = true
    this.#stopped = true
    this.#ctrl.abort(reason)
    for (const ctrl of this.#attemptCtrls.values()) ctrl.abort(reason)
    for (const timer of this.#retryTimers.values()) clearTimeout(timer)
    this.#retryTimers.clear()
    for (const chunk of this.#chunks) {
      chunk.unwatch?.()
      chunk.ctrl?.abort(reason)
    }
    for (let i = 0; i < this.#n; i++) {
      if (this.#status[i] !== SETTLED) this.#settle(i, false, undefined, reason, 0, 'cancelled')
    }
    if (this.#settled === this.#n) this.#finish()
  }

  /**
   * Fail-fast (`parallelMap`): nothing new starts; tasks not started, waiting for a retry, running
   * as closures (their signal is aborted) or in abortable worker chunks settle as cancelled now.
   * Worker chunks that cannot be aborted (pipelined, no signal nor timeout) are few and short
   * (auto-sized to a few ms): their tasks settle with their real outcome when the chunk returns,
   * so no finished result is thrown away.
   */
  #stopAtFailure(reason: ParallelError): void {
    this.#stopped = true
    this.#ctrl.abort(reason)
    for (const ctrl of this.#attemptCtrls.values()) ctrl.abort(reason)
    for (const timer of this.#retryTimers.values()) clearTimeout(timer)
    this.#retryTimers.clear()
    let draining: Set<number> | undefined
    for (const chunk of this.#chunks) {
      if (chunk.ctrl !== undefined) {
        chunk.unwatch?.()
        chunk.ctrl.abort(reason)
        continue
      }
      draining ??= new Set()
      for (const i of chunk.indices) draining.add(i)
    }
    // The chunk being settled right now (its failure stopped the run) has its results in hand.
    if (this.#completing !== undefined) {
      draining ??= new Set()
      for (const i of this.#completing) draining.add(i)
    }
    for (let i = 0; i < this.#n; i++) {
      if (this.#status[i] !== SETTLED && !draining?.has(i)) {
        this.#settle(i, false, undefined, reason, 0, 'cancelled')
      }
    }
  }

  #partition(useThreads: boolean): void {
    const source = this.#source
    if (!useThreads || !source.hasWorkers) {
      this.#closureCount = this.#n
      return
    }
    const byTask = new Map<WorkerTask<unknown, unknown>, WorkerQueue>()
    let order: number[] | undefined
    for (let i = 0; i < this.#n; i++) {
      const task = source.worker(i)
      if (task === undefined) {
        if (order === undefined) order = []
        order.push(i)
        continue
      }
      let queue = byTask.get(task)
      if (queue === undefined) {
        queue = { task, indices: [], cursor: 0, single: [] }
        byTask.set(task, queue)
        this.#queues.push(queue)
      }
      queue.indices.push(i)
    }
    this.#workerRemaining = this.#n - (order?.length ?? 0)
    this.#closureCount = order?.length ?? 0
    this.#closureOrder = order ?? []
  }

  #nextClosure(): number {
    if (this.#closureRetry.length > 0) return this.#closureRetry.shift() as number
    if (this.#closureCursor >= this.#closureCount) return -1
    const k = this.#closureCursor++
    return this.#closureOrder === undefined ? k : (this.#closureOrder[k] as number)
  }

  readonly #context = (i: number): TaskContext => ({
    taskId: this.#taskId(i),
    index: i,
    attempt: this.#attempts[i] as number,
    signal: this.#attemptCtrls.get(i)?.signal ?? this.#ctrl.signal,
  })

  async #lane(): Promise<void> {
    this.#lanes++
    const source = this.#source
    const timeout = this.#config.timeout
    const status = this.#status
    const chain = this.#config.chainTiming
    let last = -1
    try {
      for (;;) {
        if (this.#stopped) return
        const i = this.#nextClosure()
        if (i === -1) return
        status[i] = RUNNING
        this.#attempts[i] = (this.#attempts[i] as number) + 1
        let ctrl: AbortController | undefined
        if (timeout !== undefined) {
          ctrl = new AbortController()
          this.#attemptCtrls.set(i, ctrl)
        }
        // Timing every closure costs as much as a tiny closure itself: when nobody needs
        // per-task durations (plain parallelMap, no subscriber) one task in SAMPLE_EVERY is timed.
        const timed =
          this.#config.timeEveryTask ||
          taskChannel.hasSubscribers ||
          (++this.#tick & (SAMPLE_EVERY - 1)) === 0
        // Back-to-back tasks of a lane share a clock reading: the previous end is this start
        // (only cheap bookkeeping runs in between; not when user callbacks could run there).
        const start = timed ? (last >= 0 ? last : performance.now()) : 0
        let ok = false
        let value: unknown
        let error: unknown
        try {
          value = source.call(i, this.#context)
          if (isThenable(value)) {
            value = await (ctrl
              ? withTimeout(value, timeout as number, ctrl, this.#taskId(i))
              : value)
          }
          ok = true
        } catch (e) {
          error = e
        }
        const end = timed ? performance.now() : -1
        // NaN, not 0, for an attempt nobody timed (a plain parallelMap's sampled closures).
        const ms = timed ? end - start : Number.NaN
        last = chain && !taskChannel.hasSubscribers ? end : -1
        if (ctrl) this.#attemptCtrls.delete(i)
        if (status[i] !== RUNNING) continue
        if (timed) {
          const weight = this.#config.timeEveryTask ? 1 : SAMPLE_EVERY
          this.#config.metrics.attempt(ms, start - this.#ready(i), false, weight)
        }
        if (ok) this.#settle(i, true, value, undefined, ms, 'ok')
        else this.#fail(i, error, ms, true)
      }
    } finally {
      this.#lanes--
    }
  }

  /** A task lost with a thread before it started is sent again, a few times at most. */
  #mayResend(i: number): boolean {
    this.#resent ??= new Map()
    const count = this.#resent.get(i) ?? 0
    if (count >= MAX_RESENDS) return false
    this.#resent.set(i, count + 1)
    return true
  }

  #ready(i: number): number {
    return this.#readyAt === undefined ? this.#runStart : (this.#readyAt[i] as number)
  }

  #fail(i: number, error: unknown, durationMs: number, retryable: boolean): void {
    const { retries, retryDelay, maxRetryDelay } = this.#config
    const attempt = this.#attempts[i] as number
    if (retryable && !this.#stopped && attempt <= retries) {
      this.#status[i] = WAITING
      this.#config.metrics.retried()
      const backoff = Math.min(maxRetryDelay, retryDelay * 2 ** (attempt - 1))
      const delay = backoff / 2 + Math.random() * (backoff / 2)
      // Ref'd on purpose: a retry is work the caller is awaiting. Cleared on settle/cancel.
      const timer = setTimeout(() => {
        this.#retryTimers.delete(i)
        if (this.#status[i] !== WAITING) return
        this.#status[i] = PENDING
        if (this.#readyAt === undefined)
          this.#readyAt = new Float64Array(this.#n).fill(this.#runStart)
        this.#readyAt[i] = performance.now()
        this.#requeue(i)
      }, delay)
      this.#retryTimers.set(i, timer)
      return
    }
    const outcome: Outcome =
      error instanceof ParallelError && error.code === 'TASK_TIMEOUT' ? 'timeout' : 'failed'
    this.#settle(i, false, undefined, error, durationMs, outcome)
  }

  #requeue(i: number): void {
    const task = this.#config.pool ? this.#source.worker(i) : undefined
    if (task === undefined) {
      this.#closureRetry.push(i)
      if (this.#lanes < this.#config.maxWorkers) void this.#lane()
      return
    }
    const queue = this.#queues.find((q) => q.task === task) as WorkerQueue
    queue.single.push(i)
    this.#pump()
  }

  #settle(
    i: number,
    success: boolean,
    value: unknown,
    error: unknown,
    durationMs: number,
    outcome: Outcome,
  ): void {
    if (this.#status[i] === SETTLED) return
    this.#status[i] = SETTLED
    this.#settled++
    this.#config.metrics.settled(outcome)
    if (taskChannel.hasSubscribers) {
      const event: TaskEvent = { taskId: this.#taskId(i), durationMs, success }
      taskChannel.publish(event)
    }
    try {
      this.#sink(i, success, value, error, durationMs, this.#attempts[i] as number)
    } catch (sinkError) {
      if (this.sinkError === undefined) this.sinkError = sinkError
      this.cancel(
        new ParallelError('CANCELLED', 'cancelled because an onResult callback threw', {
          cause: sinkError,
        }),
      )
    }
    if (!success && this.#config.stopOnError && !this.#stopped) {
      this.#stopAtFailure(
        new ParallelError('CANCELLED', `cancelled because task ${this.#taskId(i)} failed`, {
          cause: error,
        }),
      )
    }
    if (this.#settled === this.#n) this.#finish()
  }

  #finish(): void {
    if (this.#finished) return
    this.#finished = true
    this.#stopped = true
    for (const timer of this.#retryTimers.values()) clearTimeout(timer)
    if (this.#onAbort) this.#config.signal?.removeEventListener('abort', this.#onAbort)
    this.#config.metrics.runEnded()
    this.#resolve()
  }

  #taskId(i: number): string | number {
    return this.#config.taskIds?.[i] ?? i
  }

  // ---- worker threads ----

  #pump(): void {
    const { pool, threads, timeout } = this.#config
    if (pool === undefined) return
    const maxInFlight = timeout === undefined ? threads * 2 : threads
    while (!this.#stopped && this.#inFlight < maxInFlight) {
      const chunk = this.#takeChunk()
      if (chunk === undefined) return
      this.#dispatch(pool, chunk)
    }
  }

  #takeChunk(): Chunk | undefined {
    const queues = this.#queues
    for (let k = 0; k < queues.length; k++) {
      const queue = queues[(this.#rr + k) % queues.length] as WorkerQueue
      let indices: number[] | undefined
      let exclusive = this.#exclusive
      if (queue.single.length > 0) {
        indices = [queue.single.shift() as number]
        // Alone on its thread, so that a crash is attributed to this task only.
        exclusive = true
      } else if (queue.cursor < queue.indices.length) {
        const size = this.#chunkSize()
        indices = queue.indices.slice(queue.cursor, queue.cursor + size)
        queue.cursor += indices.length
        this.#workerRemaining -= indices.length
      }
      if (indices !== undefined) {
        this.#rr = (this.#rr + k + 1) % queues.length
        return {
          queue,
          indices,
          ctrl: exclusive ? new AbortController() : undefined,
          start: 0,
          progress: undefined,
          unwatch: undefined,
          expired: undefined,
        }
      }
    }
    return undefined
  }

  #chunkSize(): number {
    const { chunkSize, timeout, threads } = this.#config
    // A timeout terminates the thread: it must not take finished tasks of its chunk with it.
    if (timeout !== undefined) return 1
    if (chunkSize !== 'auto') return chunkSize
    if (this.#avgItemMs === undefined) return 1
    const cap = Math.max(1, Math.ceil(this.#workerRemaining / (threads * 4)))
    const ideal = Math.round(TARGET_CHUNK_MS / Math.max(this.#avgItemMs, 1e-5))
    return Math.min(cap, Math.max(1, ideal))
  }

  #dispatch(pool: WorkerPool, chunk: Chunk): void {
    this.#inFlight++
    this.#config.metrics.message()
    this.#chunks.add(chunk)
    const inputs: unknown[] = new Array(chunk.indices.length)
    for (let k = 0; k < chunk.indices.length; k++) {
      const i = chunk.indices[k] as number
      inputs[k] = this.#source.input(i)
      this.#status[i] = RUNNING
      this.#attempts[i] = (this.#attempts[i] as number) + 1
    }
    chunk.start = performance.now()
    const ctrl = chunk.ctrl
    if (ctrl !== undefined) {
      // Abortable chunks are timed from the worker's own marks: the load from its start, the
      // task from its start, never the wait for a thread (or for a fresh thread to boot).
      const progress = createProgress()
      chunk.progress = progress
      chunk.unwatch = watchProgress(
        progress,
        { loadTimeout: pool.loadTimeout, taskTimeout: this.#config.timeout },
        (kind, since) => {
          chunk.expired = { kind, since }
          ctrl.abort()
        },
      )
    }
    pool.runChunk(chunk.queue.task, inputs, ctrl?.signal, chunk.progress).then(
      (reply) => this.#chunkDone(chunk, reply),
      (error: unknown) => this.#chunkFailed(chunk, error),
    )
  }

  #release(chunk: Chunk): void {
    this.#inFlight--
    this.#chunks.delete(chunk)
    chunk.unwatch?.()
  }

  #chunkDone(chunk: Chunk, reply: ChunkReply): void {
    this.#release(chunk)
    const values = reply.plain ?? (deserialize(reply.values as Uint8Array) as unknown[])
    const errors = reply.errors
    const durations = reply.durations
    const metrics = this.#config.metrics
    let nextError = errors === null ? -1 : (errors[0] as number)
    let e = 0
    let total = 0
    this.#completing = chunk.indices
    for (let k = 0; k < chunk.indices.length; k++) {
      const i = chunk.indices[k] as number
      const ms = durations[k] as number
      total += ms
      const failed = k === nextError
      let error: unknown
      if (failed && errors !== null) {
        error = deserializeError(errors[e + 1])
        if ((error as { code?: unknown })?.code === 'WORKER_TASK_LOAD_TIMEOUT') {
          // The module did not load on that thread in time: say which task, in our own class.
          error = loadTimeoutError(chunk.queue.task, (this.#config.pool as WorkerPool).loadTimeout)
        }
        e += 2
        nextError = e < errors.length ? (errors[e] as number) : -1
      }
      if (this.#status[i] !== RUNNING) continue
      metrics.attempt(ms, chunk.start - this.#ready(i), true)
      if (!failed) this.#settle(i, true, values[k], undefined, ms, 'ok')
      else {
        const cloneFailure = (error as { code?: unknown })?.code === 'NOT_CLONEABLE'
        this.#fail(i, error, ms, !cloneFailure)
      }
    }
    this.#completing = undefined
    const perItem = total / chunk.indices.length
    this.#avgItemMs =
      this.#avgItemMs === undefined ? perItem : this.#avgItemMs * 0.5 + perItem * 0.5
    this.#pump()
  }

  #chunkFailed(chunk: Chunk, error: unknown): void {
    this.#release(chunk)
    if (this.#stopped) {
      // A chunk left to finish after a fail-fast stop lost its thread: its tasks never returned.
      for (const i of chunk.indices) {
        if (this.#status[i] !== RUNNING) continue
        const reason = new ParallelError(
          'CANCELLED',
          `task ${this.#taskId(i)} was cancelled: the run had stopped at a failure and its worker thread died`,
          { cause: error },
        )
        this.#settle(i, false, undefined, reason, 0, 'cancelled')
      }
      return
    }
    const { indices, expired } = chunk
    const elapsed = performance.now() - chunk.start
    if (expired !== undefined) {
      // Timed from the worker's mark of the load's or the task's start.
      const ms = clock() - expired.since
      for (const i of indices) {
        const error =
          expired.kind === 'task'
            ? timeoutError(this.#taskId(i), this.#config.timeout as number)
            : loadTimeoutError(chunk.queue.task, (this.#config.pool as WorkerPool).loadTimeout)
        this.#fail(i, error, expired.kind === 'task' ? ms : 0, true)
      }
    } else if ((error as Error)?.name === 'DataCloneError') {
      for (const i of indices) {
        const e = new ParallelError(
          'NOT_CLONEABLE',
          `the input of task ${this.#taskId(i)} cannot be cloned to a worker thread: ${(error as Error).message}`,
          { cause: error },
        )
        this.#fail(i, e, 0, false)
      }
    } else if (indices.length > 1) {
      // Only one of these may have killed the thread: run each alone to find out.
      for (const i of indices) {
        this.#status[i] = PENDING
        this.#attempts[i] = (this.#attempts[i] as number) - 1
        chunk.queue.single.push(i)
      }
    } else if (neverStarted(chunk) && this.#mayResend(indices[0] as number)) {
      // The thread died before this task reached it (tinypool can hand a queued task to a
      // thread that is being torn down after another task crashed it): not this task's failure.
      const i = indices[0] as number
      this.#status[i] = PENDING
      this.#attempts[i] = (this.#attempts[i] as number) - 1
      chunk.queue.single.push(i)
    } else {
      const i = indices[0] as number
      const message = (error as Error)?.message ?? String(error)
      const crash = new ParallelError(
        'WORKER_CRASHED',
        `the worker thread running task ${this.#taskId(i)} crashed: ${message}`,
        { cause: error },
      )
      this.#config.metrics.attempt(elapsed, chunk.start - this.#ready(i), true)
      this.#fail(i, crash, elapsed, true)
    }
    this.#pump()
  }
}

/** True when the worker never marked the chunk as started (it has a progress cell). */
function neverStarted(chunk: Chunk): boolean {
  return chunk.progress !== undefined && readProgress(chunk.progress).state === QUEUED
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  )
}

function cancelled(reason: unknown): ParallelError {
  return new ParallelError('CANCELLED', 'the task was cancelled', { cause: reason })
}

function timeoutError(taskId: string | number, timeout: number): ParallelError {
  return new ParallelError('TASK_TIMEOUT', `task ${taskId} timed out after ${timeout} ms`)
}

function withTimeout(
  promise: PromiseLike<unknown>,
  timeout: number,
  ctrl: AbortController,
  taskId: string | number,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // Ref'd on purpose: it guarantees the task settles even if its promise never does.
    const timer = setTimeout(() => ctrl.abort(timeoutError(taskId, timeout)), timeout)
    // Aborted by the timeout above or by a cancel: either way the lane moves on now.
    ctrl.signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(ctrl.signal.reason)
      },
      { once: true },
    )
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
