import { ProfilerError, ProfilerErrorCode } from './profilerError.js'

/** Options of {@link LogLinearHistogram}. */
export interface LogLinearHistogramOptions {
  /**
   * Sub-buckets per power of two, as a power of two exponent: 5 means 32 sub-buckets, so a
   * percentile is reported within 1/32 (3.1 %) of the true value. Between 1 and 8.
   * @default 5
   */
  precisionBits?: number
}

/** A snapshot of a {@link LogLinearHistogram}, in the unit the values were recorded in. */
export interface HistogramSummary {
  count: number
  sum: number
  /** 0 when empty. */
  min: number
  /** sum / count, 0 when empty. */
  mean: number
  p50: number
  p95: number
  p99: number
  /** Exact largest value, 0 when empty. */
  max: number
}

const DEFAULTS = { precisionBits: 5 } as const

// Values are bucketed by the high 32 bits of their IEEE-754 representation: sign (1 bit),
// exponent (11 bits) and the top of the mantissa. Shifting keeps the exponent and the top
// `precisionBits` of the mantissa, which is a log-linear bucket index without calling Math.log.
const scratch = new Float64Array(1)
const words = new Uint32Array(scratch.buffer)
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0
const MIN_EXPONENT = -34 // 2^-34 s ≈ 58 ps: below any measurable duration
const MAX_EXPONENT = 40 // 2^40 ≈ 1.1e12: far above any duration in seconds or size in MB

/**
 * A small, allocation-free log-linear histogram for non-negative numbers (durations in seconds,
 * sizes…). `record()` is a handful of arithmetic operations; percentiles are exact to within
 * 2^-precisionBits relative error, and min, max, sum and count are exact.
 */
export class LogLinearHistogram {
  #counts: Float64Array
  #shift: number
  #offset: number
  #last: number
  #bits: number
  #count = 0
  #sum = 0
  #min = Number.POSITIVE_INFINITY
  #max = 0

  constructor(options: LogLinearHistogramOptions = {}) {
    const bits = options.precisionBits ?? DEFAULTS.precisionBits
    if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
      throw new ProfilerError(
        ProfilerErrorCode.INVALID_OPTION,
        `options.precisionBits must be an integer between 1 and 8, got ${String(bits)}`,
      )
    }
    this.#bits = bits
    this.#shift = 20 - bits
    this.#offset = (MIN_EXPONENT + 1023) << bits
    this.#last = ((MAX_EXPONENT - MIN_EXPONENT + 1) << bits) - 1
    this.#counts = new Float64Array(this.#last + 1)
  }

  /**
   * Records one value. The caller guarantees a finite, non-negative number (the profiler
   * validates before calling); anything else is counted in the lowest or highest bucket.
   */
  record(value: number): void {
    this.#count++
    this.#sum += value
    if (value > this.#max) this.#max = value
    if (value < this.#min) this.#min = value
    scratch[0] = value
    let i = (words[HI]! >>> this.#shift) - this.#offset
    if (i < 0) i = 0
    else if (i > this.#last) i = this.#last
    this.#counts[i]!++
  }

  /** Number of recorded values. */
  get count(): number {
    return this.#count
  }

  /** Sum of recorded values. */
  get sum(): number {
    return this.#sum
  }

  /** Smallest recorded value, 0 when empty. */
  get min(): number {
    return this.#count === 0 ? 0 : this.#min
  }

  /** Largest recorded value, 0 when empty. */
  get max(): number {
    return this.#max
  }

  /** Arithmetic mean, 0 when empty. */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count
  }

  /**
   * The value at quantile `q` (0..1): the upper bound of the bucket holding the ⌈q·count⌉-th
   * value, clamped to [min, max]. 0 when empty.
   */
  percentile(q: number): number {
    return this.percentiles([q])[0]!
  }

  /** Several quantiles (each 0..1, ascending or not) in one pass over the buckets. */
  percentiles(qs: readonly number[]): number[] {
    for (const q of qs) {
      if (!(q >= 0 && q <= 1)) {
        throw new ProfilerError(
          ProfilerErrorCode.INVALID_ARGUMENT,
          `q must be a number between 0 and 1, got ${String(q)}`,
        )
      }
    }
    const out = new Array<number>(qs.length).fill(0)
    if (this.#count === 0) return out
    const order = qs.map((_, i) => i).sort((a, b) => qs[a]! - qs[b]!)
    const counts = this.#counts
    let seen = 0
    let i = 0
    for (const k of order) {
      const q = qs[k]!
      if (q === 1) {
        out[k] = this.#max
        continue
      }
      const rank = Math.max(1, Math.ceil(q * this.#count))
      while (i <= this.#last && seen + counts[i]! < rank) seen += counts[i++]!
      out[k] =
        i > this.#last ? this.#max : Math.min(this.#max, Math.max(this.#min, this.#upperBound(i)))
    }
    return out
  }

  /** count, sum, min, mean, p50, p95, p99 and max in one object. */
  summary(): HistogramSummary {
    const [p50 = 0, p95 = 0, p99 = 0] = this.percentiles([0.5, 0.95, 0.99])
    return {
      count: this.count,
      sum: this.sum,
      min: this.min,
      mean: this.mean,
      p50,
      p95,
      p99,
      max: this.max,
    }
  }

  /** Forgets every recorded value. */
  reset(): void {
    this.#counts.fill(0)
    this.#count = 0
    this.#sum = 0
    this.#min = Number.POSITIVE_INFINITY
    this.#max = 0
  }

  #upperBound(index: number): number {
    const sub = 1 << this.#bits
    const exponent = Math.floor(index / sub) + MIN_EXPONENT
    const mantissa = index % sub
    return 2 ** exponent * (1 + (mantissa + 1) / sub)
  }
}
