import { randomUUID } from 'node:crypto'
import type { ConnectionOptions, Queue, QueueEvents } from 'bullmq'
import { describe, isWorkerTask, type WorkerTask } from '../defineWorkerTask.js'
import { ParallelError } from '../parallelError.js'
import type {
  ChunkBackend,
  ChunkEnd,
  ChunkHandle,
  ChunkListener,
  ChunkRequest,
  TaskResult,
} from '../types.js'
import { bullmqError } from './bullmqError.js'
import { DEFAULT_RESULT_TTL, type RedisCommands } from './chunkJob.js'
import { runKeys } from './keys.js'
import { loadBullmq } from './loadBullmq.js'
import { decodeBatch, type PackedChunk, packChunk, type TaskRecord } from './payloadCodec.js'
import type { RedisConnection } from './redisConnection.js'
import { RemoteRun, type RunHost } from './remoteRun.js'
import type { TaskIdentity, TaskRegistry } from './taskRegistry.js'
import {
  optionalNonNegative,
  positiveInteger,
  resolveQueueOptions,
  runIdOption,
} from './validate.js'

/** Options of `bullmqBackend`. */
export interface BullmqBackendOptions {
  /** How to reach Redis: a `redis://` URL, ioredis options, or an ioredis `Redis` / `Cluster` instance. */
  connection: RedisConnection
  /** The queue's name; `bookgen-worker --queue` must serve the same. */
  queue: string
  /** The registry naming the tasks (the same module the workers load with `--tasks`). */
  tasks: TaskRegistry
  /** Queue key prefix; keep the braces (a hash tag) on a Redis Cluster. @default '{bookgen}' */
  prefix?: string
  /**
   * Chunks (jobs) of one run queued or running at once: the bound of the work in flight. Give
   * it about the workers' total concurrency, times two so no worker waits for a round trip.
   * @default 16
   */
  concurrency?: number
  /** Tasks per job: a positive integer, or `'auto'` (the run split into about 2 × `concurrency` jobs, at most 5000 tasks each). @default 'auto' */
  chunkSize?: number | 'auto'
  /** Bound of one serialized input (bytes); larger inputs fail with `PAYLOAD_TOO_LARGE`. @default 67108864 */
  maxPayloadBytes?: number
  /** How long a run's results stay in Redis for `collect(runId)` (seconds). @default 3600 */
  resultTtl?: number
  /**
   * Bound of a task module's load on a worker (ms), reported to the executor as the backend's
   * `loadTimeout`. Workers bound their own loads with `serveTasks({ executor: { loadTimeout } })`
   * (30 s when not given, as in `bookgen-worker`).
   * @default 30000
   */
  loadTimeout?: number
}

/** Per-call options of `BullmqBackend.map`. */
export interface RemoteMapOptions<T = unknown> {
  /**
   * The run's id: give the same id again (after a restart of the caller) to attach to the run
   * instead of starting over; tasks already reported are not run again.
   * @default a random UUID
   */
  runId?: string
  /** Cancels the run: waiting jobs are removed, running ones stop; tasks settle as `CANCELLED`. @default undefined */
  signal?: AbortSignal
  /** Per-task timeout enforced on the worker (ms). @default undefined (none) */
  timeout?: number
  /** Extra attempts on the worker after a failure. @default 0 */
  retries?: number
  /** Base backoff between attempts on the worker (ms). @default 100 */
  retryDelay?: number
  /** Overrides the backend's `chunkSize`. @default the backend's `chunkSize` */
  chunkSize?: number | 'auto'
  /** Ids for the tasks, in input order. @default the index of each task */
  taskIds?: readonly (string | number)[]
  /** Called with each result as soon as its task settles (completion order). @default undefined */
  onResult?: (result: TaskResult<T>) => void
}

interface Resolved {
  connection: ConnectionOptions
  queue: string
  tasks: TaskRegistry
  prefix: string
  concurrency: number
  chunkSize: number | 'auto'
  maxPayloadBytes: number
  resultTtl: number
  loadTimeout: number
}

