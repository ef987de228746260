// The worker-thread entry tinypool loads (compiled to dist/worker.js). It imports the user's task
// module once per thread, runs one chunk of inputs through the named export and sends back the
// values (v8-serialized, so a value that cannot cross the boundary fails alone), per-item
// durations and serialized errors.
import { performance } from 'node:perf_hooks'
import { serialize } from 'node:v8'
import { workerData } from 'node:worker_threads'
import { serializeError } from './serializeError.js'

/** Asks a worker to load a module and check that the export is a function. */
export interface ProbeMessage {
  k: 'probe'
  m: string
  e: string
}

/** One chunk of inputs for the export `e` of module `m`. */
export interface ChunkMessage {
  k: 'chunk'
  m: string
  e: string
  inputs: unknown[]
}

/** What a probe answers. */
export interface ProbeReply {
  ok: boolean
  reason?: 'module' | 'export' | 'load'
  error?: unknown
}

/** What a chunk answers: values (v8-serialized array), durations (ms) and [index, error] pairs. */
export interface ChunkReply {
  values: Uint8Array
  durations: Float64Array
  errors: unknown[] | null
}

type Handler = (input: unknown) => unknown

const modules = new Map<string, Promise<Record<string, unknown>>>()

// Tinypool's workerData is [its own data, ours]; ours may name a setup module (e.g. one that
// registers a TypeScript loader) imported once, before any task module.
const setupUrl = (workerData as [unknown, { setup?: string } | undefined] | undefined)?.[1]?.setup
let setup: Promise<unknown> | undefined

function load(url: string): Promise<Record<string, unknown>> {
  let mod = modules.get(url)
  if (mod === undefined) {
    if (setupUrl !== undefined) setup ??= import(setupUrl)
    mod = (setup ?? Promise.resolve()).then(() => import(url) as Promise<Record<string, unknown>>)
    modules.set(url, mod)
  }
  return mod
}

async function probe(message: ProbeMessage): Promise<ProbeReply> {
  let mod: Record<string, unknown>
  try {
    mod = await load(message.m)
  } catch (error) {
    modules.delete(message.m)
    const code = (error as { code?: unknown } | null)?.code
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'ENOENT'
    return { ok: false, reason: missing ? 'module' : 'load', error: serializeError(error) }
  }
  return typeof mod[message.e] === 'function' ? { ok: true } : { ok: false, reason: 'export' }
}

async function runChunk(message: ChunkMessage): Promise<ChunkReply> {
  const fn = (await load(message.m))[message.e] as Handler
  const inputs = message.inputs
  const n = inputs.length
  const values: unknown[] = new Array(n)
  const durations = new Float64Array(n)
  let errors: unknown[] | null = null
  // One clock reading per item: each item's end is the next one's start.
  let start = performance.now()
  for (let i = 0; i < n; i++) {
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
  if (errors !== null) {
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
  }
  return { values: bytes, durations, errors }
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
