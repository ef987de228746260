/** Codes of `ParallelError`: branch on these, never on message text. */
export const ParallelErrorCode = {
  /** A constructor or call option is invalid (`maxWorkers`, `batchSize`, `timeout`...). */
  INVALID_OPTION: 'INVALID_OPTION',
  /** A task is neither a function nor a bound worker task. */
  INVALID_TASK: 'INVALID_TASK',
  /** `items` (or `tasks`) is not iterable. */
  INVALID_ITEMS: 'INVALID_ITEMS',
  /** A worker task's module or export does not exist. */
  WORKER_TASK_NOT_FOUND: 'WORKER_TASK_NOT_FOUND',
  /** A worker task's module exists but throws while it is loaded. */
  WORKER_TASK_LOAD_FAILED: 'WORKER_TASK_LOAD_FAILED',
  /** A worker task's module did not finish loading within `loadTimeout` (it hangs at top level). */
  WORKER_TASK_LOAD_TIMEOUT: 'WORKER_TASK_LOAD_TIMEOUT',
  /** An argument (or a result) cannot be structured-cloned across the thread boundary. */
  NOT_CLONEABLE: 'NOT_CLONEABLE',
  /** The compiled worker entry (`dist/worker.js`) is missing: build the package first. */
  WORKER_ENTRY_MISSING: 'WORKER_ENTRY_MISSING',
  /** A task ran longer than `timeout` milliseconds. */
  TASK_TIMEOUT: 'TASK_TIMEOUT',
  /** A task was cancelled by an `AbortSignal`, by `close()` or because a sibling failed. */
  CANCELLED: 'CANCELLED',
  /** The worker thread running the task died (uncaught error, `process.exit`, `resourceLimits`). */
  WORKER_CRASHED: 'WORKER_CRASHED',
  /** `parallelMap` / `executor.parallelMap`: a task failed; `results` holds every outcome. */
  TASK_FAILED: 'TASK_FAILED',
  /** `parallelBatchProcess`: at least one batch failed; `failures` and `results` say which. */
  BATCH_FAILED: 'BATCH_FAILED',
  /** `processBatch` returned something other than an array. */
  INVALID_BATCH_RESULT: 'INVALID_BATCH_RESULT',
  /** An `onResult` callback threw. */
  CALLBACK_FAILED: 'CALLBACK_FAILED',
  /** The executor was used after `close()`. */
  CLOSED: 'CLOSED',
  /** `@bookgen/parallel/bullmq`: the optional peer dependency `bullmq` is not installed. */
  DRIVER_MISSING: 'DRIVER_MISSING',
  /** `@bookgen/parallel/bullmq`: the task is not in the caller's registry, or not in the worker's allowlist. */
  TASK_NOT_ALLOWED: 'TASK_NOT_ALLOWED',
  /** `@bookgen/parallel/bullmq`: the worker serves the task under another version than the caller asked for. */
  TASK_VERSION_MISMATCH: 'TASK_VERSION_MISMATCH',
  /** `@bookgen/parallel/bullmq`: a serialized input or result is larger than `maxPayloadBytes`. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** `@bookgen/parallel/bullmq`: the job of a chunk failed in BullMQ itself (e.g. it stalled more often than allowed). */
  JOB_FAILED: 'JOB_FAILED',
} as const

/** One of the `ParallelErrorCode` values. */
export type ParallelErrorCode = (typeof ParallelErrorCode)[keyof typeof ParallelErrorCode]

/** Extra data some codes carry (`TASK_FAILED`, `BATCH_FAILED`). */
export interface ParallelErrorDetails {
  /** The original error, kept as `error.cause`. */
  cause?: unknown
  /** Partial results: one entry per task or item, in input order (`TASK_FAILED`, `BATCH_FAILED`). */
  results?: unknown[]
  /** Which batches failed and why (`BATCH_FAILED`). */
  failures?: unknown[]
}

/** The one error class of `@bookgen/parallel`. */
export class ParallelError extends Error {
  /** What went wrong, from `ParallelErrorCode`. */
  readonly code: ParallelErrorCode
  /** Partial results in input order, when the code carries them. */
  declare readonly results?: unknown[]
  /** Failed batches (`BATCH_FAILED`). */
  declare readonly failures?: unknown[]

  constructor(code: ParallelErrorCode, message: string, details: ParallelErrorDetails = {}) {
    super(message, 'cause' in details ? { cause: details.cause } : undefined)
    this.name = 'ParallelError'
    this.code = code
    if (details.results !== undefined) this.results = details.results
    if (details.failures !== undefined) this.failures = details.failures
  }
}

/** A task module that did not finish loading within `loadTimeout`. */
export function loadTimeoutError(
  task: { exportName: string; moduleUrl: string },
  loadTimeout: number,
  cause?: unknown,
): ParallelError {
  return new ParallelError(
    'WORKER_TASK_LOAD_TIMEOUT',
    `worker task "${task.exportName}" from module ${task.moduleUrl}: the module did not finish loading within ${loadTimeout} ms (options.loadTimeout)`,
    cause === undefined ? {} : { cause },
  )
}
