import { performance } from 'node:perf_hooks'
import type { DurationStats, ExecutorMetrics } from './types.js'

const RESERVOIR = 8192

/**
 * A bounded, uniformly sampled set of durations (reservoir sampling that draws how many values
 * to skip, so that a value not kept costs no random number: millions of tiny tasks are recorded).
 */
export class Samples {
  readonly #values = new Float64Array(RESERVOIR)
  #count = 0
  #sum = 0
  #max = 0
  /** The count at which the next value is kept once the reservoir is full. */
  #next = 0
  #w = 1

  add(value: number): void {
    const n = this.#count++
    this.#sum += value
    if (value > this.#max) this.#max = value
    if (n < RESERVOIR) this.#values[n] = value
    else if (n === this.#next) {
      this.#values[Math.floor(Math.random() * RESERVOIR)] = value
      this.#skip()
    }
    if (n === RESERVOIR - 1) {
      this.#w = 1
      this.#next = n
      this.#skip()
    }
  }

  /** `add(values[k])` for k in `0 .. count - 1`, in one pass. */
  addMany(values: ArrayLike<number>, count: number): void {
    const kept = this.#values
    let n = this.#count
    let sum = this.#sum
    let max = this.#max
    for (let k = 0; k < count; k++, n++) {
      const value = values[k] as number
      sum += value
      if (value > max) max = value
      if (n < RESERVOIR) kept[n] = value
      else if (n === this.#next) {
        kept[Math.floor(Math.random() * RESERVOIR)] = value
        this.#skip()
      }
      if (n === RESERVOIR - 1) {
        this.#w = 1
        this.#next = n
        this.#skip()
      }
    }
    this.#count = n
    this.#sum = sum
    this.#max = max
  }

  /** `add(value)` `count` times; past the reservoir's size, only the kept counts cost anything. */
  addRepeated(value: number, count: number): void {
    const kept = this.#values
    let n = this.#count
    const end = n + count
    let sum = this.#sum
    for (let k = 0; k < count; k++) sum += value
    this.#sum = sum
    if (count > 0 && value > this.#max) this.#max = value
    for (; n < end && n < RESERVOIR; n++) {
      kept[n] = value
      if (n === RESERVOIR - 1) {
        this.#w = 1
        this.#next = n
        this.#skip()
      }
    }
    // Every count before #next is skipped, as `add` would.
    while (n < end && this.#next < end) {
      kept[Math.floor(Math.random() * RESERVOIR)] = value
      this.#skip()
    }
    this.#count = end
  }

  /** Draws the next kept count (Li's algorithm L). */
  #skip(): void {
    this.#w *= Math.exp(Math.log(random()) / RESERVOIR)
    this.#next += Math.floor(Math.log(random()) / Math.log(1 - this.#w)) + 1
  }

  stats(): DurationStats {
    const n = Math.min(this.#count, RESERVOIR)
    const sorted = this.#values.slice(0, n).sort()
    return {
      count: this.#count,
      mean: this.#count === 0 ? 0 : this.#sum / this.#count,
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      max: this.#max,
    }
  }
}

/** A uniform number in (0, 1): never 0, whose logarithm is finite. */
function random(): number {
  return 1 - Math.random()
}

/** Nearest-rank percentile of sorted values (0 when empty). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[rank] as number
}

/** Outcome kinds recorded by a run. */
export type Outcome = 'ok' | 'failed' | 'timeout' | 'cancelled'

/** Aggregates what every run of one executor records. */
export class MetricsRecorder {
  readonly runTime = new Samples()
  readonly waitTime = new Samples()
  #succeeded = 0
  #failed = 0
  #timedOut = 0
  #cancelled = 0
  #retried = 0
  #messages = 0
  #busyInProcess = 0
  #busyThreads = 0
  #activeRuns = 0
  #activeSince = 0
  #activeTotal = 0

  constructor(
    readonly slotsInProcess: number,
    readonly slotsThreads: number,
  ) {}

  runStarted(): void {
    if (this.#activeRuns++ === 0) this.#activeSince = performance.now()
  }

  runEnded(): void {
    if (--this.#activeRuns === 0) this.#activeTotal += performance.now() - this.#activeSince
  }

  /** Records one timed attempt; `weight` > 1 when it stands for that many sampled attempts. */
  attempt(runMs: number, waitMs: number, onThread: boolean, weight = 1): void {
    this.runTime.add(runMs)
    this.waitTime.add(waitMs)
    if (onThread) this.#busyThreads += runMs
    else this.#busyInProcess += runMs * weight
  }

  /** Records `count` timed attempts on threads, `runMs[k]` each, all of them waiting `waitMs`. */
  attempts(runMs: ArrayLike<number>, count: number, waitMs: number): void {
    this.runTime.addMany(runMs, count)
    this.waitTime.addRepeated(waitMs, count)
    let busy = this.#busyThreads
    for (let k = 0; k < count; k++) busy += runMs[k] as number
    this.#busyThreads = busy
  }

  message(): void {
    this.#messages++
  }

  retried(): void {
    this.#retried++
  }

  settled(outcome: Outcome, count = 1): void {
    if (outcome === 'ok') this.#succeeded += count
    else if (outcome === 'failed') this.#failed += count
    else if (outcome === 'timeout') this.#timedOut += count
    else this.#cancelled += count
  }

  snapshot(): ExecutorMetrics {
    const active =
      this.#activeTotal + (this.#activeRuns > 0 ? performance.now() - this.#activeSince : 0)
    const ratio = (busy: number, slots: number) =>
      active > 0 && slots > 0 ? Math.min(1, busy / (active * slots)) : 0
    return {
      tasks: {
        total: this.#succeeded + this.#failed + this.#timedOut + this.#cancelled,
        succeeded: this.#succeeded,
        failed: this.#failed,
        timedOut: this.#timedOut,
        cancelled: this.#cancelled,
        retried: this.#retried,
      },
      runTime: this.runTime.stats(),
      waitTime: this.waitTime.stats(),
      threadMessages: this.#messages,
      utilization: {
        inProcess: ratio(this.#busyInProcess, this.slotsInProcess),
        threads: ratio(this.#busyThreads, this.slotsThreads),
      },
    }
  }
}
