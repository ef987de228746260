import type { Queue } from 'bullmq'
import { ParallelError } from '../parallelError.js'
import type { ChunkKeys } from '../types.js'
import { bullmqError } from './bullmqError.js'
import type { ChunkJobData, RedisCommands } from './chunkJob.js'
import { chunkJobId, type RunKeys, runKeys } from './keys.js'
import { decodeBatch, type PackedChunk, type TaskRecord } from './payloadCodec.js'
import type { TaskIdentity } from './taskRegistry.js'

/** Receives the outcomes of one chunk: each item once, in completion order. */
export interface ChunkSink {
  /** Item `k` of the chunk settled (remotely, or here: cancelled, job failed). */
  record(k: number, record: TaskRecord): void
}

/** What a remote chunk runs. */
export interface ChunkSpec {
  task: TaskIdentity
  /** How many items the chunk has. */
  n: number
  /** Its inputs (`packChunk`): items in `failed` are not sent, and the caller settles them. */
  inputs: PackedChunk
  timeout?: number | undefined
  retries?: number | undefined
  retryDelay?: number | undefined
  /** The items' idempotency keys from the caller's run; undefined: `"<run id>:<index>"`. */
  keys?: ChunkKeys | undefined
}

interface RemoteChunk {
  no: number
  /** Run index of the chunk's first item; its items are `base .. base + n - 1`. */
  base: number
  n: number
  jobId: string
  settled: Uint8Array
  remaining: number
  sink: ChunkSink
}

/** Shared parts of a client: the queue, its connection and the run settings. */
export interface RunHost {
  readonly queue: Queue
  readonly client: RedisCommands
  readonly prefix: string
  readonly queueName: string
  readonly resultTtl: number
  readonly maxPayloadBytes: number
  /** Routes this run's failed-job events to it (from its first chunk until it closes). */
  track(run: RemoteRun): void
  /** Stops routing events to a closed run. */
  forget(run: RemoteRun): void
}

/** How long one blocking read of the results waits before it looks again (ms). */
const BLOCK_MS = 1000

/**
 * The caller's side of one run on a queue: chunks go out as jobs, outcomes come back on the run's
 * results stream and each item settles once, whatever arrives twice. Results stay in Redis for
 * `resultTtl` seconds, so a caller that restarts can attach to the same run id again.
 */
export class RemoteRun {
  readonly runId: string
  readonly keys: RunKeys
  readonly #host: RunHost
  /** Chunks in index order, from the oldest one not settled yet. */
  #chunks: RemoteChunk[] = []
  /** Drop what was read from the results stream (a backend's session run: nobody collects it). */
  readonly #trim: boolean
  readonly #byNo = new Map<number, RemoteChunk>()
  /**
   * Outcomes read for run indices no chunk holds yet (a caller attaching to a run that reported
   * before: the stream is read from its start while chunks are still being submitted). Each
   * settles its chunk when that chunk is submitted.
   */
  readonly #early = new Map<number, TaskRecord>()
  #nextNo = 0
  #nextIndex = 0
  #open = 0
  #lastId = '0'
  #reader: RedisCommands | undefined
  #reading = false
  #closed = false

  constructor(host: RunHost, runId: string, options: { trim?: boolean } = {}) {
    this.#trim = options.trim ?? false
    this.#host = host
    this.runId = runId
    this.keys = runKeys(host.prefix, host.queueName, runId)
  }

  /** Chunks not settled yet. */
  get openChunks(): number {
    return this.#open
  }

