import { performance } from 'node:perf_hooks'
import type { Transferable } from 'node:worker_threads'
import { findUncloneable } from './cloneCheck.js'
import { timeoutError } from './closureLanes.js'
import type { WorkerTask } from './defineWorkerTask.js'
import { ParallelError } from './parallelError.js'
import type { TaskRun } from './taskRun.js'
import { isTransfer } from './transfer.js'
import type { ChunkBackend, ChunkEnd, ChunkHandle, ChunkKeys } from './types.js'

const PENDING = 0
const RUNNING = 1

/** How many times a task lost with a thread before it started is sent again. */
const MAX_RESENDS = 3

/**
 * Wall-clock work per message to a worker when chunks are sized automatically. Each message costs
 * the thread a fixed ~0.1-0.2 ms on a quiet machine (tinypool reads process.memoryUsage() per
 * task, plus the round trip with the main thread), far more when the main thread has to wait for
 * a core: fewer, longer messages keep a CPU-heavy map close to a bare split.
 */
const TARGET_CHUNK_MS = 16

/**
 * Near the end of a run a chunk takes this share of the items not sent yet per slot (guided
 * self-scheduling, halved so that one slow thread cannot hold a large share): the threads finish
 * together, in a few messages rather than a long geometric tail.
 */
const TAIL_SHARE = 2

/**
 * Smallest automatic chunk, in wall-clock work: near the end of a run chunks shrink so that the
 * threads finish together, but below about a millisecond a message (a cell, a port, a round
 * trip: ~0.3 ms on the main thread) costs more than the imbalance it saves.
 */
const MIN_CHUNK_MS = 1

/** Per worker task, the last measured run time of one item (ms): later runs start right-sized. */
const itemMsOf = new WeakMap<WorkerTask<unknown, unknown>, number>()

interface WorkerQueue {
  task: WorkerTask<unknown, unknown>
  /** Items not taken yet: the range `first .. end - 1` while `list` is undefined, else `list[cursor..]`. */
  first: number
  end: number
  list: number[] | undefined
  cursor: number
  /** Items sent again (never started, or retried), taken before `indices`. */
  again: number[]
  againHead: number
  /** Items to send one per message (their chunk could not be sent: find which input). */
  alone: number[]
}

interface Chunk {
  queue: WorkerQueue
  /** The chunk's items: `base + k` while `indices` is undefined (a contiguous range). */
  base: number
  indices: number[] | undefined
  count: number
  start: number
  handle: ChunkHandle | undefined
}

/** The idempotency keys of a chunk's items. */
function keysOf(prefix: string, chunk: Chunk, given: readonly string[] | undefined): ChunkKeys {
  const { indices, base, count } = chunk
  if (indices !== undefined) {
    return { prefix, indices, list: given && indices.map((i) => given[i] as string) }
  }
  return new RangeKeys(prefix, base, count, given?.slice(base, base + count))
}

/**
 * The keys of a range chunk: its indices are `first .. first + count - 1`, listed only when a
 * backend reads them (the local one sends `first` alone).
 */
export class RangeKeys implements ChunkKeys {
  #indices: number[] | undefined
  constructor(
    readonly prefix: string,
    readonly first: number,
    readonly count: number,
    readonly list: readonly string[] | undefined,
  ) {}

  get indices(): readonly number[] {
    if (this.#indices === undefined) {
      const indices: number[] = []
      for (let k = 0; k < this.count; k++) indices.push(this.first + k)
      this.#indices = indices
    }
    return this.#indices
  }
}

/** Item `k` of a chunk. */
function itemOf(chunk: Chunk, k: number): number {
  return chunk.indices === undefined ? chunk.base + k : (chunk.indices[k] as number)
}

/**
 * The worker-thread side of a run: worker tasks grouped by definition, cut into automatically
 * sized chunks, at most two chunks per backend slot in flight (one running, one queued right
 * behind it). What a chunk reports settles its items; a lost chunk costs only the item it was
 * running, and the items it never started are sent again.
 */
