// A progress cell shared between the main thread and a worker thread for one message: the worker
// writes what it is doing (loading the module, running item k) and since when, and for a chunk
// each item's duration and whether it failed; the main thread reads it to time a load or a task
// from its real start, and asks the worker to stop between two items through its stop word.
import { Buffer } from 'node:buffer'
import { endianness } from 'node:os'
import { performance } from 'node:perf_hooks'

/** The message waits in a queue or for a thread to start. */
export const QUEUED = -2
/** The worker imports the task module. */
export const LOADING = -1

/**
 * Int32 words: state, claimed (items the worker started, or STOPPED). Then one float64: since.
 * Then per item: float64 durations, float64 values, u8 failed, u8 kinds. Then the characters of
 * short string results (CHARS_PER_ITEM UTF-16 code units per item on average).
 */
const HEADER = 16

/** Room for string results in a cell, in UTF-16 code units per item. */
const CHARS_PER_ITEM = 16

/** Bytes per item of a cell. */
const ITEM_BYTES = 18 + 2 * CHARS_PER_ITEM

/** Longest string result kept in the cell (longer ones are posted on the port). */
export const MAX_CELL_STRING = 256

/** A string's place in the characters of a cell, packed in its values slot: offset * 2^26 + length. */
export const STRING_SHIFT = 2 ** 26

/** A fresh cell for a message of `items` items, in the QUEUED state. */
export function createProgress(items = 0): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(HEADER + items * ITEM_BYTES)
  Atomics.store(new Int32Array(buffer, 0, 2), 0, QUEUED)
  return buffer
}

/** True when `buffer` can serve as the cell of a message of `items` items. */
export function fitsProgress(buffer: SharedArrayBuffer, items: number): boolean {
  return buffer.byteLength >= HEADER + items * ITEM_BYTES
}

/**
 * A used cell made fresh for a message of `items` items (QUEUED, nothing claimed, every kind and
 * failed flag cleared); its durations and values are always written before they are read.
 */
export function resetProgress(buffer: SharedArrayBuffer, items: number): void {
  const words = new Int32Array(buffer, 0, 2)
  Atomics.store(words, 1, 0)
  new Uint8Array(buffer, HEADER + items * 16, items * 2).fill(0)
  Atomics.store(words, 0, QUEUED)
}

/** Worker side: from now on (ms on `clock()`, now by default), `state` (LOADING or an item index). */
export function markProgress(buffer: SharedArrayBuffer, state: number, since = clock()): void {
  new Float64Array(buffer, 8, 1)[0] = since
  // Sequentially consistent store after the time: a reader seeing `state` sees its time too.
  Atomics.store(new Int32Array(buffer, 0, 2), 0, state)
}

/** Main side: the current state and since when (ms on `clock()`). */
export function readProgress(buffer: SharedArrayBuffer): { state: number; since: number } {
  const state = Atomics.load(new Int32Array(buffer, 0, 2), 0)
  return { state, since: new Float64Array(buffer, 8, 1)[0] as number }
}

/** The claimed word once the main thread stopped the message. */
const STOPPED = -1

/**
 * Main side: lets the worker start no further item of this message and returns how many it
 * started (the same number on every later call). Atomic with `claimItem`: an item is either
 * counted here or never started.
 */
export function stopItems(buffer: SharedArrayBuffer, stopped: { claimed: number }): number {
  const claimed = Atomics.exchange(new Int32Array(buffer, 0, 2), 1, STOPPED)
  if (claimed !== STOPPED) stopped.claimed = claimed
  return stopped.claimed
}

/**
 * Main side: stops the message only when the worker started none of its items (true then: none
 * ever will); a message already under way is left alone.
 */
export function stopUnstarted(buffer: SharedArrayBuffer, stopped: { claimed: number }): boolean {
  const words = new Int32Array(buffer, 0, 2)
  const claimed = Atomics.compareExchange(words, 1, 0, STOPPED)
  if (claimed === 0) {
    stopped.claimed = 0
    return true
  }
  return claimed === STOPPED && stopped.claimed === 0
}

/** Worker side: claims item `i` (false when the main thread stopped the message). */
export function claimItem(words: Int32Array, i: number): boolean {
  return Atomics.compareExchange(words, 1, i, i + 1) === i
}

/**
 * The views of a chunk's cell: its words (state, claimed), since (write it, then store the state
 * in `words[0]` atomically), durations (ms) and failed flags.
 */
