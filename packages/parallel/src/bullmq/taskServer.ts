import { availableParallelism } from 'node:os'
import type { ConnectionOptions, Job, Worker } from 'bullmq'
import { type ExecutorOptions, ParallelTaskExecutor, type TaskResult } from '../index.js'
import { ParallelError } from '../parallelError.js'
import {
  type ChunkJobData,
  chunkKeys,
  DONE_SCRIPT,
  REPORT_SCRIPT,
  type RedisCommands,
} from './chunkJob.js'
import { runKeys } from './keys.js'
import { loadBullmq } from './loadBullmq.js'
import { encodeBatch, toWire, unpackInputs, type WireRecord } from './payloadCodec.js'
import type { RedisConnection } from './redisConnection.js'
import { resolveTask, type TaskRegistry } from './taskRegistry.js'
import { positiveInteger, resolveQueueOptions } from './validate.js'

/** Options of `serveTasks` (and of the `bookgen-worker` command). */
export interface TaskServerOptions {
  /** How to reach Redis: a `redis://` URL, ioredis options, or an ioredis `Redis` / `Cluster` instance. */
  connection: RedisConnection
  /** The queue's name; the callers' `bullmqBackend({ queue })` must use the same. */
  queue: string
  /** The tasks this worker serves; nothing else runs here (an allowlist). */
  tasks: TaskRegistry
  /** Chunks (jobs) processed at once. @default 2 */
  concurrency?: number
  /** Worker threads running the tasks of those chunks. @default os.availableParallelism() */
  threads?: number
  /** Queue key prefix; keep the braces (a hash tag) on a Redis Cluster. @default '{bookgen}' */
  prefix?: string
  /** Bound of one serialized result (bytes); larger results fail with `PAYLOAD_TOO_LARGE`. @default 67108864 */
  maxPayloadBytes?: number
  /** How long a job's lock lasts without renewal (ms): a killed worker's jobs return after it. @default 30000 */
  lockDuration?: number
  /** How often stalled jobs (of killed workers) are looked for (ms). @default 30000 */
  stalledInterval?: number
  /** How often one job may stall before it fails with `JOB_FAILED`. @default 5 */
  maxStalledCount?: number
  /** How often a running chunk checks whether its caller cancelled it (ms). @default 200 */
  cancelPollInterval?: number
  /** Options of the local executor running the tasks (`workerSetup`, `resourceLimits`, `loadTimeout`...). @default {} */
  executor?: Omit<ExecutorOptions, 'threads' | 'mode'>
  /** Receives one line per state change (ready, draining, stopped, stalled job, error). @default undefined */
  onState?: (line: string) => void
}

/** A running worker: serves its registry's tasks until `close()`. */
export interface TaskServer extends AsyncDisposable {
  /** Stops taking jobs, finishes the running ones (`force`: hands them back at once), then stops. */
  close(force?: boolean): Promise<void>
  /** The underlying BullMQ worker. */
  readonly worker: Worker
  /** Chunks being processed now. */
  readonly activeChunks: number
}

/**
 * Serves the tasks of `options.tasks` from a BullMQ queue: each job is a chunk of tasks, run on
 * this process's worker threads, each task's outcome reported as soon as it settles. A task is
 * reported once per run even when its chunk runs again (after a crash), so callers settle it once;
 * execution is at least once.
 */
export async function serveTasks(options: TaskServerOptions): Promise<TaskServer> {
  const o = resolveServerOptions(options)
  const { Worker } = await loadBullmq()
  const executor = new ParallelTaskExecutor({
    ...o.executor,
    threads: o.threads,
    maxWorkers: Math.max(o.threads, o.concurrency),
  })
  const log = o.onState ?? (() => {})
  let active = 0
  let closing: Promise<void> | undefined
  let client: RedisCommands | undefined

  const processor = async (job: Job<ChunkJobData>): Promise<number> => {
    active++
    try {
      client ??= (await worker.client) as unknown as RedisCommands
      return await processChunk(job.data, client, executor, o)
    } finally {
      active--
    }
  }
  const worker: Worker = new Worker(o.queue, processor as never, {
    connection: o.connection,
    prefix: o.prefix,
    concurrency: o.concurrency,
    lockDuration: o.lockDuration,
    stalledInterval: o.stalledInterval,
    maxStalledCount: o.maxStalledCount,
    autorun: false,
  })
  worker.on('error', (error) => log(`error: ${error?.message ?? String(error)}`))
  worker.on('stalled', (jobId) => log(`stalled job ${jobId} returned to the queue`))
  await worker.waitUntilReady()
  void worker.run().catch((error: unknown) => log(`error: ${(error as Error)?.message ?? error}`))
  log(
    `ready queue=${o.queue} tasks=${o.tasks.names.map((n) => `${n}@${o.tasks.get(n)?.version}`).join(',')} concurrency=${o.concurrency} threads=${o.threads} pid=${process.pid}`,
  )
  const close = (force = false): Promise<void> => {
    closing ??= (async () => {
      log(force ? `stopping now, handing back ${active} chunks` : `draining ${active} chunks`)
      await worker.close(force)
      await executor.close()
      log('stopped')
    })()
    return closing
  }
  return {
    worker,
    get activeChunks() {
      return active
    },
    close,
    [Symbol.asyncDispose]: () => close(),
  }
}

type ResolvedServerOptions = Required<Omit<TaskServerOptions, 'onState' | 'connection'>> &
  Pick<TaskServerOptions, 'onState'> & { connection: ConnectionOptions }

