/** How {@link retry} spaces and bounds its attempts. */
export interface RetryOptions<T> {
  /** Attempts in all, the first one included (at least 1). */
  attempts: number
  /** Milliseconds to wait before attempt `n + 1` after attempt `n` (1-based) failed. */
  delayMs: (attempt: number) => number
  /** Whether the result of an attempt is a failure worth another attempt. */
  shouldRetry: (result: T) => boolean
}

/**
 * Runs `attempt` until its result is not retryable or the attempts are spent, waiting
 * `delayMs(n)` between attempts. Resolves with the last result and the number
 * of attempts made; the caller decides what a result that is still a failure means.
 */
export async function retry<T>(
  attempt: (n: number) => Promise<T>,
  options: RetryOptions<T>,
): Promise<{ result: T; attempts: number }> {
  for (let n = 1; ; n++) {
    const result = await attempt(n)
    if (n >= options.attempts || !options.shouldRetry(result)) return { result, attempts: n }
    await sleep(options.delayMs(n))
  }
}

/** Exponential backoff with jitter: `base × 2^(n−1)`, scaled by a random factor in [0.5, 1]. */
export function exponentialBackoff(baseMs: number): (attempt: number) => number {
  return (attempt) => baseMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2)
}

// The wait is part of work the caller awaits, so its timer stays referenced: unref'd, a process
// with nothing else pending (a child run between two attempts) would exit in the middle of it.
function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve()
}
