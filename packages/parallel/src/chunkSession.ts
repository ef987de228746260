// The word a thread and the main thread share for one session: a run of chunks on one thread,
// sent as one pool task, where the main thread may queue the next chunk while the current one
// runs (the thread then goes on without waiting for a round trip). The word decides, atomically,
// whether a next chunk comes or the session ends: the main thread promises a chunk only while
// the session is open, the thread closes it only when no chunk is promised.
import type { MessagePort } from 'node:worker_threads'

/** No chunk is queued: the main thread may promise one, the thread may close. */
const OPEN = 0
/** The main thread is posting the next chunk: the thread waits for it. */
const PROMISED = 1
/** The next chunk is on the session port. */
const POSTED = 2
/** The thread ended the session: nothing more is read from its port. */
const CLOSED = 3

/** What the first chunk of a session carries to the thread. */
export interface SessionWire {
  word: SharedArrayBuffer
  /** Next chunks arrive here; the replies of every chunk but the last leave here. */
  port: MessagePort
}

/** A fresh, open session word. */
export function createSessionWord(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4))
}

/** Main side: reserves the session for one more chunk (false: closed, or a chunk is queued). */
export function promiseNext(word: Int32Array): boolean {
  return Atomics.compareExchange(word, 0, OPEN, PROMISED) === OPEN
}

/** Main side: the promised chunk is on the port (`sent`), or could not be posted after all. */
export function settlePromise(word: Int32Array, sent: boolean): void {
  Atomics.store(word, 0, sent ? POSTED : OPEN)
  Atomics.notify(word, 0)
}

/**
 * Thread side, after a chunk: true when a next chunk is on the port (read it, then `reopen`),
 * false when the session is now closed. Waits while the main thread is posting one.
 */
export function takeNext(word: Int32Array): boolean {
  for (;;) {
    const state = Atomics.compareExchange(word, 0, OPEN, CLOSED)
    if (state === OPEN) return false
    if (state === POSTED) return true
    Atomics.wait(word, 0, state)
  }
}

/** Thread side: the queued chunk was read; the main thread may promise the next one. */
export function reopen(word: Int32Array): void {
  Atomics.store(word, 0, OPEN)
}
