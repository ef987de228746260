import type { ConnectionOptions } from 'bullmq'
import { describe } from '../defineWorkerTask.js'
import { ParallelError } from '../parallelError.js'
import { DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_PREFIX } from './chunkJob.js'
import { connectionOptions, type RedisConnection } from './redisConnection.js'
import { isTaskRegistry, type TaskRegistry } from './taskRegistry.js'

/** The options both sides of the backend take (`bullmqBackend` and `serveTasks`). */
export interface QueueOptions {
  connection: RedisConnection
  queue: string
  tasks: TaskRegistry
  prefix?: string | undefined
  maxPayloadBytes?: number | undefined
}

/** `QueueOptions` after validation, defaults filled in. */
export interface ResolvedQueueOptions {
  connection: ConnectionOptions
  queue: string
  tasks: TaskRegistry
  prefix: string
  maxPayloadBytes: number
}

/**
 * The one check of what the caller's and the worker's options share: an object, a registry, a
 * connection, a queue name, a key prefix and a payload bound, in that order.
 */
export function resolveQueueOptions(options: QueueOptions): ResolvedQueueOptions {
  if (options === null || typeof options !== 'object') {
    throw new ParallelError('INVALID_OPTION', `options must be an object, got ${describe(options)}`)
  }
  if (!isTaskRegistry(options.tasks)) {
    throw new ParallelError(
      'INVALID_OPTION',
      `options.tasks must be a registry from defineTaskRegistry(), got ${describe(options.tasks)}`,
    )
  }
  return {
    connection: connectionOptions('options.connection', options.connection),
    queue: queueName('options.queue', options.queue),
    tasks: options.tasks,
    prefix: prefixOption('options.prefix', options.prefix ?? DEFAULT_PREFIX),
    maxPayloadBytes: positiveInteger(
      'options.maxPayloadBytes',
      options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    ),
  }
}

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
