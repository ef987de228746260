// The worker-thread entry tinypool loads (compiled to dist/worker.js). It imports the user's task
// module once per thread and runs one chunk of inputs through the named export. Each item's
// outcome is posted on the chunk's own port the moment it is known, so that whatever ends the
// thread afterwards (an uncaught error, process.exit, the heap limit, a native abort) cannot take
// finished items with it: the main thread reads the port even after the thread died.
import { performance } from 'node:perf_hooks'
import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads'
import { isMovable, kTransferable, kValue, markMovable } from 'tinypool'
import { reopen, type SessionWire, takeNext } from './chunkSession.js'
import {
  claimItem,
  FALSE,
  itemViews,
  LOADING,
  MAX_CELL_STRING,
  markProgress,
  NULL,
  NUMBER,
  STRING,
  STRING_SHIFT,
  TRUE,
  UNDEFINED,
} from './progress.js'
import { cloneableError, serializeError } from './serializeError.js'
import { isTransfer } from './transfer.js'
import type { WorkerTaskContext } from './types.js'

/** Asks a worker to load a module and check that the export is a function. */
export interface ProbeMessage {
  k: 'probe'
  m: string
  e: string
  /** Progress cell (see `progress.ts`): the main thread times the load from it. */
  p?: SharedArrayBuffer
}

/** One chunk of inputs for the export `e` of module `m`. */
export interface ChunkMessage {
  k: 'chunk'
  m: string
  e: string
  inputs: unknown[] | Float64Array
  /** Progress cell with one duration and one failed flag per item. */
  p: SharedArrayBuffer
  /** Where each item's value (or error record, when its failed flag is set) is posted, in order. */
  port: MessagePort
  /** The items' idempotency keys: each task's second argument carries its own. */
  keys?: WireKeys
  /** On the first chunk of a session: more chunks may follow on its port (see chunkSession.ts). */
  session?: SessionWire
}

/**
 * Idempotency keys as a chunk message carries them: `list[k]` when given, else
 * `` `${prefix}:${first + k}` `` for a range chunk, `` `${prefix}:${indices[k]}` `` otherwise.
 */
export interface WireKeys {
  prefix: string
  first?: number | undefined
  indices?: readonly number[] | undefined
  list?: readonly string[] | undefined
}

/** What a probe answers. */
export interface ProbeReply {
  ok: boolean
  reason?: 'module' | 'export' | 'load' | 'timeout'
  error?: unknown
}

type Handler = (input: unknown, context?: WorkerTaskContext) => unknown

const modules = new Map<string, Promise<Record<string, unknown>>>()

// Tinypool's workerData is [its own data, ours]; ours may name a setup module (e.g. one that
// registers a TypeScript loader) imported once, before any task module, and the load timeout.
const ours = (workerData as [unknown, WorkerConfig | undefined] | undefined)?.[1]
const setupUrl = ours?.setup
const loadTimeout = ours?.loadTimeout
let setup: Promise<unknown> | undefined

/** What the main thread passes to every worker thread. */
export interface WorkerConfig {
  setup?: string | undefined
  loadTimeout?: number | undefined
}

function load(url: string): Promise<Record<string, unknown>> {
  let mod = modules.get(url)
  if (mod === undefined) {
    if (setupUrl !== undefined) setup ??= import(setupUrl)
    mod = bounded(
      (setup ?? Promise.resolve()).then(() => import(url) as Promise<Record<string, unknown>>),
      url,
    )
    modules.set(url, mod)
    mod.catch(() => modules.delete(url))
  }
  return mod
}

/**
 * A module whose top level awaits forever would hold every task sent to this thread: its load
 * fails after `loadTimeout` (a module that blocks the thread synchronously is stopped by the
 * main thread, which watches the progress cell).
 */