export class WorkerChunks {
  readonly #run: TaskRun
  readonly #backend: ChunkBackend
  readonly #queues: WorkerQueue[] = []
  readonly #byTask = new Map<WorkerTask<unknown, unknown>, WorkerQueue>()
  readonly #chunks = new Set<Chunk>()
  #rr = 0
  #remaining = 0
  #avgItemMs: number | undefined
  #measured = false
  #resent: Map<number, number> | undefined

  constructor(run: TaskRun, backend: ChunkBackend) {
    this.#run = run
    this.#backend = backend
  }

  /** Adds worker task item `i` (during partitioning, in input order). */
  add(i: number, task: WorkerTask<unknown, unknown>): void {
    let queue = this.#byTask.get(task)
    if (queue === undefined) {
      queue = {
        task,
        first: i,
        end: i,
        list: undefined,
        cursor: 0,
        again: [],
        againHead: 0,
        alone: [],
      }
      this.#byTask.set(task, queue)
      this.#queues.push(queue)
      this.#avgItemMs = itemMsOf.get(task)
    }
    if (queue.list !== undefined) queue.list.push(i)
    else if (queue.first === queue.end) {
      queue.first = i
      queue.end = i + 1
    } else if (i === queue.end) queue.end++
    else {
      const list: number[] = []
      for (let j = queue.first; j < queue.end; j++) list.push(j)
      list.push(i)
      queue.list = list
      queue.cursor = 0
    }
    this.#remaining++
  }

  /** Adds items `from .. to - 1`, all of worker task `task` (a map). */
  addRange(from: number, to: number, task: WorkerTask<unknown, unknown>): void {
    if (from >= to) return
    const queue = this.#byTask.get(task)
    if (queue === undefined || (queue.list === undefined && queue.first === queue.end)) {
      this.add(from, task)
      from++
    }
    const q = this.#byTask.get(task) as WorkerQueue
    if (q.list === undefined && q.end === from) {
      this.#remaining += to - from
      q.end = to
      return
    }
    for (let i = from; i < to; i++) this.add(i, task)
  }

  /** Queues item `i` again (a retry). */
  push(i: number): void {
    const task = this.#run.source.worker(i) as WorkerTask<unknown, unknown>
    const queue = this.#byTask.get(task) as WorkerQueue
    queue.again.push(i)
    this.pump()
  }

