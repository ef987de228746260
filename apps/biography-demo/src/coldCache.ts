// Both cold runs of the demo start from an empty cache. `clear()` bounds each of its commands by
// the cache's `commandTimeout` (250 ms by default), so on a busy machine one SCAN or UNLINK can
// miss its deadline and the clear comes back incomplete: it is idempotent, so it is tried again a
// few times before the run gives up (a cold run that is not cold would compare unequal work).
import { type Cache, CacheError } from '@bookgen/cache'

/** Options of `emptyForColdRun`. */
export interface EmptyCacheOptions {
  /** Tries in all (the first included). @default 5 */
  attempts?: number
  /** Wait before the second try (ms), doubled before each further one. @default 100 */
  backoffMs?: number
  /** Called after each incomplete try that will be tried again. @default undefined */
  onRetry?: (error: CacheError, attempt: number) => void
}

/**
 * Empties `cache` (its namespace) and resolves with how many keys went; an incomplete clear
 * (`CLEAR_INCOMPLETE`: a server missed a deadline or could not be reached) is tried again up to
 * `attempts` times in all, then its error is thrown. Any other error is thrown at once.
 */
export async function emptyForColdRun(
  cache: Cache,
  options: EmptyCacheOptions = {},
): Promise<number> {
  const attempts = options.attempts ?? 5
  const backoffMs = options.backoffMs ?? 100
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(`options.attempts must be a positive integer, got ${String(attempts)}`)
  }
  if (!Number.isFinite(backoffMs) || backoffMs < 0) {
    throw new RangeError(`options.backoffMs must be a finite number >= 0, got ${String(backoffMs)}`)
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await cache.clear()
    } catch (error) {
      const incomplete = error instanceof CacheError && error.code === 'CLEAR_INCOMPLETE'
      if (!incomplete || attempt >= attempts) throw error
      options.onRetry?.(error, attempt)
      await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 1)))
    }
  }
}
