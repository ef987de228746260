import { deserialize, serialize } from 'node:v8'
import { ParallelError } from '../parallelError.js'
import { deserializeError, serializeError } from '../serializeError.js'
import { bullmqError } from './bullmqError.js'

// Inputs and results travel v8-serialized (typed arrays, Map, Set, Date, BigInt keep their
// types; BullMQ's own job data is JSON). Each value is serialized alone, so that one that cannot
// be serialized, or is too large, fails only its own task.

/** Serializes one input; throws `NOT_CLONEABLE` or `PAYLOAD_TOO_LARGE` naming the task. */
export function encodeValue(value: unknown, maxBytes: number, what: string): Buffer {
  let bytes: Buffer
  try {
    bytes = serialize(value)
  } catch (error) {
    throw new ParallelError(
      'NOT_CLONEABLE',
      `${what} cannot be serialized with v8.serialize: ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    )
  }
  if (bytes.length > maxBytes) {
    throw bullmqError(
      'PAYLOAD_TOO_LARGE',
      `${what} is ${bytes.length} bytes serialized, more than maxPayloadBytes (${maxBytes})`,
    )
  }
  return bytes
}

/** Packs serialized inputs into one string for the job's (JSON) data. */
export function packInputs(encoded: Buffer[]): string {
  return serialize(encoded).toString('base64')
}

/** Reverses `packInputs`. */
export function unpackInputs(packed: string): unknown[] {
  const encoded = deserialize(Buffer.from(packed, 'base64')) as Uint8Array[]
  return encoded.map((bytes) => deserialize(bytes))
}

/** What a worker reports for one task. */
export interface TaskRecord {
  index: number
  success: boolean
  /** The value, or the error (rebuilt with its class, code and cause). */
  value: unknown
  durationMs: number
  attempts: number
}

/**
 * Serializes one task's outcome. A value that cannot be serialized or is larger than `maxBytes`
 * turns the record into a failure with `NOT_CLONEABLE` / `PAYLOAD_TOO_LARGE`.
 */
export function encodeRecord(record: TaskRecord, maxBytes: number): Buffer {
  const { index, success, value, durationMs, attempts } = record
  if (success) {
    try {
      const bytes = serialize([index, 1, value, durationMs, attempts])
      if (bytes.length <= maxBytes) return bytes
      return encodeFailure(
        record,
        bullmqError(
          'PAYLOAD_TOO_LARGE',
          `the result of task ${index} is ${bytes.length} bytes serialized, more than maxPayloadBytes (${maxBytes})`,
        ),
      )
    } catch (error) {
      return encodeFailure(
        record,
        new ParallelError(
          'NOT_CLONEABLE',
          `the result of task ${index} cannot be serialized with v8.serialize: ${(error as Error)?.message ?? String(error)}`,
          { cause: error },
        ),
      )
    }
  }
  return encodeFailure(record, value)
}

function encodeFailure(record: TaskRecord, error: unknown): Buffer {
  const { index, durationMs, attempts } = record
  try {
    return serialize([index, 0, serializeError(error), durationMs, attempts])
  } catch {
    const e = error as { name?: unknown; message?: unknown; stack?: unknown; code?: unknown }
    const plain = Object.assign(new Error(String(e?.message ?? error)), {
      name: String(e?.name ?? 'Error'),
      stack: String(e?.stack ?? ''),
      ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    })
    return serialize([index, 0, serializeError(plain), durationMs, attempts])
  }
}

/** Reverses `encodeRecord`. */
export function decodeRecord(bytes: Uint8Array): TaskRecord {
  const [index, ok, value, durationMs, attempts] = deserialize(bytes) as [
    number,
    number,
    unknown,
    number,
    number,
  ]
  return {
    index,
    success: ok === 1,
    value: ok === 1 ? value : deserializeError(value),
    durationMs,
    attempts,
  }
}
