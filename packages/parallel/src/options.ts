import { availableParallelism } from 'node:os'
import { describe } from './defineWorkerTask.js'
import { ParallelError } from './parallelError.js'
import type { ChunkBackend, ExecutorOptions, RunOptions } from './types.js'

/** The defaults of every option, in one place. */
export const DEFAULT_OPTIONS = {
  maxWorkers: Math.min(32, availableParallelism() + 4),
  mode: 'threads',
  timeout: undefined,
  loadTimeout: 30_000,
  retries: 0,
  retryDelay: 100,
  maxRetryDelay: 10_000,
  chunkSize: 'auto',
  minThreads: 0,
  idleTimeout: undefined,
  maxQueue: 1024,
} as const

/** Executor options after validation, defaults applied. */
export interface ResolvedOptions {
  maxWorkers: number
  threads: number
  minThreads: number
  idleTimeout: number | undefined
  mode: 'threads' | 'inline'
  timeout: number | undefined
  loadTimeout: number
  retries: number
  retryDelay: number
  maxRetryDelay: number
  chunkSize: number | 'auto'
  maxQueue: number
  workerSetup: string | URL | undefined
  resourceLimits: ExecutorOptions['resourceLimits']
  backend: ChunkBackend | undefined
}

/** Per-call options after validation, the executor's values filled in. */
export interface ResolvedRunOptions {
  signal: AbortSignal | undefined
  timeout: number | undefined
  retries: number
  retryDelay: number
  chunkSize: number | 'auto'
  maxQueue: number
  taskIds: readonly (string | number)[] | undefined
  idempotencyKeys: readonly string[] | undefined
  onResult: ((result: never) => void) | undefined
}

/** Validates every executor option once; each message starts with the option's path. */
export function resolveOptions(options: ExecutorOptions): ResolvedOptions {
  plainObject('options', options)
  const o = options
  const maxWorkers = positiveInteger(
    'options.maxWorkers',
    o.maxWorkers ?? DEFAULT_OPTIONS.maxWorkers,
  )
  const threads = positiveInteger(
    'options.threads',
    o.threads ?? Math.min(maxWorkers, availableParallelism()),
  )
  const minThreads = integerIn(
    'options.minThreads',
    o.minThreads ?? DEFAULT_OPTIONS.minThreads,
    0,
    threads,
  )
  const mode = oneOf('options.mode', o.mode ?? DEFAULT_OPTIONS.mode, ['threads', 'inline'] as const)
  const timeout = optionalMs('options.timeout', o.timeout)
  const loadTimeout = optionalMs(
    'options.loadTimeout',
    o.loadTimeout ?? DEFAULT_OPTIONS.loadTimeout,
  ) as number
  const idleTimeout = optionalMs('options.idleTimeout', o.idleTimeout)
  const retries = integerIn('options.retries', o.retries ?? DEFAULT_OPTIONS.retries, 0, 1000)
  const retryDelay = nonNegative('options.retryDelay', o.retryDelay ?? DEFAULT_OPTIONS.retryDelay)
  const maxRetryDelay = nonNegative(
    'options.maxRetryDelay',
    o.maxRetryDelay ?? DEFAULT_OPTIONS.maxRetryDelay,
  )
  const chunkSize = chunkSizeOption('options.chunkSize', o.chunkSize ?? DEFAULT_OPTIONS.chunkSize)
  const maxQueue = positiveInteger('options.maxQueue', o.maxQueue ?? DEFAULT_OPTIONS.maxQueue)
  const workerSetup = optionalModule('options.workerSetup', o.workerSetup)
  const resourceLimits = optionalObject('options.resourceLimits', o.resourceLimits)
  const backend = o.backend
  if (backend !== undefined && !isBackend(backend)) {
    fail('options.backend', 'must be a ChunkBackend (prepare, run, close, concurrency)', backend)
  }
  if (backend !== undefined && mode === 'inline')
    fail('options.backend', "cannot be used with mode 'inline'", backend)
  return {
    maxWorkers,
    threads,
    minThreads,
    idleTimeout,
    mode,
    timeout,
    loadTimeout,
    retries,
    retryDelay,
    maxRetryDelay,
    chunkSize,
    maxQueue,
    workerSetup,
    resourceLimits,
    backend,
  }
}

