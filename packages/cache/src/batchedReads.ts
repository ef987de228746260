import { performance } from 'node:perf_hooks'
import type { Redis } from 'ioredis'

/**
 * Most keys in one MGET: a bigger batch is split, so one command does not hold the server (or
 * other clients' replies) for long.
 */
const MAX_BATCH = 1000

/**
 * What a batch settles to: the replies in the order the keys joined (a string or Buffer, `null`
 * for nothing, or the error of that one key), or the error of the whole batch (its deadline passed,
 * the client failed). Settling never rejects.
 */
export type BatchReply = (string | Buffer | null | Error)[] | Error

/**
 * The reads of one tick on one connection, sent as one command when the tick is over: one GET for
 * a lone key, else one MGET. Every call that joined settles on the batch's single promise, bounded
 * by one deadline timer: the batch is started by its first call and takes calls for at most 1 ms,
 * so the deadline is never later than `timeoutMs` after any call's own start.
 */
export class ReadBatch {
  /** The full Redis keys, in the order the calls joined. */
  readonly keys: string[] = []
  /** Settles once: with the replies, or with the batch's error. */
  readonly reply: Promise<BatchReply>
  /** When the batch was started (`performance.now()`): every call's deadline is this + timeout. */
  readonly startedAt: number
  /**
   * True when `null` means that the key holds nothing: the batch went as GET. An MGET answers
   * `null` for a key of another type too (where GET answers WRONGTYPE).
   */
  exact = false
  /** True once the command went out: no call may join any more. */
  sent = false
  readonly #reads: BatchedReads
  #resolve!: (reply: BatchReply) => void
  #timer: NodeJS.Timeout | undefined
  #settled = false
  #retry: ReadBatch | undefined

  constructor(reads: BatchedReads, startedAt: number, timeoutMs: number) {
    this.#reads = reads
    this.startedAt = startedAt
    this.reply = new Promise<BatchReply>((resolve) => {
      this.#resolve = resolve
    })
    if (timeoutMs <= 0) {
      this.settle(reads.timeoutError())
      return
    }
    this.#timer = setTimeout(() => this.settle(reads.timeoutError()), timeoutMs)
    this.#timer.unref()
  }

  /**
   * The batch in which the calls of this one read the bytes of their key again, one GET each
   * (exact answers, and the bytes a text reply cannot give), within this batch's deadline.
   */
  retry(): ReadBatch {
    if (this.#retry === undefined || this.#retry.sent) {
      const remaining = this.startedAt + this.#reads.timeoutMs - performance.now()
      this.#retry = new ReadBatch(this.#reads, this.startedAt, remaining)
      if (!this.#retry.#settled) process.nextTick(sendRetry, this.#retry, this.#reads.client)
    }
    return this.#retry
  }

  /** Adds a read of `fullKey` and returns the index of its reply. */
  add(fullKey: string): number {
    return this.keys.push(fullKey) - 1
  }

  /** Settles the batch (the first outcome wins; a late reply is ignored). */
  settle(reply: BatchReply): void {
    if (this.#settled) return
    this.#settled = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#resolve(reply)
  }
}

/**
 * Coalesces the concurrent reads of a tick on one single-server connection into one command (one
 * MGET instead of one GET each): one command, one reply and one deadline timer per batch instead of
 * per call. Reads are strings (`text`) or Buffers.
 */
export class BatchedReads {
  /** The connection. */
  readonly client: Redis
  /** Deadline of every call, in milliseconds after its start. */
  readonly timeoutMs: number
  /** The batch taking calls, if any. */
  #open: ReadBatch | undefined
  readonly #text: boolean
  readonly #timeoutMessage: string

  /**
   * @param client the connection (a single server: keys of different slots cannot share an MGET)
   * @param timeoutMs deadline of every call
   * @param text true to read strings (UTF-8), false to read Buffers
   */
  constructor(client: Redis, timeoutMs: number, text: boolean) {
    this.client = client
    this.timeoutMs = timeoutMs
    this.#text = text
    this.#timeoutMessage = `Redis command timed out after ${timeoutMs} ms`
  }

  /** The error of calls whose deadline passed. */
  timeoutError(): Error {
    return new Error(this.#timeoutMessage)
  }

  /**
   * Adds a read of `fullKey` to the batch of this tick (starting one when there is none, or when
   * the open one is 1 ms old or full) and returns it; the call's reply is at index `keys.length - 1` as it
   * is right after this call.
   */
  join(fullKey: string): ReadBatch {
    let batch = this.#open
    const now = performance.now()
    if (batch === undefined || now - batch.startedAt >= 1 || batch.keys.length === MAX_BATCH) {
      batch = new ReadBatch(this, now, this.timeoutMs)
      this.#open = batch
      process.nextTick(flush, this, batch)
    }
    batch.keys.push(fullKey)
    return batch
  }

  /** Sends `batch` (when the tick is over: no more calls join it). */
  send(batch: ReadBatch): void {
    if (this.#open === batch) this.#open = undefined
    batch.sent = true
    const keys = batch.keys
    const client = this.client
    let pending: Promise<string | Buffer | null | (string | Buffer | null)[]>
    try {
      if (keys.length === 1) {
        batch.exact = true
        pending = this.#text ? client.get(keys[0]!) : client.getBuffer(keys[0]!)
      } else {
        pending = this.#text ? client.mget(keys) : client.mgetBuffer(keys)
      }
    } catch (error) {
      batch.settle(asError(error))
      return
    }
    pending.then(
      (value) => batch.settle(Array.isArray(value) ? value : [value]),
      (error: unknown) => batch.settle(asError(error)),
    )
  }
}

function flush(reads: BatchedReads, batch: ReadBatch): void {
  reads.send(batch)
}

/** One GET (bytes) per key of a retry batch, in one pipeline; per-key errors stay per key. */
function sendRetry(batch: ReadBatch, client: Redis): void {
  batch.exact = true
  batch.sent = true
  const keys = batch.keys
  try {
    if (keys.length === 1) {
      client.getBuffer(keys[0]!).then(
        (value) => batch.settle([value]),
        (error: unknown) => batch.settle(asError(error)),
      )
      return
    }
    const pipeline = client.pipeline()
    for (const key of keys) pipeline.getBuffer(key)
    pipeline.exec().then(
      (results) => {
        if (results === null) {
          batch.settle(new Error('the pipeline was not run'))
          return
        }
        batch.settle(
          results.map(([error, value]) => (error ? asError(error) : (value as Buffer | null))),
        )
      },
      (error: unknown) => batch.settle(asError(error)),
    )
  } catch (error) {
    batch.settle(asError(error))
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
