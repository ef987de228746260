// A progress cell shared between the main thread and a worker thread for one message: the worker
// writes what it is doing (loading the module, running item k) and since when; the main thread
// reads it to time a load or a task from its real start, not from the moment it was queued.
import { performance } from 'node:perf_hooks'

/** The message waits in a queue or for a thread to start. */
export const QUEUED = -2
/** The worker imports the task module. */
export const LOADING = -1

const BYTES = 16

/** A fresh cell, in the QUEUED state. */
export function createProgress(): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(BYTES)
  Atomics.store(new Int32Array(buffer, 0, 1), 0, QUEUED)
  return buffer
}

/** Worker side: from now on, `state` (LOADING, or the index of the running item in the chunk). */
export function markProgress(buffer: SharedArrayBuffer, state: number): void {
  new Float64Array(buffer, 8, 1)[0] = clock()
  // Sequentially consistent store after the time: a reader seeing `state` sees its time too.
  Atomics.store(new Int32Array(buffer, 0, 1), 0, state)
}

/** Main side: the current state and since when (ms on `clock()`). */
export function readProgress(buffer: SharedArrayBuffer): { state: number; since: number } {
  const state = Atomics.load(new Int32Array(buffer, 0, 1), 0)
  return { state, since: new Float64Array(buffer, 8, 1)[0] as number }
}

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
  onExpire: (kind: 'load' | 'task', since: number) => void,
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
      onExpire(state === LOADING ? 'load' : 'task', since)
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
