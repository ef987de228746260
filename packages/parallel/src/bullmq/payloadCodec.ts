import { deserialize, serialize } from 'node:v8'
import { ParallelError } from '../parallelError.js'
import { deserializeError, serializeError } from '../serializeError.js'
import { bullmqError } from './bullmqError.js'

// Inputs and results travel v8-serialized (typed arrays, Map, Set, Date, BigInt keep their
// types; BullMQ's own job data is JSON). A chunk is serialized in one call; only when that fails
// or is too large is each value looked at alone, so that one value that cannot be serialized,
// or is too large, fails only its own task.

/** Checks one value; throws `NOT_CLONEABLE` or `PAYLOAD_TOO_LARGE` naming `what`. */
export function checkValue(value: unknown, maxBytes: number, what: string): void {
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
}

/** The inputs of a chunk, ready for a job's (JSON) data. */
export interface PackedChunk {
  /** The inputs that can travel, in order, v8-serialized and base64-encoded. */
  packed: string
  /** Items whose input cannot travel, with the reason (`NOT_CLONEABLE`, `PAYLOAD_TOO_LARGE`). */
  failed: Map<number, unknown>
}

/** Serializes a chunk's inputs; `what(k)` names item `k` in error messages. */
export function packChunk(
  values: unknown[],
  maxBytes: number,
  what: (k: number) => string,
): PackedChunk {
  try {
    const bytes = serialize(values)
    if (bytes.length <= maxBytes) return { packed: bytes.toString('base64'), failed: new Map() }
  } catch {
    // Some value cannot be serialized: find it below.
  }
  const failed = new Map<number, unknown>()
  const good: unknown[] = []
  for (let k = 0; k < values.length; k++) {
    try {
      checkValue(values[k], maxBytes, what(k))
      good.push(values[k])
    } catch (error) {
      failed.set(k, error)
    }
  }
  return { packed: serialize(good).toString('base64'), failed }
}

/** Reverses `packChunk` (the inputs that travelled). */
export function unpackInputs(packed: string): unknown[] {
  return deserialize(Buffer.from(packed, 'base64')) as unknown[]
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

/** A record as it travels: [index, 1 | 0, value or serialized error, durationMs, attempts]. */
export type WireRecord = [number, number, unknown, number, number]

/** The travelling form of one outcome. */
export function toWire(record: TaskRecord): WireRecord {
  const { index, success, value, durationMs, attempts } = record
  return success
    ? [index, 1, value, durationMs, attempts]
    : [index, 0, serializeError(value), durationMs, attempts]
}

/**
 * Serializes a batch of outcomes in one call. A value that cannot be serialized, or whose
 * record is larger than `maxBytes`, turns its record into a failure (`NOT_CLONEABLE`,
 * `PAYLOAD_TOO_LARGE`); the others travel as they are.
 */
export function encodeBatch(records: WireRecord[], maxBytes: number): Buffer {
  try {
    const bytes = serialize(records)
    if (bytes.length <= maxBytes) return bytes
  } catch {
    // Some value cannot be serialized: find it below.
  }
  return serialize(records.map((record) => checked(record, maxBytes)))
}

function checked(record: WireRecord, maxBytes: number): WireRecord {
  const [index, ok, , durationMs, attempts] = record
  let bytes: Buffer
  try {
    bytes = serialize(record)
  } catch (error) {
    if (ok === 0) return [index, 0, plainError(record[2]), durationMs, attempts]
    const failure = new ParallelError(
      'NOT_CLONEABLE',
      `the result of task ${index} cannot be serialized with v8.serialize: ${(error as Error)?.message ?? String(error)}`,
    )
    return [index, 0, serializeError(failure), durationMs, attempts]
  }
  if (ok === 1 && bytes.length > maxBytes) {
    const failure = bullmqError(
      'PAYLOAD_TOO_LARGE',
      `the result of task ${index} is ${bytes.length} bytes serialized, more than maxPayloadBytes (${maxBytes})`,
    )
    return [index, 0, serializeError(failure), durationMs, attempts]
  }
  return record
}

/** An error record that surely serializes: name, message, stack and a string code. */
function plainError(serialized: unknown): unknown {
  const e = serialized as { name?: unknown; message?: unknown; stack?: unknown; props?: unknown }
  const code = (e?.props as { code?: unknown } | undefined)?.code
  const error = Object.assign(new Error(String(e?.message ?? serialized)), {
    name: String(e?.name ?? 'Error'),
    stack: String(e?.stack ?? ''),
    ...(typeof code === 'string' ? { code } : {}),
  })
  return serializeError(error)
}

/** Reverses `encodeBatch`. */
export function decodeBatch(bytes: Uint8Array): TaskRecord[] {
  const records = deserialize(bytes) as WireRecord[]
  return records.map(([index, ok, value, durationMs, attempts]) => ({
    index,
    success: ok === 1,
    value: ok === 1 ? value : deserializeError(value),
    durationMs,
    attempts,
  }))
}
