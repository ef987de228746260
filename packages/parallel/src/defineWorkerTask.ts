import { isAbsolute } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ParallelError } from './parallelError.js'

const kWorkerTask = Symbol.for('bookgen.parallel.workerTask')
const kBound = Symbol.for('bookgen.parallel.boundWorkerTask')

/**
 * A function that runs on a worker thread: the export `exportName` of the module at `moduleUrl`.
 * Create it with `defineWorkerTask`; pass it to `mapParallel` / `parallelMap`, or bind one input
 * with `.with(input)` and pass the result to `executeParallel`.
 */
export interface WorkerTask<In, Out> {
  readonly [kWorkerTask]: true
  /** The module's URL (`file:` or `data:`), as given or converted from an absolute path. */
  readonly moduleUrl: string
  /** The name of the exported function. */
  readonly exportName: string
  /** Binds one input: the result is a task for `executeParallel`. */
  with(input: In): BoundWorkerTask<Out>
  /** Type-only marker of the input and output types; never set at run time. */
  readonly __types?: { in: In; out: Out }
}

/** A worker task bound to one input, for `executeParallel`. */
export interface BoundWorkerTask<Out> {
  readonly [kBound]: true
  /** The definition this call belongs to. */
  readonly task: WorkerTask<unknown, Out>
  /** The input sent to the worker (structured-cloned). */
  readonly input: unknown
}

/**
 * Defines a worker task: the function exported as `exportName` from the module at `moduleUrl`,
 * run on a worker thread with end-to-end types. The module is loaded by the worker (and cached
 * there); it may be JavaScript, or TypeScript when the runtime can load it (e.g. under `tsx`).
 *
 * @param moduleUrl a `file:` / `data:` URL (e.g. `new URL('./embed.mjs', import.meta.url)`) or an absolute path
 * @param exportName the exported function's name (default `'default'`)
 * @example
 * const embed = defineWorkerTask<string, number[]>(new URL('./embed.mjs', import.meta.url), 'embed')
 * const vectors = await parallelMap(embed, texts)
 */
export function defineWorkerTask<In, Out>(
  moduleUrl: string | URL,
  exportName = 'default',
): WorkerTask<In, Out> {
  const url = normalizeModuleUrl(moduleUrl)
  if (typeof exportName !== 'string' || exportName === '') {
    throw new ParallelError(
      'INVALID_OPTION',
      `exportName must be a non-empty string, got ${describe(exportName)}`,
    )
  }
  const task: WorkerTask<In, Out> = {
    [kWorkerTask]: true,
    moduleUrl: url,
    exportName,
    with(input: In): BoundWorkerTask<Out> {
      return { [kBound]: true, task: task as WorkerTask<unknown, Out>, input }
    },
  }
  return Object.freeze(task)
}

/** True when `value` was made by `defineWorkerTask`. */
export function isWorkerTask(value: unknown): value is WorkerTask<unknown, unknown> {
  return typeof value === 'object' && value !== null && kWorkerTask in value
}

/** True when `value` was made by `workerTask.with(input)`. */
export function isBoundWorkerTask(value: unknown): value is BoundWorkerTask<unknown> {
  return typeof value === 'object' && value !== null && kBound in value
}

/** Stable key of a worker task definition. */
export function workerTaskKey(task: WorkerTask<unknown, unknown>): string {
  return `${task.exportName}\u0000${task.moduleUrl}`
}

function normalizeModuleUrl(moduleUrl: string | URL): string {
  if (moduleUrl instanceof URL) return moduleUrl.href
  if (typeof moduleUrl === 'string') {
    if (/^(file|data):/.test(moduleUrl)) return moduleUrl
    if (isAbsolute(moduleUrl)) return pathToFileURL(moduleUrl).href
  }
  throw new ParallelError(
    'INVALID_OPTION',
    `moduleUrl must be a file: or data: URL or an absolute path, got ${describe(moduleUrl)}`,
  )
}

/** Short description of a value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`
  if (value === null || typeof value !== 'object') return String(value)
  if (Array.isArray(value)) return `array(${value.length})`
  return `object ${value.constructor?.name ?? 'Object'}`
}