function bounded<T>(loading: Promise<T>, url: string): Promise<T> {
  if (loadTimeout === undefined) return loading
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new Error(
        `the module ${url} did not finish loading within ${loadTimeout} ms (loadTimeout)`,
      )
      error.name = 'ParallelError'
      ;(error as Error & { code: string }).code = 'WORKER_TASK_LOAD_TIMEOUT'
      reject(error)
    }, loadTimeout)
    timer.unref()
    loading.then(
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

async function probe(message: ProbeMessage): Promise<ProbeReply> {
  let mod: Record<string, unknown>
  if (message.p !== undefined) markProgress(message.p, LOADING)
  try {
    mod = await load(message.m)
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code
    const reason =
      code === 'WORKER_TASK_LOAD_TIMEOUT' ? 'timeout' : missingCode(code) ? 'module' : 'load'
    return { ok: false, reason, error: cloneableError(error) }
  }
  return typeof mod[message.e] === 'function' ? { ok: true } : { ok: false, reason: 'export' }
}

/**
 * What a chunk answers: how many items ran and, unless an item's value was moved (transfer list,
 * port) into the journal only, the value or error record (its failed flag set) of every item
 * journaled on the port, in item order, so that the main thread reads one message instead of
 * the journal. Items whose cell kind is not IN_JOURNAL have their value in the cell.
 */
export interface ChunkReply {
  ran: number
  values?: unknown[]
  /** How many of the items that ran failed (their failed flag is set). */
  failures?: number
  /** Characters of the cell holding short string results (`cellText` reads them at once). */
  chars?: number
  /** The chunk's port, when nothing was posted on it (the main thread reuses the pair). */
  port?: MessagePort
  /** On the last reply of a session: its port, moved back (the main thread reuses the pair). */
  session?: MessagePort
}

/** Runs the chunk; answers how many items it ran (fewer when asked to stop). */
async function runChunk(message: ChunkMessage): Promise<ChunkReply> {
  const { p: cell, port, inputs } = message
  const n = inputs.length
  const { words, since, durations, values: cellValues, failed, kinds, chars } = itemViews(cell, n)
  markProgress(cell, LOADING)
  let fn: Handler
  try {
    fn = (await load(message.m))[message.e] as Handler
  } catch (error) {
    // The load failed (or timed out) on this thread: every item of the chunk fails with it.
    const record = cloneableError(error)
    for (let i = 0; i < n; i++) {
      failed[i] = 1
      port.postMessage(record)
    }
    return { ran: n }
  }
  const keys = message.keys
  const origin = performance.timeOrigin
  // Values of the items journaled on the port, in item order (pushed: a packed array clones
  // about 10x faster than a holey one). Primitives are read from the cell instead.
  const values: unknown[] = []
  let journalOnly = false
  // Next free character of the cell (short string results are kept there, not posted).
  let charAt = 0
  let failures = 0
  // One clock reading per item: each item's end is the next one's start.
  let start = performance.now()
  let i = 0
  for (; i < n; i++) {
    if (!claimItem(words, i)) break
    since[0] = origin + start
    Atomics.store(words, 0, i)
    let ok = true
    let value: unknown
    try {
      value = keys === undefined ? fn(inputs[i]) : fn(inputs[i], new ItemContext(keys, i))
      if (value !== null && typeof (value as PromiseLike<unknown>)?.then === 'function') {
        value = await value
      }
    } catch (error) {
      ok = false
      value = error
    }
    const end = performance.now()
    durations[i] = end - start
    start = end
    // The journal: written before the next item starts, so that no later crash can lose it. A
    // primitive is kept in the cell (no message); anything else is posted on the port.
    if (ok && typeof value === 'string') {
      const length = value.length
      if (length <= MAX_CELL_STRING && charAt + length <= chars.length) {
        for (let c = 0; c < length; c++) chars[charAt + c] = value.charCodeAt(c)
        cellValues[i] = charAt * STRING_SHIFT + length
        charAt += length
        Atomics.store(kinds, i, STRING)
        continue
      }
    } else if (ok) {
      const kind = primitiveKind(value)
      if (kind !== 0) {
        if (kind === NUMBER) cellValues[i] = value as number
        Atomics.store(kinds, i, kind)
        continue
      }
    }
    const posted = ok ? postValue(port, failed, i, value) : postError(port, failed, i, value)
    if (failed[i] === 1) failures++
    if (posted === MOVED) journalOnly = true
    else values.push(posted)
  }
  if (journalOnly) return { ran: i }
  // Nothing was posted on the port: it goes back with the reply, for the next chunk.
  if (values.length === 0) return withPort(i, port, charAt)
  return { ran: i, values, failures, chars: charAt }
}

/** A reply that moves the chunk's (empty) port back to the main thread. */
function withPort(ran: number, port: MessagePort, chars: number): ChunkReply {
  const reply: ChunkReply = { ran, values: [], failures: 0, chars, port }
  const movable = { [kTransferable]: [port], [kValue]: reply }
  markMovable(movable)
  return movable as unknown as ChunkReply
}

/** A session's last reply, moving the session port back with it. */
function withSessionPort(reply: ChunkReply, port: MessagePort): ChunkReply {
  if (isMovable(reply)) {
    const movable = reply as unknown as Record<symbol, unknown>
    ;(movable[kValue] as ChunkReply).session = port
    ;(movable[kTransferable] as MessagePort[]).push(port)
    return reply
  }
  reply.session = port
  const movable = { [kTransferable]: [port], [kValue]: reply }
  markMovable(movable)
  return movable as unknown as ChunkReply
}

/** A task's second argument; its key is built only when read (nothing per tiny task else). */
class ItemContext implements WorkerTaskContext {
  readonly #keys: WireKeys
  readonly #k: number
  constructor(keys: WireKeys, k: number) {
    this.#keys = keys
    this.#k = k
  }
  get idempotencyKey(): string {
    const keys = this.#keys
    const k = this.#k
    return (
      keys.list?.[k] ??
      `${keys.prefix}:${keys.first !== undefined ? keys.first + k : keys.indices?.[k]}`
    )
  }
}

/** The cell kind of a primitive value, or 0 (IN_JOURNAL) for anything else. */
function primitiveKind(value: unknown): number {
  switch (typeof value) {
    case 'number':
      return NUMBER
    case 'undefined':
      return UNDEFINED
    case 'boolean':
      return value ? TRUE : FALSE
    case 'object':
      return value === null ? NULL : 0
    default:
      return 0
  }
}

/** `postValue` result for a value that was moved, so only the journal holds it. */
const MOVED = Symbol('moved')

/** Posts an item's value to the journal; returns what the reply carries for it. */
function postValue(port: MessagePort, failed: Uint8Array, i: number, value: unknown): unknown {
  try {
    if (isTransfer(value)) {
      port.postMessage(value.value, value.transferList as never)
      return MOVED
    }
    port.postMessage(value)
    return value
  } catch (error) {
    // A port is moved, not copied, even when the task did not say so.
    if (isPort(value)) {
      try {
        port.postMessage(value, [value])
        return MOVED
      } catch {}
    }
    return postError(port, failed, i, notCloneable(error))
  }
}

/** Posts an item's error record to the journal; returns the record. */
function postError(port: MessagePort, failed: Uint8Array, i: number, error: unknown): unknown {
  failed[i] = 1
  const record = serializeError(error)
  try {
    port.postMessage(record)
    return record
  } catch {
    const fallback = cloneableError(error)
    port.postMessage(fallback)
    return fallback
  }
}

function isPort(value: unknown): value is MessagePort {
  return (
    typeof value === 'object' &&
    value !== null &&
    value.constructor?.name === 'MessagePort' &&
    typeof (value as MessagePort).postMessage === 'function'
  )
}

function missingCode(code: unknown): boolean {
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'ENOENT'
}

function notCloneable(cause: unknown): Error {
  const error = new Error(
    `the task's result cannot be cloned back to the main thread: ${(cause as Error)?.message ?? cause}`,
  )
  error.name = 'ParallelError'
  ;(error as Error & { code: string }).code = 'NOT_CLONEABLE'
  return error
}

/**
 * Runs the chunks of a session one after the other: each reply but the last is posted on the
 * session port before the next chunk starts; the last one is the pool task's result.
 */
async function runSession(first: ChunkMessage, session: SessionWire): Promise<ChunkReply> {
  const word = new Int32Array(session.word)
  const { port } = session
  let message = first
  for (;;) {
    const reply = await runChunk(message)
    if (!takeNext(word)) return withSessionPort(reply, port)
    if (isMovable(reply)) {
      const movable = reply as unknown as Record<symbol, unknown>
      port.postMessage(movable[kValue], movable[kTransferable] as MessagePort[])
    } else port.postMessage(reply)
    const packet = receiveMessageOnPort(port)
    reopen(word)
    message = packet?.message as ChunkMessage
  }
}

/** Tinypool calls this for every message. */
export default function handle(message: ProbeMessage | ChunkMessage): Promise<unknown> {
  if (message.k === 'probe') return probe(message)
  return message.session === undefined ? runChunk(message) : runSession(message, message.session)
}
