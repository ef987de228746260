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

/**
 * The complete, mergeable state of a {@link LogLinearHistogram} (JSON-safe). Bucket `i` holds the
 * values in `(upperBound(i − 1), upperBound(i)]`, where
 * `upperBound(i) = 2 ** (minExponent + ⌊i / 2^precisionBits⌋) × (1 + (i mod 2^precisionBits + 1) / 2^precisionBits)`;
 * bucket 0 also holds every smaller value, zero included.
 */
export interface HistogramBuckets {
  precisionBits: number
  minExponent: number
  count: number
  sum: number
  /** 0 when empty. */
  min: number
  /** 0 when empty. */
  max: number
  /** The non-empty buckets as `[index, count]`, ascending by index. */
  buckets: [number, number][]
  /** Values above the largest bucket's upper bound (2^41), counted here rather than clamped. */
  overflow: number
}

const DEFAULTS = { precisionBits: 5 } as const

// Values are bucketed by the high 32 bits of their IEEE-754 representation: sign (1 bit),
// exponent (11 bits) and the top of the mantissa. Shifting keeps the exponent and the top
// `precisionBits` of the mantissa, which is a log-linear bucket index without calling Math.log.
const scratch = new Float64Array(1)
const words = new Uint32Array(scratch.buffer)
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0
const LO = 1 - HI
const MIN_EXPONENT = -34 // 2^-34 s ≈ 58 ps: below any measurable duration
const MAX_EXPONENT = 40 // 2^41 ≈ 2.2e12: far above any duration in seconds or size in MB

/**
 * A small, allocation-free log-linear histogram for non-negative numbers (durations in seconds,
 * sizes…). `record()` is a handful of arithmetic operations; percentiles are exact to within
 * 2^-precisionBits relative error, and min, max, sum and count are exact. Histograms merge
 * exactly (`merge()`, `toBuckets()`, `LogLinearHistogram.fromBuckets()`).
 */
