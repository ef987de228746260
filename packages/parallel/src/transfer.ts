import type { Transferable } from 'node:worker_threads'

const kTransfer = Symbol.for('bookgen.parallel.transfer')

/** A value marked by `transfer()`: sent to or from a worker thread with its transfer list. */
export interface Transfer<T> {
  readonly [kTransfer]: true
  /** The value itself. */
  readonly value: T
  /** What is moved rather than copied (`ArrayBuffer`s, `MessagePort`s...). */
  readonly transferList: readonly Transferable[]
}

/**
 * Marks a worker task's input or result to be moved across the thread boundary rather than
 * copied: the `ArrayBuffer`s (and `MessagePort`s) in `transferList` change owner and are
 * unusable on the sending side afterwards. Pass it as an input (`task.with(transfer(data,
 * [data.buffer]))`, or as an item of `mapParallel`), or return it from a worker task; the
 * receiving side gets the plain value. An input moved this way cannot be sent a second time:
 * if its thread dies before the task starts, the task fails with `NOT_CLONEABLE`.
 *
 * @example
 * export function scale(input) {
 *   const out = new Float64Array(input.length)
 *   for (let i = 0; i < input.length; i++) out[i] = input[i] * 2
 *   return transfer(out, [out.buffer])
 * }
 */
export function transfer<T>(value: T, transferList: readonly Transferable[]): T {
  const marked: Transfer<T> = { [kTransfer]: true, value, transferList }
  return marked as unknown as T
}

/** True when `value` was made by `transfer()`. */
export function isTransfer(value: unknown): value is Transfer<unknown> {
  return typeof value === 'object' && value !== null && kTransfer in value
}

/** The value without its `transfer()` mark. */
export function unwrapTransfer(value: unknown): unknown {
  return isTransfer(value) ? value.value : value
}
