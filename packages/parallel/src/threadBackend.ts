import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import {
  MessageChannel,
  type MessagePort,
  type ResourceLimits,
  receiveMessageOnPort,
  type Transferable,
} from 'node:worker_threads'
import type { TaskQueue, Tinypool } from 'tinypool'
import { createSessionWord, promiseNext, settlePromise } from './chunkSession.js'
import type { WorkerTask } from './defineWorkerTask.js'
import { loadTimeoutError, ParallelError } from './parallelError.js'
import {
  cellText,
  cellValue,
  clock,
  createProgress,
  fitsProgress,
  IN_JOURNAL,
  itemViews,
  LOADING,
  NUMBER,
  QUEUED,
  readProgress,
  resetProgress,
  stopItems,
  stopUnstarted,
  watchProgress,
} from './progress.js'
import { deserializeError } from './serializeError.js'
import type { ChunkBackend, ChunkEnd, ChunkHandle, ChunkListener, ChunkRequest } from './types.js'
import type { ChunkMessage, ChunkReply, ProbeMessage, ProbeReply, WorkerConfig } from './worker.js'
import { RangeKeys } from './workerChunks.js'

/** Options of the local worker-thread backend. */
export interface ThreadBackendOptions {
  /** Most threads. */
  threads: number
  /** Threads kept when idle (with `idleTimeout`). */
  minThreads: number
  /** How long a thread may stay idle before the pool shrinks to `minThreads` (ms); undefined: never. */
  idleTimeout: number | undefined
  resourceLimits: ResourceLimits | undefined
  setup: string | undefined
  /** Bound of one task module's load on a thread (ms). */
  loadTimeout: number
}

/**
 * The local backend: a lazily created tinypool running the package's worker entry. A thread
 * runs one chunk at a time; while every thread is busy, the next chunk is queued on a thread
 * behind its running one (a `Session`), so that the thread starts it without a round trip to the
 * main thread. A queued chunk the thread has not started is taken back, atomically, when another
 * thread goes idle or when its own thread is stopped or dies: it is sent again elsewhere, never
 * run twice and never failed for its neighbour. Every chunk gets a port for its items' outcomes
 * and a progress cell saying which item runs: after a crash the port still holds the finished
 * items, and the cell names the one that was running. Tinypool does not notice a thread that
 * ends through `process.exit()`, so every thread is watched and an unexpected exit is turned
 * into the thread's `error` event, which makes tinypool fail its task and replace it.
 */
export class ThreadBackend implements ChunkBackend {
  readonly #options: ThreadBackendOptions
  #pool: Tinypool | undefined
  #creating: Promise<Tinypool> | undefined
  readonly #probes = new Map<string, Promise<void>>()
  readonly #watched = new WeakSet<object>()
  /** Cells of chunks that ended normally, for the next chunks (a fresh one costs ~0.2 ms). */
  readonly #cells: SharedArrayBuffer[] = []
  /** Port pairs given back by chunks that posted nothing on them (a new pair costs ~0.1 ms). */
  readonly #channels: { port1: MessagePort; port2: MessagePort }[] = []
  /** Port pairs of sessions that ended normally (a new pair costs ~0.1 ms). */
  readonly #sessionChannels: { port1: MessagePort; port2: MessagePort }[] = []
  /** Sessions whose thread still runs (or will run) a chunk of theirs. */
  readonly #sessions = new Set<Session>()
  #closed = false

  constructor(options: ThreadBackendOptions) {
    this.#options = options
  }

  get concurrency(): number {
    return this.#options.threads
  }

  get loadTimeout(): number {
    return this.#options.loadTimeout
  }

  /** Number of live threads (0 before the first worker task). */
  get threadCount(): number {
    return this.#pool?.threads.length ?? 0
  }

