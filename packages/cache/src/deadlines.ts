import { performance } from 'node:perf_hooks'

/** A call waiting for its reply or its deadline. */
export interface Waiting {
  /** Called once when the deadline passed before the call settled. */
  expire(): void
}

interface Bucket {
  readonly waiting: Set<Waiting>
  readonly timer: NodeJS.Timeout
}

/**
 * Deadlines of many concurrent calls with few timers: the calls that start within the same
 * millisecond share one timer, armed when the first of them starts, so each call's deadline is at
 * most `timeoutMs` after its own start (never later). When it fires, every call of the bucket that
 * is still waiting expires in that one callback; a call that settles first leaves its bucket (and
 * the last one to leave clears the timer). Timers are unref'd: a pending deadline does not keep
 * the process alive.
 */
export class Deadlines {
  readonly #timeoutMs: number
  #current: Bucket | undefined
  #currentAt = -1

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
  }

  /** Starts the deadline of `call`; returns the handle to pass to `settle`. */
  start(call: Waiting): Bucket {
    const now = performance.now()
    let bucket = this.#current
    if (bucket === undefined || now - this.#currentAt >= 1) {
      const waiting = new Set<Waiting>()
      const timer = setTimeout(() => {
        if (this.#current === fresh) this.#current = undefined
        for (const w of waiting) w.expire()
        waiting.clear()
      }, this.#timeoutMs)
      timer.unref()
      const fresh: Bucket = { waiting, timer }
      bucket = fresh
      this.#current = fresh
      this.#currentAt = now
    }
    bucket.waiting.add(call)
    return bucket
  }

  /** `call` settled before its deadline: it no longer expires. */
  settle(bucket: Bucket, call: Waiting): void {
    bucket.waiting.delete(call)
    if (bucket.waiting.size === 0 && bucket !== this.#current) clearTimeout(bucket.timer)
  }
}
