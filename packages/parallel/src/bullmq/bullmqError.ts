import { ParallelError, ParallelErrorCode, type ParallelErrorDetails } from '../parallelError.js'

/**
 * The codes only the BullMQ backend raises. They are part of `ParallelErrorCode` (one `code`
 * union for both backends); this object names the same strings.
 *
 * @deprecated use `ParallelErrorCode` (`ParallelErrorCode.TASK_NOT_ALLOWED`...); kept so that
 * existing imports keep working.
 */
export const BullmqErrorCode = {
  /** The optional peer dependency `bullmq` is not installed. */
  DRIVER_MISSING: ParallelErrorCode.DRIVER_MISSING,
  /** The task is not in the registry (caller side), or not in the worker's allowlist. */
  TASK_NOT_ALLOWED: ParallelErrorCode.TASK_NOT_ALLOWED,
  /** The worker serves the task under another version than the caller asked for. */
  TASK_VERSION_MISMATCH: ParallelErrorCode.TASK_VERSION_MISMATCH,
  /** A serialized input or result is larger than `maxPayloadBytes`. */
  PAYLOAD_TOO_LARGE: ParallelErrorCode.PAYLOAD_TOO_LARGE,
  /** The job of a chunk failed in BullMQ itself (e.g. it stalled more often than allowed). */
  JOB_FAILED: ParallelErrorCode.JOB_FAILED,
} as const

/**
 * One of the `BullmqErrorCode` values (a subset of `ParallelErrorCode`).
 *
 * @deprecated use `ParallelErrorCode`.
 */
export type BullmqErrorCode = (typeof BullmqErrorCode)[keyof typeof BullmqErrorCode]

/** A `ParallelError` carrying one of the codes only the BullMQ backend raises. */
export function bullmqError(
  code: BullmqErrorCode,
  message: string,
  details?: ParallelErrorDetails,
): ParallelError {
  return new ParallelError(code, message, details)
}