  prepare(task: WorkerTask<unknown, unknown>): Promise<void> {
    const key = `${task.exportName}\u0000${task.moduleUrl}`
    let probe = this.#probes.get(key)
    if (probe === undefined) {
      probe = this.#probe(task)
      this.#probes.set(key, probe)
      probe.catch(() => this.#probes.delete(key))
    }
    return probe
  }

  run(request: ChunkRequest, listener: ChunkListener): ChunkHandle {
    return new ThreadChunk(this, request, listener)
  }

  /** Terminates every thread; running chunks end as lost. */
  async close(): Promise<void> {
    this.#closed = true
    const pool =
      this.#pool ?? (this.#creating ? await this.#creating.catch(() => undefined) : undefined)
    this.#pool = undefined
    for (const { port1, port2 } of [
      ...this.#channels.splice(0),
      ...this.#sessionChannels.splice(0),
    ]) {
      port1.close()
      port2.close()
    }
    if (pool) await pool.destroy()
  }

  /**
   * @internal Sends a chunk: to an idle thread when there is one, else queued behind the
   * running chunk of a busy thread (no round trip between the two), else to the pool's queue.
   */
  dispatch(chunk: ThreadChunk): void {
    if (this.#sessions.size >= this.#options.threads && !chunk.movesBuffers) {
      for (const session of this.#sessions) if (session.append(chunk)) return
    }
    this.#sessions.add(new Session(this, chunk))
  }

  /** @internal A session's thread is done with it. */
  sessionEnded(session: Session): void {
    this.#sessions.delete(session)
  }

  /**
   * @internal A thread went idle: chunks queued behind a running chunk on another thread, not
   * started yet, move to it (a long task cannot hold them).
   */
  steal(): void {
    for (const session of this.#sessions) {
      if (this.#sessions.size >= this.#options.threads) return
      session.release()
    }
  }

  /** @internal A port pair for a session, reused when one is free. */
  sessionChannel(): { port1: MessagePort; port2: MessagePort } {
    const pair = this.#sessionChannels.pop()
    if (pair === undefined) return new MessageChannel()
    pair.port1.ref()
    return pair
  }

  /** @internal Gives back the pair of a session that ended normally. */
  keepSessionChannel(port1: MessagePort, port2: MessagePort): void {
    if (this.#sessionChannels.length < CELLS_KEPT && !this.#closed) {
      // Kept idle: it must not hold the process open.
      port1.unref()
      port2.unref()
      this.#sessionChannels.push({ port1, port2 })
    } else port1.close()
  }

  /** @internal A port pair for a chunk's journal, reused when one is free. */
  channel(): { port1: MessagePort; port2: MessagePort } {
    return this.#channels.pop() ?? new MessageChannel()
  }

  /** @internal Gives back a pair whose journal is empty. */
  keepChannel(port1: MessagePort, port2: MessagePort): void {
    if (this.#channels.length < CELLS_KEPT && !this.#closed) this.#channels.push({ port1, port2 })
    else port1.close()
  }

  /** @internal A progress cell for a chunk of `items` items, reused when one is free. */
  cell(items: number): SharedArrayBuffer {
    const cells = this.#cells
    let best = -1
    for (let k = 0; k < cells.length; k++) {
      const cell = cells[k] as SharedArrayBuffer
      if (
        fitsProgress(cell, items) &&
        (best < 0 || cell.byteLength < (cells[best] as SharedArrayBuffer).byteLength)
      )
        best = k
    }
    if (best >= 0) {
      const cell = cells[best] as SharedArrayBuffer
      cells[best] = cells[cells.length - 1] as SharedArrayBuffer
      cells.pop()
      resetProgress(cell, items)
      return cell
    }
    // Rounded up, so that a cell fits the next chunks of a run as they shrink or grow a little.
    return createProgress(2 ** Math.ceil(Math.log2(Math.max(items, 64))))
  }

  /** @internal Gives back the cell of a chunk whose worker no longer touches it. */
  release(cell: SharedArrayBuffer): void {
    const cells = this.#cells
    if (cells.length < CELLS_KEPT) {
      cells.push(cell)
      return
    }
    // Full: the smallest kept cell makes room for a bigger one.
    let smallest = 0
    for (let k = 1; k < cells.length; k++) {
      if (
        (cells[k] as SharedArrayBuffer).byteLength <
        (cells[smallest] as SharedArrayBuffer).byteLength
      )
        smallest = k
    }
    if ((cells[smallest] as SharedArrayBuffer).byteLength < cell.byteLength) cells[smallest] = cell
  }

  /** @internal Sends one message to a thread. */
  async send(
    message: unknown,
    signal: AbortSignal | undefined,
    transferList: Transferable[] | undefined,
  ): Promise<unknown> {
    const pool = this.#pool ?? (await this.#create())
    const options: { signal?: AbortSignal; transferList?: Transferable[] } = {}
    if (signal) options.signal = signal
    if (transferList) options.transferList = transferList
    const result = pool.run(message, options as never)
    this.#watch(pool)
    // Tinypool replaces a dead thread while failing its task: watch the replacement too.
    const watch = () => this.#watch(pool)
    result.then(watch, watch)
    return result
  }

  async #probe(task: WorkerTask<unknown, unknown>, tries = 3): Promise<void> {
    const progress = createProgress()
    const message: ProbeMessage = { k: 'probe', m: task.moduleUrl, e: task.exportName, p: progress }
    // Abortable, so that a module blocking its thread at top level can be stopped: the load is
    // timed from its start on a thread (the worker marks it), not from the queueing of the probe.
    const ctrl = new AbortController()
    let expired = false
    const stop = watchProgress(
      progress,
      { loadTimeout: this.#options.loadTimeout, taskTimeout: undefined },
      () => {
        expired = true
        ctrl.abort()
      },
    )
    let reply: ProbeReply
    try {
      reply = (await this.send(message, ctrl.signal, undefined)) as ProbeReply
    } catch (error) {
      if (expired) throw probeError(task, 'timeout', error, this.#options.loadTimeout)
      if (error instanceof ParallelError) throw error
      // Handed to a thread that was being stopped before it started loading: not the module's fault.
      if (readProgress(progress).state === QUEUED && tries > 1 && !this.#closed) {
        stop()
        return this.#probe(task, tries - 1)
      }
      // The module killed its thread while loading (process.exit, resourceLimits...).
      throw probeError(task, 'load', error)
    } finally {
      stop()
    }
    if (!reply.ok) {
      const cause = deserializeError(reply.error)
      throw probeError(task, reply.reason, cause, this.#options.loadTimeout)
    }
  }

  #create(): Promise<Tinypool> {
    if (this.#closed) return Promise.reject(new ParallelError('CLOSED', 'the executor is closed'))
    this.#creating ??= (async () => {
      const filename = resolveWorkerEntry()
      const { Tinypool } = await import('tinypool')
      if (this.#closed) throw new ParallelError('CLOSED', 'the executor is closed')
      const { threads, minThreads, idleTimeout, resourceLimits } = this.#options
      const pool = new Tinypool({
        filename,
        maxThreads: threads,
        minThreads: idleTimeout === undefined ? threads : minThreads,
        ...(idleTimeout === undefined ? {} : { idleTimeout }),
        concurrentTasksPerWorker: 1,
        taskQueue: new ArrayQueue() as unknown as TaskQueue,
        workerData: {
          setup: this.#options.setup,
          loadTimeout: this.#options.loadTimeout,
        } satisfies WorkerConfig,
        ...(resourceLimits ? { resourceLimits } : {}),
      })
      // Without a listener, a thread dying while idle would throw from the pool's emitter.
      pool.on('error', () => {})
      this.#pool = pool
      this.#watch(pool)
      return pool
    })()
    return this.#creating
  }

  #watch(pool: Tinypool): void {
    for (const thread of pool.threads) {
      if (this.#watched.has(thread)) continue
      this.#watched.add(thread)
      thread.once('exit', (code: number) => {
        if (pool.threads.includes(thread)) {
          const error = new Error(`worker thread exited unexpectedly with code ${code}`)
          ;(error as Error & { exitCode: number }).exitCode = code
          thread.emit('error', error)
          this.#watch(pool)
        }
      })
    }
  }
}

/**
 * The chunks one thread runs as one pool task. While a chunk runs, the next one may be queued
 * on the thread (`append`), so that the thread goes on without waiting for the main thread; a
 * queued chunk the thread has not started is taken back and sent elsewhere when another thread
 * goes idle, when its thread is stopped, or when its thread dies.
 */
class Session {
  readonly #backend: ThreadBackend
  readonly #word = createSessionWord()
  readonly #port: MessagePort
  readonly #ctrl = new AbortController()
  /** Chunks posted to the thread, oldest first, one reply each (null: taken back or ended). */
  readonly #queue: (ThreadChunk | null)[] = []
  #ended = false
  #stopping = false
  readonly #onMessage = (reply: ChunkReply) => this.#reply(reply)

  constructor(backend: ThreadBackend, first: ThreadChunk) {
    this.#backend = backend
    const { port1, port2 } = backend.sessionChannel()
    this.#port = port1
    port1.on('message', this.#onMessage)
    first.message.session = { word: this.#word.buffer as SharedArrayBuffer, port: port2 }
    first.session = this
    this.#queue.push(first)
    backend.send(first.message, this.#ctrl.signal, [...first.transferList, port2]).then(
      (reply) => this.#final(reply as ChunkReply),
      (error: unknown) => this.#lost(error),
    )
  }

  /** Queues `chunk` right behind the running one; false when the session has no room. */
  append(chunk: ThreadChunk): boolean {
    if (this.#ended || this.#stopping || this.#queue.length !== 1) return false
    if (!promiseNext(this.#word)) return false
    try {
      this.#port.postMessage(chunk.message, chunk.transferList)
    } catch {
      settlePromise(this.#word, false)
      return false
    }
    settlePromise(this.#word, true)
    this.#queue.push(chunk)
    chunk.session = this
    return true
  }

  /** True when `chunk` waits behind another chunk of this session. */
  behind(chunk: ThreadChunk): boolean {
    return this.#queue.indexOf(chunk) > 0
  }

  /** `chunk` gets no reply from this session any more. */
  forget(chunk: ThreadChunk): void {
    const at = this.#queue.indexOf(chunk)
    if (at >= 0) this.#queue[at] = null
  }

  /** Takes back every queued chunk not started yet (another thread is idle). */
  release(): void {
    for (let k = 1; k < this.#queue.length; k++) this.#queue[k]?.takeBack()
  }

  /** Terminates the thread for `chunk` (aborted or timed out); chunks queued behind it move. */
  stop(chunk: ThreadChunk): void {
    this.#stopping = true
    // Replies of chunks the thread already finished come first: `chunk` may be one of them.
    this.#drain()
    const at = this.#queue.indexOf(chunk)
    if (this.#ended || at < 0) return
    let started = false
    for (let k = at + 1; k < this.#queue.length; k++) {
      const later = this.#queue[k]
      if (later && !later.takeBack(true)) started = true
    }
    // A later chunk under way means the thread is done with `chunk`: its reply is on the way.
    if (!started) this.#ctrl.abort()
  }

  #reply(reply: ChunkReply): void {
    const chunk = this.#queue.shift()
    if (chunk) chunk.replied(reply)
    else reply.port?.close()
  }

  #drain(): void {
    for (;;) {
      const packet = receiveMessageOnPort(this.#port)
      if (packet === undefined) return
      this.#reply(packet.message as ChunkReply)
    }
  }

  /** `remote`: the session port the thread gave back (nothing more comes on the pair). */
  #finish(remote?: MessagePort): void {
    this.#ended = true
    const port = this.#port
    port.off('message', this.#onMessage)
    if (remote !== undefined) this.#backend.keepSessionChannel(port, remote)
    else port.close()
    this.#backend.sessionEnded(this)
  }

  /** The thread ran every chunk: the last reply is the pool task's result. */
  #final(reply: ChunkReply): void {
    this.#drain()
    this.#finish(reply.session)
    this.#reply(reply)
    this.#backend.steal()
  }

  /** The thread died (or was stopped): the chunk it ran fails over, the others move. */
  #lost(error: unknown): void {
    this.#drain()
    this.#finish()
    const queue = this.#queue.splice(0)
    let head = true
    for (const chunk of queue) {
      if (chunk === null) continue
      if (head || !chunk.takeBack()) chunk.failed(error)
      head = false
    }
  }
}

/** One chunk on its way to, on, or back from a thread. */
class ThreadChunk implements ChunkHandle {
  readonly #backend: ThreadBackend
  readonly #request: ChunkRequest
  readonly #listener: ChunkListener
  #cell!: SharedArrayBuffer
  #views!: ReturnType<typeof itemViews>
  #port!: MessagePort
  #unwatch!: () => void
  #stopped = { claimed: 0 }
  /** The message to the thread and what it moves (`#prepare` builds both). */
  message!: ChunkMessage
  transferList!: Transferable[]
  /** The session whose thread holds the chunk. */
  session: Session | undefined
  #received = 0
  #ended = false
  #aborted = false
  #drained = false
  #replying = false
  #expired: { kind: 'load' | 'task'; since: number } | undefined

  constructor(backend: ThreadBackend, request: ChunkRequest, listener: ChunkListener) {
    this.#backend = backend
    this.#request = request
    this.#listener = listener
    this.#prepare()
    backend.dispatch(this)
  }

  /** True when the request moves buffers of its own: it can be posted once only. */
  get movesBuffers(): boolean {
    return this.#request.transferList !== undefined
  }

  /** A fresh cell, port pair and message (a chunk taken back leaves its old ones behind). */
  #prepare(): void {
    const backend = this.#backend
    const request = this.#request
    const n = request.inputs.length
    const cell = backend.cell(n)
    this.#cell = cell
    this.#views = itemViews(cell, n)
    this.#stopped = { claimed: 0 }
    const { port1, port2 } = backend.channel()
    this.#port = port1
    this.#unwatch = watchProgress(
      cell,
      { loadTimeout: backend.loadTimeout, taskTimeout: request.timeout },
      (kind, since) => {
        // No further item may start once the limit is hit: the thread is about to be stopped.
        stopItems(cell, this.#stopped)
        this.#expired = { kind, since }
        this.session?.stop(this)
      },
    )
    const { task } = request
    const transferList: Transferable[] = [port2]
    const inputs = numbersOf(request.inputs)
    if (inputs instanceof Float64Array) transferList.push(inputs.buffer as ArrayBuffer)
    const message: ChunkMessage = {
      k: 'chunk',
      m: task.moduleUrl,
      e: task.exportName,
      inputs,
      p: cell,
      port: port2,
    }
    const keys = request.keys
    if (keys instanceof RangeKeys) {
      message.keys = { prefix: keys.prefix, first: keys.first, list: keys.list }
    } else if (keys !== undefined) {
      message.keys = { prefix: keys.prefix, indices: keys.indices, list: keys.list }
    }
    if (request.transferList) transferList.push(...request.transferList)
    this.message = message
    this.transferList = transferList
  }

  drain(): void {
    // Once ended, the cell may serve another chunk.
    if (this.#ended) return
    this.#drained = true
    stopItems(this.#cell, this.#stopped)
  }

  abort(): void {
    // Once the reply is in, every item ran: nothing to stop (and no thread to terminate).
    if (this.#ended || this.#aborted || this.#replying) return
    this.#aborted = true
    const session = this.session
    if (session?.behind(this) && stopUnstarted(this.#cell, this.#stopped)) {
      // Queued behind another chunk and not started: nothing runs, the thread goes on.
      session.forget(this)
      this.#end({ completed: 0 })
      return
    }
    stopItems(this.#cell, this.#stopped)
    session?.stop(this)
  }

  /**
   * @internal Takes the chunk back from a thread that has not started it (false when it has):
   * it is sent again with a fresh cell and port, or ends with nothing done when it was stopped.
   */
  takeBack(later = false): boolean {
    // An expired chunk is being stopped with its thread: it fails as itself, it does not move.
    if (this.#ended || this.#expired || !stopUnstarted(this.#cell, this.#stopped)) return false
    this.session?.forget(this)
    this.session = undefined
    this.#unwatch()
    // Later: the caller is stopping chunks one by one (a cancelled run), this one may be next.
    if (later) queueMicrotask(() => this.#resend())
    else this.#resend()
    return true
  }

  #resend(): void {
    if (this.#ended) return
    if (this.#aborted || this.#drained) {
      this.#end({ completed: 0 })
      return
    }
    this.#port.close()
    this.#prepare()
    this.#backend.dispatch(this)
  }

  /** @internal The chunk ended normally: its values come in the reply (the journal is not needed). */
  replied(reply: ChunkReply): void {
    const { values, ran, port } = reply
    if (this.#ended) {
      port?.close()
      return
    }
    this.#replying = true
    if (values === undefined || this.#received > 0) {
      port?.close()
      this.#end({ completed: 0 })
      return
    }
    const { durations, failed, kinds, values: cellValues, chars } = this.#views
    const listener = this.#listener
    const text = reply.chars === undefined ? undefined : cellText(chars, reply.chars)
    if (listener.items !== undefined && reply.failures === 0 && ran > 0) {
      // Every item succeeded: settled in one call.
      this.#received = ran
      listener.items(ran, successValues(this.#views, ran, values, text), durations)
    } else {
      let j = 0
      for (let k = 0; k < ran; k++) {
        if (this.#ended) {
          port?.close()
          return
        }
        this.#received++
        const kind = kinds[k] as number
        if (kind !== IN_JOURNAL) {
          const value = cellValue(kind, cellValues, k, chars, text)
          listener.item(k, true, value, durations[k] as number)
          continue
        }
        const value = values[j++]
        const ok = failed[k] !== 1
        listener.item(k, ok, ok ? value : this.#itemError(value), durations[k] as number)
      }
    }
    this.#ended = true
    this.#unwatch()
    // Nothing was posted on a port that came back: the pair serves the next chunk.
    if (port !== undefined) this.#backend.keepChannel(this.#port, port)
    else this.#port.close()
    // The worker returned from the chunk: it writes the cell no more.
    this.#backend.release(this.#cell)
    this.#listener.end({ completed: this.#received })
  }

  /** Reports every item outcome already posted by the worker. */
  #drainPort(): void {
    const { durations, failed, kinds, values, chars } = this.#views
    const n = kinds.length
    for (;;) {
      const k = this.#received
      if (k >= n) return
      // An item is finished when its kind says the cell holds its value, or its message came.
      const kind = Atomics.load(kinds, k)
      if (kind !== IN_JOURNAL) {
        this.#received++
        this.#listener.item(k, true, cellValue(kind, values, k, chars), durations[k] as number)
        continue
      }
      const packet = receiveMessageOnPort(this.#port)
      if (packet === undefined) return
      this.#received++
      const ok = failed[k] !== 1
      const value = ok ? packet.message : this.#itemError(packet.message)
      this.#listener.item(k, ok, value, durations[k] as number)
    }
  }

  #itemError(record: unknown): unknown {
    const error = deserializeError(record)
    if ((error as { code?: unknown })?.code === 'WORKER_TASK_LOAD_TIMEOUT') {
      // The module did not load on that thread in time: say which task, in our own class.
      return loadTimeoutError(this.#request.task, this.#backend.loadTimeout)
    }
    return error
  }

  #end(end: ChunkEnd): void {
    if (this.#ended) return
    this.#ended = true
    this.#unwatch()
    this.#drainPort()
    this.#port.close()
    end.completed = this.#received
    this.#listener.end(end)
  }

  /** @internal The thread was lost (or stopped) while it held the chunk. */
  failed(error: unknown): void {
    if (this.#ended) return
    // Whatever the thread posted before it was lost is final: report it first.
    this.#drainPort()
    const claimed = stopItems(this.#cell, this.#stopped)
    const received = this.#received
    if (this.#aborted) {
      this.#end({ completed: received })
      return
    }
    const expired = this.#expired
    if (expired?.kind === 'load' && claimed === 0) {
      this.#end({
        completed: 0,
        notStarted: {
          kind: 'load-timeout',
          cause: loadTimeoutError(this.#request.task, this.#backend.loadTimeout),
        },
      })
      return
    }
    if ((error as Error)?.name === 'DataCloneError' && claimed === 0) {
      this.#end({ completed: 0, notStarted: { kind: 'unsendable', cause: error } })
      return
    }
    if (claimed === 0) {
      const { state } = readProgress(this.#cell)
      if (state === QUEUED || state === LOADING) {
        this.#end({ completed: 0, notStarted: { kind: 'thread-lost', cause: error } })
        return
      }
    }
    if (claimed === received) {
      // The thread was lost between two items: none was running, the rest never started.
      this.#end({ completed: received })
      return
    }
    const since = readProgress(this.#cell).since
    const durationMs = Math.max(0, clock() - since)
    this.#end({
      completed: received,
      lost:
        expired?.kind === 'task'
          ? { kind: 'timeout', cause: error, durationMs: Math.max(0, clock() - expired.since) }
          : { kind: 'crash', cause: error, durationMs },
    })
  }
}

/**
 * The values of the first `ran` items of a chunk that all succeeded: the cell's own numbers when
 * every one is a number, else one array of cell values and replied ones, in item order.
 */
function successValues(
  views: ReturnType<typeof itemViews>,
  ran: number,
  replied: unknown[],
  text: string | undefined,
): ArrayLike<unknown> {
  const { kinds, values, chars } = views
  let k = 0
  while (k < ran && kinds[k] === NUMBER) k++
  if (k === ran) return values
  const out: unknown[] = []
  let j = 0
  for (k = 0; k < ran; k++) {
    const kind = kinds[k] as number
    out.push(kind === IN_JOURNAL ? replied[j++] : cellValue(kind, values, k, chars, text))
  }
  return out
}

/**
 * The inputs as a Float64Array (moved, not copied) when every one is a number: a worker reads
 * the very same numbers from it, and a structured clone of a plain array costs ~60 ns per item
 * on each side.
 */
function numbersOf(inputs: unknown[]): unknown[] | Float64Array {
  const n = inputs.length
  if (n < 16) return inputs
  for (let k = 0; k < n; k++) if (typeof inputs[k] !== 'number') return inputs
  return new Float64Array(inputs as number[])
}

/** How many free progress cells a backend keeps. */
const CELLS_KEPT = 8

/** Finds the compiled worker entry next to this file (dist) or in ../dist (running from src). */
export function resolveWorkerEntry(): string {
  const candidates = [
    new URL('./worker.js', import.meta.url),
    new URL('../dist/worker.js', import.meta.url),
  ]
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate)
    if (existsSync(path)) return path
  }
  throw new ParallelError(
    'WORKER_ENTRY_MISSING',
    `the worker entry was not found at ${candidates.map((c) => fileURLToPath(c)).join(' or ')}; build @bookgen/parallel first (npx tsup)`,
  )
}

function probeError(
  task: WorkerTask<unknown, unknown>,
  reason: ProbeReply['reason'],
  cause: unknown,
  loadTimeout?: number,
): ParallelError {
  const what = `worker task "${task.exportName}" from module ${task.moduleUrl}`
  if (reason === 'timeout') return loadTimeoutError(task, loadTimeout as number, cause)
  if (reason === 'export') {
    return new ParallelError(
      'WORKER_TASK_NOT_FOUND',
      `${what}: the module has no exported function "${task.exportName}"`,
    )
  }
  if (reason === 'module') {
    return new ParallelError(
      'WORKER_TASK_NOT_FOUND',
      `${what}: the module ${task.moduleUrl} was not found (export "${task.exportName}")`,
      { cause },
    )
  }
  return new ParallelError(
    'WORKER_TASK_LOAD_FAILED',
    `${what}: the module threw while loading: ${(cause as Error)?.message ?? String(cause)}`,
    { cause },
  )
}

/** Tinypool's default queue object is shared by every pool; each of ours gets its own. */
class ArrayQueue {
  #items: object[] = []
  #head = 0
  get size(): number {
    return this.#items.length - this.#head
  }
  push(task: object): void {
    this.#items.push(task)
  }
  shift(): object | null {
    if (this.#head >= this.#items.length) return null
    const task = this.#items[this.#head] as object
    this.#items[this.#head++] = undefined as unknown as object
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return task
  }
  remove(task: object): void {
    const index = this.#items.indexOf(task, this.#head)
    if (index !== -1) this.#items.splice(index, 1)
  }
  cancel(): void {
    for (let i = this.#head; i < this.#items.length; i++) {
      ;(this.#items[i] as { cancel?: () => void } | undefined)?.cancel?.()
    }
    this.#items = []
    this.#head = 0
  }
}