interface Host extends RunHost {
  readonly events: QueueEvents
}

/**
 * The caller's side of the BullMQ backend: tasks of a registry run on `bookgen-worker`
 * processes, on this host or others, through a BullMQ queue on Redis (or a Redis Cluster).
 * Every task settles exactly once, in input order; execution is at least once (a chunk whose
 * worker dies runs again elsewhere, without the tasks it had already reported).
 */
export class BullmqBackend implements ChunkBackend, AsyncDisposable {
  readonly #o: Resolved
  #host: Promise<Host> | undefined
  readonly #runs = new Map<string, RemoteRun>()
  /** The run the executor's chunks join (one per backend, created on the first chunk). */
  #session: RemoteRun | undefined
  readonly #chunks = new Set<SessionChunk>()
  #closed = false

  constructor(options: BullmqBackendOptions) {
    this.#o = resolveOptions(options)
  }

  /** Chunks of one run queued or running at once. */
  get concurrency(): number {
    return this.#o.concurrency
  }

  /** The queue's name. */
  get queue(): string {
    return this.#o.queue
  }

  /** Bound of a task module's load on a worker (ms). */
  get loadTimeout(): number {
    return this.#o.loadTimeout
  }

  /** `ChunkBackend`: checks that the task is registered and that BullMQ and Redis are reachable. */
  async prepare(task: WorkerTask<unknown, unknown>): Promise<void> {
    this.identify(task)
    await this.#connect()
  }

  /**
   * `ChunkBackend`: runs one chunk as one job of this backend's session run. Items are reported
   * in item order as their outcomes arrive; `drain()` and `abort()` cancel the job (its running
   * tasks stop on the worker) and end the chunk with what was reported.
   */
  run(request: ChunkRequest, listener: ChunkListener): ChunkHandle {
    const chunk = new SessionChunk(request.inputs.length, listener, () => {
      this.#chunks.delete(chunk)
    })
    this.#chunks.add(chunk)
    void this.#runChunk(request, chunk)
    return chunk
  }

  async #runChunk(request: ChunkRequest, chunk: SessionChunk): Promise<void> {
    let identity: TaskIdentity
    let inputs: PackedChunk
    try {
      identity = this.identify(request.task)
      inputs = packChunk(request.inputs, this.#o.maxPayloadBytes, (k) => `input ${k}`)
    } catch (error) {
      chunk.unsendable(error)
      return
    }
    const [first] = inputs.failed.values()
    if (first !== undefined) {
      chunk.unsendable(first)
      return
    }
    try {
      const host = await this.#connect()
      if (this.#session === undefined) {
        this.#session = new RemoteRun(host, randomUUID(), { trim: true })
        this.#runs.set(this.#session.runId, this.#session)
      }
      const session = this.#session
      chunk.cancelRemote = (reason) => session.cancel(chunk.no, reason)
      chunk.no = await session.submit(
        {
          task: identity,
          n: request.inputs.length,
          inputs,
          timeout: request.timeout,
          keys: request.keys,
        },
        { record: (k, record) => chunk.record(k, record) },
      )
      if (chunk.stopping) void session.cancel(chunk.no, chunk.stopping)
    } catch (error) {
      chunk.unsendable(error)
    }
  }

  /** The name and version `task` travels under; `TASK_NOT_ALLOWED` when it is not registered. */
  identify(task: WorkerTask<unknown, unknown>): TaskIdentity {
    if (!isWorkerTask(task)) {
      throw new ParallelError(
        'INVALID_TASK',
        `task must be a worker task (defineWorkerTask), got ${describe(task)}`,
      )
    }
    const identity = this.#o.tasks.identify(task)
    if (identity === undefined) {
      throw bullmqError(
        'TASK_NOT_ALLOWED',
        `worker task "${task.exportName}" from ${task.moduleUrl} is not in the registry given to bullmqBackend({ tasks }): remote workers know tasks by their registered name`,
      )
    }
    return identity
  }

