import { publishTimedEvent } from './cacheChannel.js'
import type { CacheStats } from './types.js'

/**
 * Hit/miss counters shared by the stores. `hit()` / `miss()` count one read and publish it on the
 * channel when its `start` (from `eventStart`) says so.
 */
export class StatsCounter {
  hits = 0
  misses = 0
  readonly #namespace: string

  constructor(namespace: string) {
    this.#namespace = namespace
  }

  /** Counts a hit on `key`; publishes it when `start >= 0`. */
  hit(key: string, start: number): void {
    this.hits++
    if (start >= 0) publishTimedEvent('hit', key, this.#namespace, start)
  }

  /** Counts a miss on `key`; publishes it when `start >= 0`. */
  miss(key: string, start: number): void {
    this.misses++
    if (start >= 0) publishTimedEvent('miss', key, this.#namespace, start)
  }

  snapshot(): CacheStats {
    const totalRequests = this.hits + this.misses
    return {
      hits: this.hits,
      misses: this.misses,
      totalRequests,
      hitRatio: totalRequests === 0 ? 0 : this.hits / totalRequests,
    }
  }

  reset(): void {
    this.hits = 0
    this.misses = 0
  }
}