  /** Stops every chunk in flight now; each reports what it finished, then ends. */
  abortAll(): void {
    for (const chunk of this.#chunks) chunk.handle?.abort()
  }

  /** True when task `i` is in a chunk in flight (it settles when the chunk ends). */
  has(i: number): boolean {
    return this.#run.source.worker(i) !== undefined && this.#chunks.size > 0
  }

  /** Sends chunks while there is room. */
  pump(): void {
    const run = this.#run
    const most = this.#backend.concurrency * 2
    while (!run.stopped && this.#chunks.size < most) {
      const chunk = this.#take()
      if (chunk === undefined) return
      this.#dispatch(chunk)
    }
  }

  #take(): Chunk | undefined {
    const queues = this.#queues
    for (let k = 0; k < queues.length; k++) {
      const queue = queues[(this.#rr + k) % queues.length] as WorkerQueue
      let indices: number[] | undefined
      let base = 0
      let count = 0
      if (queue.alone.length > 0) indices = [queue.alone.pop() as number]
      else if (queue.againHead < queue.again.length) {
        const size = this.#chunkSize()
        indices = queue.again.slice(queue.againHead, queue.againHead + size)
        queue.againHead += indices.length
        if (queue.againHead === queue.again.length) {
          queue.again = []
          queue.againHead = 0
        }
      } else if (queue.list !== undefined) {
        const size = this.#chunkSize()
        indices = queue.list.slice(queue.cursor, queue.cursor + size)
        queue.cursor += indices.length
        this.#remaining -= indices.length
        if (queue.cursor === queue.list.length) {
          queue.list = undefined
          queue.first = queue.end = 0
        }
      } else if (queue.first < queue.end) {
        base = queue.first
        count = Math.min(this.#chunkSize(), queue.end - base)
        queue.first += count
        this.#remaining -= count
      }
      if (indices !== undefined) count = indices.length
      if (count > 0) {
        this.#rr = (this.#rr + k + 1) % queues.length
        return { queue, base, indices, count, start: 0, handle: undefined }
      }
    }
    return undefined
  }

  #chunkSize(): number {
    const { chunkSize } = this.#run.config
    if (chunkSize !== 'auto') return chunkSize
    const avg = this.#avgItemMs
    if (avg === undefined) return 1
    const perItem = Math.max(avg, 1e-5)
    const ideal = Math.max(1, Math.round(TARGET_CHUNK_MS / perItem))
    const least = Math.max(1, Math.round(MIN_CHUNK_MS / perItem))
    const share = Math.ceil(this.#remaining / (this.#backend.concurrency * TAIL_SHARE))
    return Math.min(ideal, Math.max(least, share))
  }

  #dispatch(chunk: Chunk): void {
    const run = this.#run
    const source = run.source
    const count = chunk.count
    const fast = chunk.indices === undefined ? this.#plainSlice(chunk) : undefined
    if (fast !== undefined) {
      const { status, attempts } = run
      const end = chunk.base + count
      for (let i = chunk.base; i < end; i++) {
        status[i] = RUNNING
        attempts[i] = (attempts[i] as number) + 1
      }
      this.#send(chunk, fast, undefined)
      return
    }
    const inputs: unknown[] = []
    // Only when an input fails alone: the items sent, no longer a plain range.
    let sent: number[] | undefined
    let transferList: Transferable[] | undefined
    let m = 0
    for (let k = 0; k < count; k++) {
      const i = itemOf(chunk, k)
      let input = source.input(i)
      if (isTransfer(input)) {
        transferList ??= []
        transferList.push(...(input.transferList as Transferable[]))
        input = input.value
      }
      const path = findUncloneable(input)
      if (path !== undefined) {
        // Fails alone, before anything is sent: its chunk-mates go on.
        run.attempts[i] = (run.attempts[i] as number) + 1
        const error = new ParallelError(
          'NOT_CLONEABLE',
          `the input of task ${run.taskId(i)}${path} cannot be cloned to a worker thread (functions, symbols, promises and weak collections cannot cross threads)`,
        )
        if (sent === undefined) {
          sent = []
          for (let j = 0; j < k; j++) sent.push(itemOf(chunk, j))
        }
        run.fail(i, error, 0, false)
        continue
      }
      inputs.push(input)
      m++
      sent?.push(i)
      run.status[i] = RUNNING
      run.attempts[i] = (run.attempts[i] as number) + 1
    }
    if (m === 0) return
    if (sent !== undefined) {
      chunk.indices = sent
      chunk.count = m
    }
    this.#send(chunk, inputs, transferList)
  }

  /**
   * The inputs of a range chunk over an array, when none is an object, a function or a symbol
   * (nothing to unwrap or check for clonability); undefined otherwise.
   */
  #plainSlice(chunk: Chunk): unknown[] | undefined {
    const items = this.#run.source.items
    if (items === undefined) return undefined
    const inputs = items.slice(chunk.base, chunk.base + chunk.count)
    for (let k = 0; k < inputs.length; k++) {
      const t = typeof inputs[k]
      if (t === 'object' || t === 'function' || t === 'symbol') return undefined
    }
    return inputs
  }

  #send(chunk: Chunk, inputs: unknown[], transferList: Transferable[] | undefined): void {
    const run = this.#run
    run.config.metrics.message()
    this.#chunks.add(chunk)
    chunk.start = performance.now()
    const given = run.config.idempotencyKeys
    const request = {
      task: chunk.queue.task,
      inputs,
      transferList,
      timeout: run.config.timeout,
      keys: keysOf(run.runKey, chunk, given),
    }
    let reported = 0
    chunk.handle = this.#backend.run(request, {
      item: (k, success, value, ms) => {
        reported += ms
        this.#item(chunk, k, success, value, ms)
      },
      items: (count, values, durations) => {
        for (let k = 0; k < count; k++) reported += durations[k] as number
        if (
          chunk.indices === undefined &&
          run.settleRange(chunk.base, count, values, durations, chunk.start)
        )
          return
        for (let k = 0; k < count; k++) {
          this.#item(chunk, k, true, values[k], durations[k] as number)
        }
      },
      end: (end) => {
        this.#chunks.delete(chunk)
        if (end.completed > 0) {
          const perItem = reported / end.completed
          this.#avgItemMs =
            this.#avgItemMs === undefined || !this.#measured
              ? perItem
              : this.#avgItemMs * 0.5 + perItem * 0.5
          this.#measured = true
          itemMsOf.set(chunk.queue.task, this.#avgItemMs)
        }
        this.#end(chunk, end)
        this.pump()
      },
    })
  }

  #item(chunk: Chunk, k: number, success: boolean, value: unknown, ms: number): void {
    const run = this.#run
    const i = itemOf(chunk, k)
    if (run.status[i] !== RUNNING) return
    run.config.metrics.attempt(ms, chunk.start - run.ready(i), true)
    if (success) run.settle(i, true, value, undefined, ms, 'ok')
    else run.fail(i, value, ms, (value as { code?: unknown })?.code !== 'NOT_CLONEABLE')
  }

  #end(chunk: Chunk, end: ChunkEnd): void {
    const run = this.#run
    const { count, queue } = chunk
    const { notStarted, lost } = end
    let k = end.completed
    if (notStarted !== undefined) {
      for (; k < count; k++) {
        const i = itemOf(chunk, k)
        if (run.status[i] !== RUNNING) continue
        if (run.stopped) this.#cancel(i)
        else if (notStarted.kind === 'load-timeout') run.fail(i, notStarted.cause, 0, true)
        else if (notStarted.kind === 'unsendable') {
          if (count > 1) this.#unsent(i, queue.alone)
          else {
            const e = new ParallelError(
              'NOT_CLONEABLE',
              `the input of task ${run.taskId(i)} cannot be cloned to a worker thread: ${(notStarted.cause as Error)?.message}`,
              { cause: notStarted.cause },
            )
            run.fail(i, e, 0, false)
          }
        } else if (this.#mayResend(i)) this.#unsent(i, queue.again)
        else run.fail(i, crashError(run.taskId(i), notStarted.cause), 0, true)
      }
      return
    }
    if (lost !== undefined && k < count) {
      const i = itemOf(chunk, k++)
      if (run.status[i] === RUNNING) {
        const error =
          lost.kind === 'timeout'
            ? timeoutError(run.taskId(i), run.config.timeout as number)
            : crashError(run.taskId(i), lost.cause)
        run.config.metrics.attempt(lost.durationMs, chunk.start - run.ready(i), true)
        run.fail(i, error, lost.durationMs, true)
      }
    }
    // Never started: sent again, not counted as an attempt (or cancelled, when the run stopped).
    for (; k < count; k++) {
      const i = itemOf(chunk, k)
      if (run.status[i] !== RUNNING) continue
      if (run.stopped) this.#cancel(i)
      else this.#unsent(i, queue.again)
    }
  }

  /** A task that never started, cancelled because the run stopped: no attempt counted. */
  #cancel(i: number): void {
    const run = this.#run
    run.attempts[i] = (run.attempts[i] as number) - 1
    run.cancelItem(i)
  }

  #unsent(i: number, into: number[]): void {
    const run = this.#run
    run.status[i] = PENDING
    run.attempts[i] = (run.attempts[i] as number) - 1
    into.push(i)
  }

  /** A task lost with a thread before it started is sent again, a few times at most. */
  #mayResend(i: number): boolean {
    this.#resent ??= new Map()
    const count = this.#resent.get(i) ?? 0
    if (count >= MAX_RESENDS) return false
    this.#resent.set(i, count + 1)
    return true
  }
}

function crashError(taskId: string | number, cause: unknown): ParallelError {
  const message = (cause as Error)?.message ?? String(cause)
  return new ParallelError(
    'WORKER_CRASHED',
    `the worker thread running task ${taskId} crashed: ${message}`,
    { cause },
  )
}
