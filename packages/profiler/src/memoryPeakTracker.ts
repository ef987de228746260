import { getHeapStatistics } from 'node:v8'
import { readProcStatus, resetVmHwm } from './procStatus.js'

/**
 * How a memory peak was obtained:
 * - `vmhwm`: the kernel's RSS high-water mark (/proc/self/status VmHWM), reset when the profile
 *   started; sees every spike.
 * - `maxrss`: `process.resourceUsage().maxRSS`, which only counts when it rose during the profile
 *   (it is the process-wide maximum); sees every spike that set a new record.
 * - `sampler`: the largest RSS seen by the periodic sampler, `updateMemoryPeak()`, start and stop;
 *   can miss spikes shorter than the sampling interval.
 */
export type MemoryPeakSource = 'vmhwm' | 'maxrss' | 'sampler'

const active = new Set<MemoryPeakTracker>()

/** Tracks one profile's RSS and heap peak from every source available. @internal */
export class MemoryPeakTracker {
  readonly start: number
  readonly heapStart: number
  #sampled: number
  #heapPeak: number
  #hwmValid: boolean
  #hwmCarry = 0
  #maxRssStart: number
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  #final: { peak: number; source: MemoryPeakSource } | undefined

  constructor(sampleIntervalMs: number) {
    // Another profile may rely on the high-water mark: hand it the peak so far before resetting.
    if (active.size > 0) {
      const hwm = readProcStatus()?.vmHwm
      if (hwm != null) for (const other of active) other.#hwmCarry = Math.max(other.#hwmCarry, hwm)
    }
    this.#hwmValid = resetVmHwm()
    this.#maxRssStart = process.resourceUsage().maxRSS * 1024
    const usage = process.memoryUsage()
    this.start = usage.rss
    this.heapStart = usage.heapUsed
    this.#sampled = usage.rss
    this.#heapPeak = usage.heapUsed
    active.add(this)
    if (sampleIntervalMs > 0) {
      this.#timer = setInterval(() => this.sample(), sampleIntervalMs)
      this.#timer.unref()
    }
  }

  /** Takes one RSS and heap sample now; returns the RSS. */
  sample(): number {
    const usage = process.memoryUsage()
    if (usage.rss > this.#sampled) this.#sampled = usage.rss
    if (usage.heapUsed > this.#heapPeak) this.#heapPeak = usage.heapUsed
    return usage.rss
  }

  /** The largest RSS the sampler, `sample()`, start and stop saw (without the kernel's marks). */
  get sampledPeak(): number {
    return this.#sampled
  }

  /** The heap peak seen so far, with V8's own heap statistics folded in. */
  get heapPeak(): number {
    return this.#heapPeak
  }

  /** The best peak available now, and which source produced it. */
  peak(): { peak: number; source: MemoryPeakSource } {
    if (this.#final !== undefined) return this.#final
    let peak = this.#sampled
    let source: MemoryPeakSource = 'sampler'
    const maxRss = process.resourceUsage().maxRSS * 1024
    if (maxRss > this.#maxRssStart && maxRss > peak) {
      peak = maxRss
      source = 'maxrss'
    }
    if (this.#hwmValid) {
      const hwm = Math.max(readProcStatus()?.vmHwm ?? 0, this.#hwmCarry)
      if (hwm >= peak) {
        peak = hwm
        source = 'vmhwm'
      }
    }
    return { peak, source }
  }

  /** Takes the last sample, stops the sampler and returns the final RSS and heap. */
  stop(): { rss: number; heapUsed: number } {
    const usage = process.memoryUsage()
    if (usage.rss > this.#sampled) this.#sampled = usage.rss
    const heap = getHeapStatistics().used_heap_size
    this.#heapPeak = Math.max(this.#heapPeak, usage.heapUsed, heap)
    this.#final = this.peak()
    this.dispose()
    return { rss: usage.rss, heapUsed: usage.heapUsed }
  }

  /** Releases the sampler; the tracker keeps its figures. */
  dispose(): void {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    active.delete(this)
  }
}
