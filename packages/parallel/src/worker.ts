// The worker-thread entry tinypool loads (compiled to dist/worker.js). It imports the user's task
// module once per thread, runs one chunk of inputs through the named export and sends back the
// values (v8-serialized, so a value that cannot cross the boundary fails alone), per-item
// durations and serialized errors.
import { performance } from 'node:perf_hooks'
import { types } from 'node:util'
import { serialize } from 'node:v8'
import { workerData } from 'node:worker_threads'
import { LOADING, markProgress } from './progress.js'
import { serializeError } from './serializeError.js'

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
  inputs: unknown[]
  /** Progress cell: the main thread times each task from its own start, not from its queueing. */
  p?: SharedArrayBuffer
}

/** What a probe answers. */
export interface ProbeReply {
  ok: boolean
  reason?: 'module' | 'export' | 'load' | 'timeout'
  error?: unknown
}

/**
 * What a chunk answers: values, durations (ms) and [index, error] pairs. Values that are certain
 * to cross the boundary (primitives, typed arrays, plain arrays and objects of those) travel as
 * they are, in the reply's own structured clone (`plain`); any other result is v8-serialized here
 * first (`values`), so that a value that cannot cross fails alone.
 */
export interface ChunkReply {
  plain?: unknown[]
  values?: Uint8Array
  durations: Float64Array
  errors: unknown[] | null
}

/** How deep `clonesSafely` looks into arrays and plain objects before giving up. */
const PLAIN_DEPTH = 4

/**
 * True when structured clone surely accepts `value`: a primitive other than a symbol, a typed
 * array or DataView over a non-shared buffer, or a plain array / object of those (a few levels).
 * Checking is much cheaper than v8.serialize, whose typed arrays go through a JS callback each.
 */
function clonesSafely(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return true
    case 'object':
      break
    default:
      return false
  }
  if (value === null) return true
  if (ArrayBuffer.isView(value)) return value.buffer instanceof ArrayBuffer
  if (depth === 0 || types.isProxy(value)) return false
  const proto = Object.getPrototypeOf(value)
  if (Array.isArray(value) && proto === Array.prototype) {
    for (let i = 0; i < value.length; i++) if (!clonesSafely(value[i], depth - 1)) return false
    return true
  }
  if (proto !== Object.prototype && proto !== null) return false
  for (const key in value) {
    if (!clonesSafely((value as Record<string, unknown>)[key], depth - 1)) return false
  }
  return true
}

type Handler = (input: unknown) => unknown

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
    return { ok: false, reason, error: serializeError(error) }
  }
  return typeof mod[message.e] === 'function' ? { ok: true } : { ok: false, reason: 'export' }
}

async function runChunk(message: ChunkMessage): Promise<ChunkReply> {
  const progress = message.p
  if (progress !== undefined) markProgress(progress, LOADING)
  const inputs = message.inputs
  const n = inputs.length
  const values: unknown[] = new Array(n)
  const durations = new Float64Array(n)
  let errors: unknown[] | null = null
  let fn: Handler
  try {
    fn = (await load(message.m))[message.e] as Handler
  } catch (error) {
    // The load failed (or timed out) on this thread: every item of the chunk fails with it.
    const record = serializeError(error)
    errors = []
    for (let i = 0; i < n; i++) errors.push(i, record)
    return { values: serialize(values), durations, errors }
  }
  // One clock reading per item: each item's end is the next one's start.
  let start = performance.now()
  for (let i = 0; i < n; i++) {
    if (progress !== undefined) markProgress(progress, i)
    try {
      let value = fn(inputs[i])
      if (value !== null && typeof (value as PromiseLike<unknown>)?.then === 'function') {
        value = await value
      }
      values[i] = value
    } catch (error) {
      if (errors === null) errors = []
      errors.push(i, error)
    }
    const end = performance.now()
    durations[i] = end - start
    start = end
  }
  if (plainValues(values)) {
    return { plain: values, durations, errors: errors === null ? null : serializeErrors(errors) }
  }
  let bytes: Uint8Array
  try {
    bytes = serialize(values)
  } catch {
    // Find the values that cannot cross the boundary and fail them alone.
    for (let i = 0; i < n; i++) {
      try {
        serialize(values[i])
      } catch (error) {
        values[i] = undefined
        if (errors === null) errors = []
        errors.push(i, notCloneable(error))
      }
    }
    bytes = serialize(values)
  }
  return { values: bytes, durations, errors: errors === null ? null : serializeErrors(errors) }
}

/** `clonesSafely` for a chunk's values; a getter that throws while checking means "no". */
function plainValues(values: unknown[]): boolean {
  try {
    return clonesSafely(values, PLAIN_DEPTH + 1)
  } catch {
    return false
  }
}

/** Turns the errors of [index, error] pairs into records that surely cross the boundary. */
function serializeErrors(errors: unknown[]): unknown[] {
  for (let j = 1; j < errors.length; j += 2) {
    const record = serializeError(errors[j])
    try {
      serialize(record)
      errors[j] = record
    } catch {
      const e = errors[j] as { name?: unknown; message?: unknown; stack?: unknown }
      errors[j] = serializeError(
        Object.assign(new Error(String(e?.message ?? e)), {
          name: String(e?.name ?? 'Error'),
          stack: String(e?.stack ?? ''),
        }),
      )
    }
  }
  return errors
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

/** Tinypool calls this for every message. */
export default function handle(message: ProbeMessage | ChunkMessage): Promise<unknown> {
  return message.k === 'probe' ? probe(message) : runChunk(message)
}