export function itemViews(
  buffer: SharedArrayBuffer,
  items: number,
): {
  words: Int32Array
  since: Float64Array
  durations: Float64Array
  values: Float64Array
  failed: Uint8Array
  kinds: Uint8Array
  chars: Uint16Array
} {
  return {
    words: new Int32Array(buffer, 0, 2),
    since: new Float64Array(buffer, 8, 1),
    durations: new Float64Array(buffer, HEADER, items),
    values: new Float64Array(buffer, HEADER + items * 8, items),
    failed: new Uint8Array(buffer, HEADER + items * 16, items),
    kinds: new Uint8Array(buffer, HEADER + items * 17, items),
    chars: new Uint16Array(buffer, HEADER + items * 18, items * CHARS_PER_ITEM),
  }
}

/**
 * How a finished item's value is kept: in the journal (a message on the chunk's port), or in the
 * cell itself for a primitive, which costs no message. Stored atomically, after the value.
 */
export const IN_JOURNAL = 0
export const NUMBER = 1
export const UNDEFINED = 2
export const NULL = 3
export const TRUE = 4
export const FALSE = 5
export const STRING = 6

/**
 * The value of an item kept in the cell (`kind` is not IN_JOURNAL). `text`, when given, is
 * `cellText` of the cell's characters: a string result is then a slice of it rather than a
 * decoding of its own.
 */
export function cellValue(
  kind: number,
  values: Float64Array,
  k: number,
  chars: Uint16Array,
  text?: string,
): unknown {
  switch (kind) {
    case NUMBER:
      return values[k]
    case STRING: {
      const packed = values[k] as number
      const offset = Math.floor(packed / STRING_SHIFT)
      const length = packed - offset * STRING_SHIFT
      if (length === 0) return ''
      if (text !== undefined) return text.slice(offset, offset + length)
      return String.fromCharCode.apply(
        null,
        chars.subarray(offset, offset + length) as unknown as number[],
      )
    }
    case NULL:
      return null
    case TRUE:
      return true
    case FALSE:
      return false
    default:
      return undefined
  }
}

/**
 * The first `count` characters of a cell as one string: one decoding for a whole chunk's string
 * results instead of one per result. Code units are copied as they are (lone surrogates kept).
 * A result of 13 characters or more is then a V8 slice that keeps this text alive with it: at
 * most the chunk's own string results, the price of not copying each one.
 */
export function cellText(chars: Uint16Array, count: number): string {
  if (count === 0) return ''
  if (LITTLE_ENDIAN) {
    return Buffer.from(chars.buffer, chars.byteOffset, count * 2).toString('utf16le')
  }
  let text = ''
  for (let at = 0; at < count; at += TEXT_PIECE) {
    const piece = chars.subarray(at, Math.min(count, at + TEXT_PIECE))
    text += String.fromCharCode.apply(null, piece as unknown as number[])
  }
  return text
}

/** The cell's Uint16Array holds code units in the machine's order; 'utf16le' reads them as LE. */
const LITTLE_ENDIAN = endianness() === 'LE'

/** Code units per `String.fromCharCode.apply` call (an argument list has a size limit). */
const TEXT_PIECE = 8192

/** Milliseconds on a clock every thread of the process shares. */
export function clock(): number {
  return performance.timeOrigin + performance.now()
}

/** Limits a watched message is held to (ms); undefined: no limit. */
export interface ProgressLimits {
  loadTimeout: number | undefined
  taskTimeout: number | undefined
}

/** How often a message still waiting for a thread is looked at again. */
const POLL_MS = 10

/**
 * Calls `onExpire` once when the module load or the running task of a watched message outlives
 * its limit, counted from when the worker started it. Returns a function that stops watching.
 */
export function watchProgress(
  buffer: SharedArrayBuffer,
  limits: ProgressLimits,
  onExpire: (kind: 'load' | 'task', since: number, state: number) => void,
): () => void {
  const { loadTimeout, taskTimeout } = limits
  if (loadTimeout === undefined && taskTimeout === undefined) return () => {}
  let timer: NodeJS.Timeout | undefined
  const tick = () => {
    timer = undefined
    const { state, since } = readProgress(buffer)
    if (state === QUEUED) {
      timer = setTimeout(tick, POLL_MS)
      return
    }
    const limit = state === LOADING ? loadTimeout : taskTimeout
    if (limit === undefined) {
      // Loading without a load limit: look again for the task; running without a task limit: done.
      if (state === LOADING) timer = setTimeout(tick, POLL_MS)
      return
    }
    const remaining = since + limit - clock()
    if (remaining <= 0) {
      onExpire(state === LOADING ? 'load' : 'task', since, state)
      return
    }
    // While loading, look again soon: the task's own deadline starts when the load ends.
    const next =
      state === LOADING && taskTimeout !== undefined ? Math.min(remaining, POLL_MS) : remaining
    timer = setTimeout(tick, Math.max(1, Math.ceil(next)))
  }
  // Nothing can expire before the smallest limit has passed since now.
  timer = setTimeout(tick, Math.min(loadTimeout ?? Infinity, taskTimeout ?? Infinity))
  return () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
  }
}
