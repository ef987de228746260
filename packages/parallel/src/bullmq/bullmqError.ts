import { ParallelError, type ParallelErrorDetails } from '../parallelError.js'

/**
 * Codes of the `ParallelError`s only the BullMQ backend raises, next to the package's
 * `ParallelErrorCode` ones it shares (`CANCELLED`, `TASK_TIMEOUT`, `NOT_CLONEABLE`...).
 */
export const BullmqErrorCode = {
  /** The optional peer dependency `bullmq` is not installed. */
  DRIVER_MISSING: 'DRIVER_MISSING',
  /** The task is not in the registry (caller side), or not in the worker's allowlist. */
  TASK_NOT_ALLOWED: 'TASK_NOT_ALLOWED',
  /** The worker serves the task under another version than the caller asked for. */
  TASK_VERSION_MISMATCH: 'TASK_VERSION_MISMATCH',
  /** A serialized input or result is larger than `maxPayloadBytes`. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** The job of a chunk failed in BullMQ itself (e.g. it stalled more often than allowed). */
  JOB_FAILED: 'JOB_FAILED',
} as const

/** One of the `BullmqErrorCode` values. */
export type BullmqErrorCode = (typeof BullmqErrorCode)[keyof typeof BullmqErrorCode]

/** A `ParallelError` carrying one of the `BullmqErrorCode` codes. */
export function bullmqError(
  code: BullmqErrorCode,
  message: string,
  details?: ParallelErrorDetails,
): ParallelError {
  return new ParallelError(code as unknown as ParallelError['code'], message, details)
}