export class LogLinearHistogram {
  #counts: Float64Array
  #shift: number
  #mask: number
  #offset: number
  #last: number
  #bits: number
  #count = 0
  #sum = 0
  #min = Number.POSITIVE_INFINITY
  #max = 0
  #overflow = 0

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
    this.#mask = (1 << this.#shift) - 1
    this.#offset = (MIN_EXPONENT + 1023) << bits
    this.#last = ((MAX_EXPONENT - MIN_EXPONENT + 1) << bits) - 1
    this.#counts = new Float64Array(this.#last + 1)
    // Sum and max hold fractions: storing one first gives these fields V8's double
    // representation now. Otherwise the first record() changes it, every later histogram gets
    // another hidden class, and the optimized channel handlers that record into a new profile's
    // histogram are thrown away and compiled again.
    this.#sum = 0.5
    this.#sum = 0
    this.#max = 0.5
    this.#max = 0
  }

  /**
   * Records one value. The caller guarantees a finite, non-negative number (the profiler
   * validates before calling); `-0` counts as 0, values above 2^41 as `overflow`.
   */
  record(value: number): void {
    const v = value + 0 // -0 + 0 is +0, whose bits sort with the smallest values
    this.#count++
    this.#sum += v
    // Stored on every call, not only on a new extreme: a store first reached in a later profile
    // would have no type feedback and throw the optimized channel handlers away.
    // biome-ignore lint/complexity/useMathMinMax: a comparison keeps the extreme on NaN, Math.max would not
    this.#max = v > this.#max ? v : this.#max
    // biome-ignore lint/complexity/useMathMinMax: as above
    this.#min = v < this.#min ? v : this.#min
    scratch[0] = v
    const hi = words[HI]!
    let i = (hi >>> this.#shift) - this.#offset
    // A value exactly on a bucket's lower edge belongs to the bucket below: buckets are (lo, hi].
    if (words[LO] === 0 && (hi & this.#mask) === 0) i--
    if (i < 0) i = 0
    else if (i > this.#last) {
      this.#overflow++
      return
    }
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

  /** Values above the largest bucket (2^41), counted but not bucketed. */
  get overflow(): number {
    return this.#overflow
  }

  /** Sub-buckets per power of two, as an exponent of two. */
  get precisionBits(): number {
    return this.#bits
  }

  /**
   * The value at quantile `q` (0..1): the upper bound of the bucket holding the ⌈q·count⌉-th
   * value, clamped to [min, max] (`max` when that value overflowed). 0 when empty.
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
        i > this.#last ? this.#max : Math.min(this.#max, Math.max(this.#min, this.upperBound(i)))
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

  /**
   * How many recorded values are ≤ `bound`: exact when `bound` is a bucket's upper bound (every
   * power of two is one), otherwise it leaves out the one bucket `bound` falls inside.
   */
  countAtMost(bound: number): number {
    if (bound >= this.#max) return this.#count
    let n = 0
    for (let i = 0; i <= this.#last && this.upperBound(i) <= bound; i++) n += this.#counts[i]!
    return n
  }

  /** The upper bound of bucket `index` (see {@link HistogramBuckets}). */
  upperBound(index: number): number {
    const sub = 1 << this.#bits
    const exponent = Math.floor(index / sub) + MIN_EXPONENT
    const mantissa = index % sub
    return 2 ** exponent * (1 + (mantissa + 1) / sub)
  }

  /** The complete state as a plain object: sparse buckets, exact count, sum, min, max. */
  toBuckets(): HistogramBuckets {
    const buckets: [number, number][] = []
    const counts = this.#counts
    for (let i = 0; i <= this.#last; i++) if (counts[i]! > 0) buckets.push([i, counts[i]!])
    return {
      precisionBits: this.#bits,
      minExponent: MIN_EXPONENT,
      count: this.#count,
      sum: this.#sum,
      min: this.min,
      max: this.#max,
      buckets,
      overflow: this.#overflow,
    }
  }

  /**
   * Adds every value of `other` (a histogram or its `toBuckets()`): counts, sums, min and max stay
   * exact. A finer `other` is folded into this one's buckets.
   * @throws {ProfilerError} INVALID_ARGUMENT when `other` is coarser than this histogram or
   *   malformed.
   */
  merge(other: LogLinearHistogram | HistogramBuckets): this {
    const b = other instanceof LogLinearHistogram ? other.toBuckets() : checkBuckets(other)
    if (b.precisionBits < this.#bits) {
      throw new ProfilerError(
        ProfilerErrorCode.INVALID_ARGUMENT,
        `cannot merge a histogram of precisionBits ${b.precisionBits} into one of ${this.#bits}`,
      )
    }
    if (b.count === 0) return this
    const drop = b.precisionBits - this.#bits
    const relative = (b.minExponent - MIN_EXPONENT) << this.#bits
    for (const [index, n] of b.buckets) {
      const octave = Math.floor(index / 2 ** b.precisionBits)
      const sub = index % 2 ** b.precisionBits
      const i = relative + (octave << this.#bits) + (sub >> drop)
      if (i > this.#last) this.#overflow += n
      else this.#counts[Math.max(0, i)]! += n
    }
    this.#overflow += b.overflow
    this.#count += b.count
    this.#sum += b.sum
    if (b.max > this.#max) this.#max = b.max
    if (b.min < this.#min) this.#min = b.min
    return this
  }

  /** A histogram holding exactly the values described by `buckets`. */
  static fromBuckets(buckets: HistogramBuckets): LogLinearHistogram {
    const b = checkBuckets(buckets)
    return new LogLinearHistogram({ precisionBits: b.precisionBits }).merge(b)
  }

  /** Forgets every recorded value. */
  reset(): void {
    this.#counts.fill(0)
    this.#count = 0
    this.#sum = 0
    this.#min = Number.POSITIVE_INFINITY
    this.#max = 0
    this.#overflow = 0
  }
}

function checkBuckets(b: HistogramBuckets): HistogramBuckets {
  const fail = (what: string): never => {
    throw new ProfilerError(ProfilerErrorCode.INVALID_ARGUMENT, `histogram buckets: ${what}`)
  }
  if (b === null || typeof b !== 'object') return fail(`expected an object, got ${String(b)}`)
  if (!Number.isInteger(b.precisionBits) || b.precisionBits < 1 || b.precisionBits > 8) {
    fail(`precisionBits must be an integer between 1 and 8, got ${String(b.precisionBits)}`)
  }
  if (!Number.isInteger(b.minExponent))
    fail(`minExponent must be an integer, got ${String(b.minExponent)}`)
  for (const key of ['count', 'sum', 'min', 'max', 'overflow'] as const) {
    if (typeof b[key] !== 'number' || !(b[key] >= 0) || !Number.isFinite(b[key])) {
      fail(`${key} must be a finite, non-negative number, got ${String(b[key])}`)
    }
  }
  if (!Array.isArray(b.buckets)) fail('buckets must be an array of [index, count] pairs')
  let total = b.overflow
  for (const pair of b.buckets) {
    if (!Array.isArray(pair) || !Number.isInteger(pair[0]) || pair[0] < 0 || !(pair[1] > 0)) {
      fail(`each bucket must be [index ≥ 0, count > 0], got ${JSON.stringify(pair)}`)
    }
    total += pair[1]
  }
  if (total !== b.count) fail(`bucket counts add up to ${total}, not count ${b.count}`)
  return b
}