  /**
   * Runs `task` on every item on the queue's workers; resolves with one `TaskResult` per item,
   * in input order. Task failures are in the results; it rejects only for bad arguments.
   */
  async map<In, Out>(
    task: WorkerTask<In, Out>,
    items: Iterable<In>,
    options: RemoteMapOptions<Out> = {},
  ): Promise<TaskResult<Out>[]> {
    const identity = this.identify(task as WorkerTask<unknown, unknown>)
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new ParallelError(
        'INVALID_OPTION',
        `options must be an object, got ${describe(options)}`,
      )
    }
    if (items === null || typeof (items as Iterable<In>)?.[Symbol.iterator] !== 'function') {
      throw new ParallelError('INVALID_ITEMS', `items must be iterable, got ${describe(items)}`)
    }
    const runId =
      options.runId === undefined ? randomUUID() : runIdOption('options.runId', options.runId)
    const timeout = optionalNonNegative('options.timeout', options.timeout)
    const retries = optionalNonNegative('options.retries', options.retries)
    const retryDelay = optionalNonNegative('options.retryDelay', options.retryDelay)
    const chunkSizeOption = chunkSize('options.chunkSize', options.chunkSize ?? this.#o.chunkSize)
    const list = Array.from(items)
    const n = list.length
    const results: TaskResult<Out>[] = new Array(n)
    if (n === 0) return results
    const host = await this.#connect()
    const concurrency = this.#o.concurrency
    const size =
      chunkSizeOption === 'auto'
        ? Math.min(5000, Math.max(1, Math.ceil(n / (concurrency * 2))))
        : chunkSizeOption
    const run = new RemoteRun(host, runId)
    this.#runs.set(runId, run)
    const { signal, taskIds, onResult } = options
    let settledCount = 0
    let cursor = 0
    let stopped = false
    let pumping = false
    let callbackError: unknown
    let resolve!: () => void
    const finished = new Promise<void>((r) => {
      resolve = r
    })
    const settle = (i: number, record: TaskRecord) => {
      if (results[i] !== undefined) return
      const result = toTaskResult(record, taskIds?.[i] ?? i) as TaskResult<Out>
      results[i] = result
      settledCount++
      if (onResult !== undefined && callbackError === undefined) {
        try {
          onResult(result)
        } catch (error) {
          callbackError = error
          cancel(
            new ParallelError('CANCELLED', 'cancelled because an onResult callback threw', {
              cause: error,
            }),
          )
        }
      }
      if (settledCount === n) resolve()
      else if (!stopped && run.openChunks < concurrency) void pump()
    }
    const pump = async () => {
      if (pumping) return
      pumping = true
      try {
        while (!stopped && cursor < n && run.openChunks < concurrency) {
          const start = cursor
          const end = Math.min(n, start + size)
          cursor = end
          const inputs = packChunk(
            list.slice(start, end),
            this.#o.maxPayloadBytes,
            (k) => `the input of task ${taskIds?.[start + k] ?? start + k}`,
          )
          for (const [k, error] of inputs.failed) {
            settle(start + k, {
              index: start + k,
              success: false,
              value: error,
              durationMs: 0,
              attempts: 0,
            })
          }
          try {
            await run.submit(
              { task: identity, n: end - start, inputs, timeout, retries, retryDelay },
              { record: (k, record) => settle(start + k, record) },
            )
          } catch (error) {
            for (let i = start; i < end; i++) {
              settle(i, { index: i, success: false, value: error, durationMs: 0, attempts: 0 })
            }
          }
        }
      } finally {
        pumping = false
      }
    }
    const cancel = (reason: ParallelError) => {
      if (stopped) return
      stopped = true
      void run.cancel('*', reason)
      for (let i = 0; i < n; i++) {
        if (results[i] === undefined) {
          settle(i, { index: i, success: false, value: reason, durationMs: 0, attempts: 0 })
        }
      }
    }
    const onAbort = () =>
      cancel(new ParallelError('CANCELLED', 'the task was cancelled', { cause: signal?.reason }))
    if (signal?.aborted) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
    try {
      void pump()
      await finished
    } finally {
      signal?.removeEventListener('abort', onAbort)
      run.close()
      this.#runs.delete(runId)
    }
    if (callbackError !== undefined) {
      throw new ParallelError('CALLBACK_FAILED', 'an onResult callback threw', {
        cause: callbackError,
        results,
      })
    }
    return results
  }