/** Validates the per-call options of a run of `n` tasks (`n` undefined: not known yet). */
export function resolveRunOptions(
  base: ResolvedOptions,
  options: RunOptions<never> | RunOptions<unknown>,
  n: number | undefined,
): ResolvedRunOptions {
  plainObject('options', options)
  const o = options
  const signal = o.signal
  if (signal !== undefined && !(signal instanceof AbortSignal))
    fail('options.signal', 'must be an AbortSignal', signal)
  const onResult = o.onResult
  if (onResult !== undefined && typeof onResult !== 'function')
    fail('options.onResult', 'must be a function', onResult)
  const taskIds = o.taskIds
  if (
    taskIds !== undefined &&
    (!Array.isArray(taskIds) || (n !== undefined && taskIds.length !== n))
  ) {
    fail('options.taskIds', `must be an array of ${n ?? 'as many'} ids`, taskIds)
  }
  const keys = o.idempotencyKeys
  if (
    keys !== undefined &&
    (!Array.isArray(keys) ||
      (n !== undefined && keys.length !== n) ||
      keys.some((k) => typeof k !== 'string'))
  ) {
    fail('options.idempotencyKeys', `must be an array of ${n ?? 'as many'} strings`, keys)
  }
  return {
    signal,
    onResult: onResult as ResolvedRunOptions['onResult'],
    taskIds,
    idempotencyKeys: keys,
    timeout: 'timeout' in o ? optionalMs('options.timeout', o.timeout) : base.timeout,
    retries:
      o.retries === undefined ? base.retries : integerIn('options.retries', o.retries, 0, 1000),
    retryDelay:
      o.retryDelay === undefined
        ? base.retryDelay
        : nonNegative('options.retryDelay', o.retryDelay),
    chunkSize:
      o.chunkSize === undefined
        ? base.chunkSize
        : chunkSizeOption('options.chunkSize', o.chunkSize),
    maxQueue:
      o.maxQueue === undefined ? base.maxQueue : positiveInteger('options.maxQueue', o.maxQueue),
  }
}

/** Throws INVALID_OPTION: `${path} ${rule}, got ${value}`. */
function fail(path: string, rule: string, value: unknown): never {
  throw new ParallelError('INVALID_OPTION', `${path} ${rule}, got ${describe(value)}`)
}

/** A plain object (`{...}`): not an array, a class instance, null or a primitive. */
export function plainObject(path: string, value: unknown): void {
  const proto =
    typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : undefined
  if (proto !== Object.prototype && proto !== null) fail(path, 'must be a plain object', value)
}

/** A positive integer. */
export function positiveInteger(path: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
    fail(path, 'must be a positive integer', value)
  return value
}

function integerIn(path: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(path, `must be an integer from ${min} to ${max}`, value)
  }
  return value
}

function nonNegative(path: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    fail(path, 'must be a finite number >= 0', value)
  return value
}

function optionalMs(path: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 2 ** 31 - 1) {
    fail(path, 'must be a positive number of milliseconds', value)
  }
  return value
}

function oneOf<const T extends readonly string[]>(
  path: string,
  value: unknown,
  allowed: T,
): T[number] {
  if (!allowed.includes(value as string))
    fail(path, `must be ${allowed.map((a) => `'${a}'`).join(' or ')}`, value)
  return value as T[number]
}

function chunkSizeOption(path: string, value: unknown): number | 'auto' {
  if (value === 'auto') return value
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
    fail(path, "must be 'auto' or a positive integer", value)
  return value
}

function optionalModule(path: string, value: unknown): string | URL | undefined {
  if (value === undefined || value instanceof URL || typeof value === 'string') return value
  fail(path, 'must be a file: URL or an absolute path', value)
}

function isBackend(value: unknown): value is ChunkBackend {
  const b = value as ChunkBackend
  return (
    typeof b === 'object' &&
    b !== null &&
    typeof b.prepare === 'function' &&
    typeof b.run === 'function' &&
    typeof b.close === 'function' &&
    Number.isInteger(b.concurrency) &&
    b.concurrency > 0
  )
}

function optionalObject<T>(path: string, value: T): T {
  if (value !== undefined) plainObject(path, value)
  return value
}
