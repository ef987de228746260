import type { CacheStats } from './types.js'

/** Plain hit/miss counters shared by the stores. */
export class StatsCounter {
  hits = 0
  misses = 0

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
