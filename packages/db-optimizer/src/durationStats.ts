/** Distribution of durations for one statement shape or one named span. Milliseconds. */
export interface DurationSummary {
  /** How many were measured. */
  count: number
  /** Mean duration, milliseconds. */
  avgMs: number
  /** Median, milliseconds (over the most recent samples kept, see `sampleLimit`). */
  p50Ms: number
  /** 95th percentile, milliseconds. */
  p95Ms: number
  /** 99th percentile, milliseconds. */
  p99Ms: number
  /** Longest, milliseconds (exact over all measurements). */
  maxMs: number
  /** Total time, milliseconds. */
  totalMs: number
  /** How many failed. */
  errors: number
}

/** Keeps count, sum and max exactly and the most recent samples for percentiles. @internal */
export class DurationStats {
  count = 0
  totalMs = 0
  maxMs = 0
  errors = 0
  readonly #samples: Float64Array
  #next = 0

  constructor(sampleLimit: number) {
    this.#samples = new Float64Array(sampleLimit)
  }

  add(ms: number, failed: boolean): void {
    this.count++
    this.totalMs += ms
    if (ms > this.maxMs) this.maxMs = ms
    if (failed) this.errors++
    this.#samples[this.#next] = ms
    this.#next = this.#next + 1 === this.#samples.length ? 0 : this.#next + 1
  }

  summary(): DurationSummary {
    const kept = Math.min(this.count, this.#samples.length)
    const sorted = this.#samples.slice(0, kept).sort()
    const at = (q: number): number =>
      kept === 0 ? 0 : (sorted[Math.min(kept - 1, Math.ceil(q * kept) - 1)] ?? 0)
    return {
      count: this.count,
      avgMs: this.count === 0 ? 0 : this.totalMs / this.count,
      p50Ms: at(0.5),
      p95Ms: at(0.95),
      p99Ms: at(0.99),
      maxMs: this.maxMs,
      totalMs: this.totalMs,
      errors: this.errors,
    }
  }
}
