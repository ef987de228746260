import { performance } from 'node:perf_hooks'
import { ParallelError } from './parallelError.js'
import { taskChannel } from './taskChannel.js'
import type { TaskRun } from './taskRun.js'
import type { TaskContext } from './types.js'

/** Without per-task durations, one closure in this many is timed for the metrics (power of 2). */
const SAMPLE_EVERY = 16

const RUNNING = 1

/**
 * The in-process side of a run: at most `maxWorkers` lanes, each running one closure at a time.
 * An attempt that timed out or was cancelled keeps its lane until its promise settles (a closure
 * cannot be killed; its context signal tells it to stop), so `maxWorkers` bounds the attempts
 * really running, abandoned ones included.
 */
export class ClosureLanes {
  readonly #run: TaskRun
  /** Indices of closures in order, or undefined when every task of the run is a closure. */
  #order: number[] | undefined
  /** Order position of `#order[0]`. */
  #orderBase = 0
  #count: number
  #cursor = 0
  /** Retried closures, waiting for a lane (a queue: `#againHead` is its first live entry). */
  #again: number[] = []
  #againHead = 0
  #lanes = 0
  #tick = 0
  readonly #attemptCtrls = new Map<number, AbortController>()

  constructor(run: TaskRun, order: number[] | undefined, count: number) {
    this.#run = run
    this.#order = order
    this.#count = count
  }

  /** Opens the lanes. */
  start(): void {
    const lanes = Math.min(this.#run.config.maxWorkers, this.#count)
    for (let k = 0; k < lanes; k++) void this.#lane()
  }

  /** More tasks were read: `i` is the new closure's index (undefined: every task is a closure). */
  grow(n: number, i: number | undefined): void {
    if (i === undefined || this.#order === undefined) this.#count = n
    else {
      this.#order.push(i)
      this.#count = this.#orderBase + this.#order.length
    }
    const max = this.#run.config.maxWorkers
    while (this.#lanes < max && this.#lanes < this.#count - this.#cursor) void this.#lane()
  }

  /** Queues a retry of closure `i`, opening a lane when one is free. */
  push(i: number): void {
    this.#again.push(i)
    if (this.#lanes < this.#run.config.maxWorkers) void this.#lane()
  }

  /** Aborts the signal of every running attempt. */
  abortAll(reason: unknown): void {
    for (const ctrl of this.#attemptCtrls.values()) ctrl.abort(reason)
  }

  /** The context a closure receives. */
  context(i: number): TaskContext {
    const run = this.#run
    return {
      taskId: run.taskId(i),
      index: i,
      attempt: run.attempts[i] as number,
      idempotencyKey: run.idempotencyKey(i),
      signal: this.#attemptCtrls.get(i)?.signal ?? run.signal,
    }
  }

  #next(): number {
    if (this.#againHead < this.#again.length) {
      const i = this.#again[this.#againHead++] as number
      if (this.#againHead === this.#again.length) {
        this.#again = []
        this.#againHead = 0
      }
      return i
    }
    if (this.#cursor >= this.#count) return -1
    const k = this.#cursor++
    if (this.#order === undefined) return k
    const i = this.#order[k - this.#orderBase] as number
    // A lazily read input keeps adding to the order: drop the part already taken.
    if (k - this.#orderBase > 4096 && (k - this.#orderBase) * 2 > this.#order.length) {
      this.#order = this.#order.slice(k + 1 - this.#orderBase)
      this.#orderBase = k + 1
    }
    return i
  }

  async #lane(): Promise<void> {
    this.#lanes++
    const run = this.#run
    const config = run.config
    const { timeout, chainTiming, metrics } = config
    let last = -1
    try {
      for (;;) {
        if (run.stopped) return
        const i = this.#next()
        if (i === -1) return
        run.status[i] = RUNNING
        run.attempts[i] = (run.attempts[i] as number) + 1
        let ctrl: AbortController | undefined
        if (timeout !== undefined) {
          ctrl = new AbortController()
          this.#attemptCtrls.set(i, ctrl)
        }
        // Timing every closure costs as much as a tiny closure itself: when nobody needs
        // per-task durations (plain parallelMap, no subscriber) one task in SAMPLE_EVERY is timed.
        const timed =
          config.timeEveryTask ||
          taskChannel.hasSubscribers ||
          (++this.#tick & (SAMPLE_EVERY - 1)) === 0
        // Back-to-back tasks of a lane share a clock reading: the previous end is this start
        // (only cheap bookkeeping runs in between; not when user callbacks could run there).
        const start = timed ? (last >= 0 ? last : performance.now()) : 0
        let ok = false
        let value: unknown
        let error: unknown
        let abandoned: PromiseLike<unknown> | undefined
        try {
          value = run.source.call(i, this)
          if (isThenable(value)) {
            if (ctrl) {
              abandoned = value
              value = await withTimeout(value, timeout as number, ctrl, run.taskId(i))
              abandoned = undefined
            } else value = await value
          }
          ok = true
        } catch (e) {
          error = e
        }
        const end = timed ? performance.now() : -1
        // NaN, not 0, for an attempt nobody timed (a plain parallelMap's sampled closures).
        const ms = timed ? end - start : Number.NaN
        last = chainTiming && !taskChannel.hasSubscribers ? end : -1
        if (ctrl) this.#attemptCtrls.delete(i)
        if (run.status[i] === RUNNING) {
          if (timed) {
            const weight = config.timeEveryTask ? 1 : SAMPLE_EVERY
            metrics.attempt(ms, start - run.ready(i), false, weight)
          }
          if (ok) run.settle(i, true, value, undefined, ms, 'ok')
          else run.fail(i, error, ms, true)
        }
        if (abandoned !== undefined) {
          // Timed out or cancelled while running: the lane is free only when the closure is.
          await Promise.resolve(abandoned).then(noop, noop)
          last = -1
        }
      }
    } finally {
      this.#lanes--
    }
  }
}

function noop(): void {}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  )
}

/** The error of an attempt that outlived `timeout`. */
export function timeoutError(taskId: string | number, timeout: number): ParallelError {
  return new ParallelError('TASK_TIMEOUT', `task ${taskId} timed out after ${timeout} ms`)
}

function withTimeout(
  promise: PromiseLike<unknown>,
  timeout: number,
  ctrl: AbortController,
  taskId: string | number,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // Ref'd on purpose: it guarantees the task settles even if its promise never does.
    const timer = setTimeout(() => ctrl.abort(timeoutError(taskId, timeout)), timeout)
    // Aborted by the timeout above or by a cancel: either way the attempt settles now.
    ctrl.signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        reject(ctrl.signal.reason)
      },
      { once: true },
    )
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}
