import { describe } from '../defineWorkerTask.js'
import { ParallelError } from '../parallelError.js'

/** Checks a positive integer option. */
export function positiveInteger(path: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ParallelError(
      'INVALID_OPTION',
      `${path} must be a positive integer, got ${describe(value)}`,
    )
  }
  return value
}

/** Checks a queue name (no colon: BullMQ builds keys from it). */
export function queueName(path: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(value)) {
    throw new ParallelError(
      'INVALID_OPTION',
      `${path} must be 1-100 characters of A-Z a-z 0-9 _ . -, got ${describe(value)}`,
    )
  }
  return value
}

/** Checks a key prefix. */
export function prefixOption(path: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.includes(':')) {
    throw new ParallelError(
      'INVALID_OPTION',
      `${path} must be a non-empty string without ':', got ${describe(value)}`,
    )
  }
  return value
}

/** Checks a run id (no colon: it is part of job ids and keys). */
export function runIdOption(path: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{1,100}$/.test(value)) {
    throw new ParallelError(
      'INVALID_OPTION',
      `${path} must be 1-100 characters of A-Z a-z 0-9 _ -, got ${describe(value)}`,
    )
  }
  return value
}

/** Checks an optional non-negative integer option. */
export function optionalNonNegative(path: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ParallelError(
      'INVALID_OPTION',
      `${path} must be a non-negative integer, got ${describe(value)}`,
    )
  }
  return value
}