async function processChunk(
  data: ChunkJobData,
  client: RedisCommands,
  executor: ParallelTaskExecutor,
  o: ResolvedServerOptions,
): Promise<number> {
  const keys = runKeys(o.prefix, o.queue, data.r)
  const maxBytes = Math.min(o.maxPayloadBytes, data.mb ?? o.maxPayloadBytes)
  const reporter = new Reporter(client, keys.results, keys.done, data.ttl, maxBytes)
  let task: ReturnType<typeof resolveTask>
  try {
    task = resolveTask(o.tasks, { name: data.t, version: data.v })
  } catch (error) {
    for (const index of data.i) reporter.add(index, false, error, 0, 0)
    return reporter.flush()
  }
  const done = (await client.eval(DONE_SCRIPT, 1, keys.done, ...data.i)) as number[]
  const indices: number[] = []
  const inputs: unknown[] = []
  const idempotencyKeys: string[] = []
  const all = unpackInputs(data.p)
  const keyOf = chunkKeys(data)
  for (let k = 0; k < data.i.length; k++) {
    if (done[k] === 1) continue
    indices.push(data.i[k] as number)
    inputs.push(all[k])
    idempotencyKeys.push(keyOf[k] as string)
  }
  if (indices.length === 0) return 0
  const ctrl = new AbortController()
  const poll = setInterval(() => {
    client.smismember(keys.cancel, '*', String(data.c)).then(
      (flags) => {
        if (flags.includes(1)) ctrl.abort(new ParallelError('CANCELLED', 'the caller cancelled'))
      },
      () => {},
    )
  }, o.cancelPollInterval)
  poll.unref()
  try {
    await executor.mapParallel(task, inputs, {
      signal: ctrl.signal,
      taskIds: indices,
      // Stable across redeliveries of the job and retries of the caller's run.
      idempotencyKeys,
      // The job is the chunk: split it once over the threads rather than sizing chunks anew.
      chunkSize: Math.max(1, Math.ceil(indices.length / o.threads)),
      ...(data.to !== undefined ? { timeout: data.to } : {}),
      ...(data.rt !== undefined ? { retries: data.rt } : {}),
      ...(data.rd !== undefined ? { retryDelay: data.rd } : {}),
      onResult: (r: TaskResult<unknown>) => {
        // Tasks cancelled by their caller are already settled there.
        if (ctrl.signal.aborted) return
        reporter.add(
          r.taskId as number,
          r.success,
          r.success ? r.result : r.error,
          r.duration * 1000,
          r.attempts,
        )
      },
    })
  } finally {
    clearInterval(poll)
  }
  return reporter.flush()
}

/** Most task records per script call. */
const BATCH = 1024

/** Batches task records into script calls, in order, one in flight at a time. */
class Reporter {
  readonly #client: RedisCommands
  readonly #results: string
  readonly #done: string
  readonly #ttl: number
  readonly #maxBytes: number
  #records: WireRecord[] = []
  #indices: number[] = []
  #chain: Promise<number> = Promise.resolve(0)
  #scheduled = false
  #reported = 0

  constructor(client: RedisCommands, results: string, done: string, ttl: number, maxBytes: number) {
    this.#client = client
    this.#results = results
    this.#done = done
    this.#ttl = ttl
    this.#maxBytes = maxBytes
  }

  add(index: number, success: boolean, value: unknown, durationMs: number, attempts: number): void {
    this.#records.push(toWire({ index, success, value, durationMs, attempts }))
    this.#indices.push(index)
    if (this.#records.length >= BATCH) this.#send()
    else if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => {
        this.#scheduled = false
        this.#send()
      })
    }
  }

  /** Resolves with how many new outcomes were recorded, once everything added is. */
  flush(): Promise<number> {
    this.#send()
    return this.#chain.then(() => this.#reported)
  }

  #send(): void {
    if (this.#records.length === 0) return
    const batch = encodeBatch(this.#records, this.#maxBytes)
    const indices = this.#indices
    this.#records = []
    this.#indices = []
    this.#chain = this.#chain.then(() => this.#write(batch, indices))
  }

  async #write(batch: Buffer, indices: number[]): Promise<number> {
    // Redis may be restarting: retry for a while, then fail the job (it runs again elsewhere).
    for (let attempt = 0; ; attempt++) {
      try {
        const n = (await this.#client.eval(
          REPORT_SCRIPT,
          2,
          this.#results,
          this.#done,
          this.#ttl,
          batch,
          ...indices,
        )) as number
        this.#reported += n
        return n
      } catch (error) {
        if (attempt >= 60) throw error
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)))
      }
    }
  }
}

function resolveServerOptions(options: TaskServerOptions): ResolvedServerOptions {
  const shared = resolveQueueOptions(options)
  return {
    ...shared,
    concurrency: positiveInteger('options.concurrency', options.concurrency ?? 2),
    threads: positiveInteger('options.threads', options.threads ?? availableParallelism()),
    lockDuration: positiveInteger('options.lockDuration', options.lockDuration ?? 30_000),
    stalledInterval: positiveInteger('options.stalledInterval', options.stalledInterval ?? 30_000),
    maxStalledCount: positiveInteger('options.maxStalledCount', options.maxStalledCount ?? 5),
    cancelPollInterval: positiveInteger(
      'options.cancelPollInterval',
      options.cancelPollInterval ?? 200,
    ),
    executor: options.executor ?? {},
    onState: options.onState,
  }
}