  /**
   * The results of run `runId` that Redis still keeps (for `resultTtl` seconds after its last
   * report), by run index: a sparse array, with a hole for each task not reported (yet).
   */
  async collect(runId: string): Promise<TaskResult<unknown>[]> {
    const id = runIdOption('runId', runId)
    const host = await this.#connect()
    const key = runKeys(this.#o.prefix, this.#o.queue, id).results
    const results: TaskResult<unknown>[] = []
    let from = '0'
    for (;;) {
      const reply = await host.client.xreadBuffer('COUNT', 1000, 'STREAMS', key, from)
      const entries = reply?.[0]?.[1] ?? []
      if (entries.length === 0) return results
      for (const [entryId, fields] of entries) {
        from = entryId.toString()
        for (const record of decodeBatch(fields[1] as Buffer)) {
          results[record.index] ??= toTaskResult(record, record.index)
        }
      }
    }
  }

  /** Stops reading results and closes the connections (jobs already queued stay queued). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const closed = new ParallelError('CLOSED', 'the BullMQ backend is closed')
    for (const chunk of [...this.#chunks]) chunk.lose(closed)
    for (const run of this.#runs.values()) run.close()
    this.#runs.clear()
    const host = await this.#host?.catch(() => undefined)
    if (host !== undefined) {
      await host.events.close().catch(() => {})
      await host.queue.close().catch(() => {})
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #connect(): Promise<Host> {
    if (this.#closed) {
      return Promise.reject(new ParallelError('CLOSED', 'the BullMQ backend is closed'))
    }
    this.#host ??= (async () => {
      const { Queue, QueueEvents } = await loadBullmq()
      const o = this.#o
      const queue: Queue = new Queue(o.queue, { connection: o.connection, prefix: o.prefix })
      queue.on('error', () => {})
      const events: QueueEvents = new QueueEvents(o.queue, {
        connection: o.connection,
        prefix: o.prefix,
      })
      events.on('error', () => {})
      events.on('failed', ({ jobId, failedReason }) => {
        const dot = jobId.lastIndexOf('.')
        const run = this.#runs.get(jobId.slice(0, dot))
        void run?.jobFailed(Number(jobId.slice(dot + 1)), failedReason)
      })
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()])
      const client = (await queue.client) as unknown as RedisCommands
      const runs = this.#runs
      return {
        queue,
        events,
        client,
        prefix: o.prefix,
        queueName: o.queue,
        resultTtl: o.resultTtl,
        maxPayloadBytes: o.maxPayloadBytes,
        track: (run: RemoteRun) => runs.set(run.runId, run),
        forget: (run: RemoteRun) => {
          if (runs.get(run.runId) === run) runs.delete(run.runId)
        },
      }
    })()
    this.#host.catch(() => {
      this.#host = undefined
    })
    return this.#host
  }
}

/**
 * Creates the BullMQ backend: the tasks of `options.tasks` run on `bookgen-worker` processes
 * serving `options.queue`. Nothing connects before the first run.
 *
 * @example
 * const backend = bullmqBackend({ connection: 'redis://127.0.0.1:6379', queue: 'biography', tasks })
 * const results = await backend.map(hash, documents)
 * await backend.close()
 */
export function bullmqBackend(options: BullmqBackendOptions): BullmqBackend {
  return new BullmqBackend(options)
}

/**
 * One executor chunk on the session run: reorders the outcomes (they arrive as tasks finish on
 * the workers' threads) into the item order the executor expects, and ends the chunk once.
 */
class SessionChunk implements ChunkHandle {
  no = -1
  /** Set when the chunk was stopped before its job was queued. */
  stopping: ParallelError | undefined
  cancelRemote: ((reason: unknown) => Promise<void>) | undefined
  readonly #n: number
  readonly #listener: ChunkListener
  readonly #done: () => void
  readonly #early = new Map<number, TaskRecord>()
  #next = 0
  #ended = false

  constructor(n: number, listener: ChunkListener, done: () => void) {
    this.#n = n
    this.#listener = listener
    this.#done = done
  }

  record(k: number, record: TaskRecord): void {
    if (this.#ended) return
    if (k !== this.#next) {
      this.#early.set(k, record)
      return
    }
    this.#emit(record)
    // A listener may stop the chunk from inside item(): nothing is reported after that.
    for (let r = this.#early.get(this.#next); r !== undefined && !this.#ended; ) {
      this.#early.delete(this.#next)
      this.#emit(r)
      r = this.#early.get(this.#next)
    }
    if (!this.#ended && this.#next === this.#n) this.#end({ completed: this.#n })
  }

  drain(): void {
    this.#stop()
  }

  abort(): void {
    this.#stop()
  }

  unsendable(cause: unknown): void {
    if (this.#ended) return
    if (this.#n === 1 && (cause as { code?: unknown })?.code === 'PAYLOAD_TOO_LARGE') {
      this.#listener.item(0, false, cause, 0)
      this.#end({ completed: 1 })
      return
    }
    this.#end({ completed: this.#next, notStarted: { kind: 'unsendable', cause } })
  }

  lose(cause: unknown): void {
    if (this.#ended) return
    if (this.#next === this.#n) this.#end({ completed: this.#n })
    else this.#end({ completed: this.#next, lost: { kind: 'crash', cause, durationMs: 0 } })
  }

  // Tasks that finished remotely but are not reported yet (a gap before them) count as not
  // started: the executor sends them again if it still wants them (execution is at least once).
  #stop(): void {
    if (this.#ended) return
    const reason = new ParallelError('CANCELLED', 'the chunk was stopped by its run')
    // Ended first: the remote cancel settles the rest as cancelled, which the executor must not see.
    this.#end({ completed: this.#next })
    if (this.cancelRemote !== undefined && this.no >= 0) void this.cancelRemote(reason)
    else this.stopping = reason
  }

  #emit(record: TaskRecord): void {
    const k = this.#next++
    this.#listener.item(k, record.success, record.value, record.durationMs)
  }

  #end(end: ChunkEnd): void {
    this.#ended = true
    this.#done()
    this.#listener.end(end)
  }
}

function toTaskResult(record: TaskRecord, taskId: string | number): TaskResult<unknown> {
  const duration = record.durationMs / 1000
  return record.success
    ? { success: true, result: record.value, duration, taskId, attempts: record.attempts }
    : { success: false, error: record.value, duration, taskId, attempts: record.attempts }
}

function resolveOptions(options: BullmqBackendOptions): Resolved {
  const shared = resolveQueueOptions(options)
  return {
    ...shared,
    concurrency: positiveInteger('options.concurrency', options.concurrency ?? 16),
    chunkSize: chunkSize('options.chunkSize', options.chunkSize ?? 'auto'),
    resultTtl: positiveInteger('options.resultTtl', options.resultTtl ?? DEFAULT_RESULT_TTL),
    loadTimeout: positiveInteger('options.loadTimeout', options.loadTimeout ?? 30_000),
  }
}

function chunkSize(path: string, value: unknown): number | 'auto' {
  return value === 'auto' ? 'auto' : positiveInteger(path, value)
}