  /** Sends one chunk; its items get the next run indices. Resolves once the job is queued. */
  async submit(spec: ChunkSpec, sink: ChunkSink): Promise<number> {
    if (this.#closed) throw new ParallelError('CLOSED', 'the BullMQ backend is closed')
    const n = spec.n
    const chunk: RemoteChunk = {
      no: this.#nextNo++,
      base: this.#nextIndex,
      n,
      jobId: '',
      settled: new Uint8Array(n),
      remaining: n,
      sink,
    }
    chunk.jobId = chunkJobId(this.runId, chunk.no)
    this.#nextIndex += n
    const indices: number[] = []
    const failed = spec.inputs.failed
    for (let k = 0; k < n; k++) {
      if (failed.has(k)) {
        chunk.settled[k] = 1
        chunk.remaining--
      } else indices.push(chunk.base + k)
    }
    if (chunk.remaining === 0) return chunk.no
    this.#chunks.push(chunk)
    this.#byNo.set(chunk.no, chunk)
    this.#open++
    this.#host.track(this)
    if (this.#early.size > 0) {
      for (let k = 0; k < n; k++) {
        const record = this.#early.get(chunk.base + k)
        if (record === undefined) continue
        this.#early.delete(chunk.base + k)
        this.#settle(chunk, k, record)
      }
      // Everything was reported before: no job to queue, nothing runs again.
      if (chunk.remaining === 0) return chunk.no
    }
    const data: ChunkJobData = {
      r: this.runId,
      c: chunk.no,
      i: indices,
      t: spec.task.name,
      v: spec.task.version,
      p: spec.inputs.packed,
      ttl: this.#host.resultTtl,
      mb: this.#host.maxPayloadBytes,
    }
    if (spec.timeout !== undefined) data.to = spec.timeout
    if (spec.retries !== undefined) data.rt = spec.retries
    if (spec.retryDelay !== undefined) data.rd = spec.retryDelay
    const keys = spec.keys
    if (keys !== undefined) {
      // Only the items sent: the worker pairs them with `i`.
      const kept = (k: number) => !failed.has(k)
      if (keys.list !== undefined) data.k = keys.list.filter((_, k) => kept(k))
      else {
        data.kp = keys.prefix
        data.ki = keys.indices.filter((_, k) => kept(k))
      }
    }
    this.#read()
    // A job id that exists already (a caller attaching again) is not added twice.
    await this.#host.queue.add(spec.task.name, data, {
      jobId: chunk.jobId,
      removeOnComplete: true,
      removeOnFail: true,
    })
    return chunk.no
  }

  /**
   * Cancels chunk `no` (or every chunk): its waiting job is removed, a running one stops at its
   * next check, and every unsettled item settles here as `CANCELLED`.
   */
  async cancel(no: number | '*', reason: unknown): Promise<void> {
    const chunks = no === '*' ? [...this.#byNo.values()] : [this.#byNo.get(no)].filter(isDefined)
    for (const chunk of chunks) {
      for (let k = 0; k < chunk.n; k++) {
        if (chunk.settled[k] === 0) {
          this.#settle(chunk, k, {
            index: chunk.base + k,
            success: false,
            value: cancelledError(reason),
            durationMs: 0,
            attempts: 0,
          })
        }
      }
    }
    const { client, queue } = this.#host
    try {
      await client.sadd(this.keys.cancel, String(no))
      await client.expire(this.keys.cancel, this.#host.resultTtl)
      await Promise.all(chunks.map((chunk) => queue.remove(chunk.jobId).catch(() => 0)))
    } catch {
      // Redis unreachable: running tasks finish and are ignored; their jobs end by themselves.
    }
  }

  /** A job of this run failed in BullMQ: its unsettled items fail, after what already arrived. */
  async jobFailed(no: number, reason: string): Promise<void> {
    const chunk = this.#byNo.get(no)
    if (chunk === undefined || chunk.remaining === 0) return
    await this.#drainOnce().catch(() => {})
    const error = bullmqError(
      'JOB_FAILED',
      `the job ${chunk.jobId} of run ${this.runId} failed on queue ${this.#host.queueName}: ${reason}`,
    )
    for (let k = 0; k < chunk.n; k++) {
      if (chunk.settled[k] === 0) {
        this.#settle(chunk, k, {
          index: chunk.base + k,
          success: false,
          value: error,
          durationMs: 0,
          attempts: 1,
        })
      }
    }
  }

  /** Stops reading; unsettled chunks stay unsettled (their jobs run on; results stay kept). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#reader?.disconnect()
    this.#reader = undefined
    this.#host.forget(this)
  }

  #read(): void {
    if (this.#reading || this.#closed) return
    this.#reading = true
    void this.#loop()
  }

  async #loop(): Promise<void> {
    let failures = 0
    try {
      while (this.#open > 0 && !this.#closed) {
        if (this.#reader === undefined) {
          this.#reader = this.#host.client.duplicate()
          // Connection errors surface as failed reads below, retried.
          this.#reader.on('error', () => {})
        }
        let reply: Awaited<ReturnType<RedisCommands['xreadBuffer']>>
        try {
          reply = await this.#reader.xreadBuffer(
            'COUNT',
            1000,
            'BLOCK',
            BLOCK_MS,
            'STREAMS',
            this.keys.results,
            this.#lastId,
          )
          failures = 0
        } catch {
          if (this.#closed) return
          // Redis restarting or unreachable: look again, a little later each time.
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** failures++)))
          continue
        }
        if (reply !== null) {
          this.#deliverEntries(reply[0]?.[1] ?? [], true)
          this.#prune()
        }
      }
    } finally {
      this.#reading = false
      if (this.#open > 0 && !this.#closed) this.#read()
    }
  }

  /** Reads what the stream holds now, without blocking (before failing a job's items). */
  async #drainOnce(): Promise<void> {
    let from = this.#lastId
    for (;;) {
      const reply = await this.#host.client.xreadBuffer(
        'COUNT',
        1000,
        'STREAMS',
        this.keys.results,
        from,
      )
      const entries = reply?.[0]?.[1] ?? []
      if (entries.length === 0) return
      this.#deliverEntries(entries, false)
      from = (entries[entries.length - 1] as [Buffer, Buffer[]])[0].toString()
    }
  }

  #deliverEntries(entries: [Buffer, Buffer[]][], advance: boolean): void {
    for (const [id, fields] of entries) {
      if (advance) this.#lastId = id.toString()
      for (const record of decodeBatch(fields[1] as Buffer)) {
        const chunk = this.#chunkOf(record.index)
        if (chunk === undefined) {
          // Beyond the chunks submitted so far: it waits for its chunk. Below: settled already.
          if (record.index >= this.#nextIndex && !this.#early.has(record.index)) {
            this.#early.set(record.index, record)
          }
          continue
        }
        const k = record.index - chunk.base
        if (chunk.settled[k] === 1) continue
        this.#settle(chunk, k, record)
      }
    }
  }

  /** Forgets settled chunks at the front, and (when trimming) the stream entries already read. */
  #prune(): void {
    let head = 0
    while (head < this.#chunks.length && (this.#chunks[head] as RemoteChunk).remaining === 0) head++
    if (head > 0) this.#chunks = this.#chunks.slice(head)
    if (this.#trim) {
      this.#host.client.xtrim(this.keys.results, 'MINID', this.#lastId).catch(() => {})
    }
  }

  #settle(chunk: RemoteChunk, k: number, record: TaskRecord): void {
    if (chunk.settled[k] === 1) return
    chunk.settled[k] = 1
    chunk.remaining--
    if (chunk.remaining === 0) {
      this.#open--
      this.#byNo.delete(chunk.no)
    }
    chunk.sink.record(k, record)
  }

  /** The chunk holding run index `index` (chunks are in index order). */
  #chunkOf(index: number): RemoteChunk | undefined {
    const chunks = this.#chunks
    let lo = 0
    let hi = chunks.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const chunk = chunks[mid] as RemoteChunk
      if (index < chunk.base) hi = mid - 1
      else if (index >= chunk.base + chunk.n) lo = mid + 1
      else return chunk
    }
    return undefined
  }
}

function cancelledError(reason: unknown): ParallelError {
  if (reason instanceof ParallelError && reason.code === 'CANCELLED') return reason
  return new ParallelError('CANCELLED', 'the task was cancelled', { cause: reason })
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined
}
