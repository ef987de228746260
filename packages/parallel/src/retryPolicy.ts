/** Settings of a run's retries. */
export interface RetrySettings {
  /** Extra attempts after a failure. */
  retries: number
  /** Base backoff (ms): `retryDelay * 2^(attempt-1)`, jittered within its upper half. */
  retryDelay: number
  /** Upper bound of one backoff (ms). */
  maxRetryDelay: number
}

/**
 * The one place a run decides whether a failed attempt is tried again and when. `schedule`
 * answers false when no attempt is left; otherwise `onReady(i)` runs after the backoff, unless
 * `clear()` came first.
 */
export class RetryPolicy {
  readonly #settings: RetrySettings
  readonly #onReady: (i: number) => void
  readonly #timers = new Map<number, NodeJS.Timeout>()

  constructor(settings: RetrySettings, onReady: (i: number) => void) {
    this.#settings = settings
    this.#onReady = onReady
  }

  /** Backoff before the retry that follows attempt `attempt` (1-based), in ms, with jitter. */
  delay(attempt: number): number {
    const { retryDelay, maxRetryDelay } = this.#settings
    const backoff = Math.min(maxRetryDelay, retryDelay * 2 ** (attempt - 1))
    return backoff / 2 + Math.random() * (backoff / 2)
  }

  /** Schedules task `i` again after its failed attempt `attempt`; false when none is left. */
  schedule(i: number, attempt: number): boolean {
    if (attempt > this.#settings.retries) return false
    // Ref'd on purpose: a retry is work the caller is awaiting. Cleared on settle/cancel.
    const timer = setTimeout(() => {
      this.#timers.delete(i)
      this.#onReady(i)
    }, this.delay(attempt))
    this.#timers.set(i, timer)
    return true
  }

  /** Cancels every pending retry. */
  clear(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer)
    this.#timers.clear()
  }
}
