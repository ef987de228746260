import { HeapPeakMonitor } from './heapPeakMonitor.js'
import { HwmHandover } from './hwmHandover.js'
import type { GcMetrics } from './types.js'

/**
 * How a memory peak was obtained:
 * - `vmhwm`: the kernel's RSS high-water mark (/proc/self/status VmHWM), reset when the profile
 *   started; a reset by any other profile during the window (in any thread, in any copy of this
 *   package) hands the mark it erases over to this one first, so it sees every spike.
 * - `maxrss`: `process.resourceUsage().maxRSS`, which only counts when it rose during the profile
 *   (it is the process-wide maximum); sees every spike that set a new record.
 * - `sampler`: the largest RSS seen by the periodic sampler, `updateMemoryPeak()`, start and stop;
 *   can miss spikes shorter than the sampling interval.
 */
export type MemoryPeakSource = 'vmhwm' | 'maxrss' | 'sampler'

/** A memory peak and how it was obtained. @internal */
export interface PeakReading {
  peak: number
  source: MemoryPeakSource
  /** Resets of the kernel mark by other profiles whose marks were handed over to this one. */
  handovers: number
}

/** Tracks one profile's RSS and heap peak from every source available. @internal */
export class MemoryPeakTracker {
  readonly start: number
  readonly heapStart: number
  #sampled: number
  #hwm: HwmHandover
  #heap: HeapPeakMonitor
  #maxRssStart: number
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  #final: PeakReading | undefined
  #heapFinal: number | undefined
  #gcFinal: GcMetrics | undefined

  /**
   * `gcProfiler`: read the heap before every collection from V8's GC profiler (`heapPeak: 'gc'`).
   * `probe`: leave the kernel's high-water mark alone (a profile run only to prepare the code).
   */
  constructor(sampleIntervalMs: number, gcProfiler = false, probe = false) {
    this.#hwm = new HwmHandover(probe)
    // maxRSS is only a fallback, where the kernel mark could not be reset for this window.
    this.#maxRssStart = this.#hwm.valid ? 0 : process.resourceUsage().maxRSS * 1024
    const usage = process.memoryUsage()
    this.#heap = new HeapPeakMonitor(usage.heapUsed, gcProfiler)
    this.start = usage.rss
    this.heapStart = this.#heap.start
    this.#sampled = usage.rss
    if (sampleIntervalMs > 0) {
      this.#timer = setInterval(() => this.sample(), sampleIntervalMs)
      this.#timer.unref()
    }
  }

  /** Takes one RSS and heap sample now; returns the RSS. */
  sample(): number {
    const usage = process.memoryUsage()
    if (usage.rss > this.#sampled) this.#sampled = usage.rss
    this.#heap.observe(usage.heapUsed)
    return usage.rss
  }

  /** The largest RSS the sampler, `sample()`, start and stop saw (without the kernel's marks). */
  get sampledPeak(): number {
    return this.#sampled
  }

  /**
   * The largest V8 heap used of this thread, bytes: every collection's heap before it ran when
   * V8's GC profiler runs (so synchronous spikes count), samples otherwise.
   */
  get heapPeak(): number {
    return this.#heapFinal ?? this.#heap.peak()
  }

  /** GC pauses per kind from V8's GC profiler (frozen at stop); only when `heapPeakExact`. */
  get gcPauses(): GcMetrics {
    return this.#gcFinal ?? this.#heap.gcPauses()
  }

  /** True when `heapPeak` sees every collection, not only samples. */
  get heapPeakExact(): boolean {
    return this.#heap.exact
  }

  /** The best peak available now, and which source produced it. */
  peak(): PeakReading {
    if (this.#final !== undefined) return this.#final
    let peak = this.#sampled
    let source: MemoryPeakSource = 'sampler'
    const hwm = this.#hwm.read()
    if (hwm === null) {
      const maxRss = process.resourceUsage().maxRSS * 1024
      if (maxRss > this.#maxRssStart && maxRss > peak) {
        peak = maxRss
        source = 'maxrss'
      }
    } else if (hwm >= peak) {
      peak = hwm
      source = 'vmhwm'
    }
    return { peak, source, handovers: this.#hwm.handovers }
  }

  /** Takes the last sample, stops the sampler and returns the final RSS and heap. */
  stop(): { rss: number; heapUsed: number } {
    const usage = process.memoryUsage()
    if (usage.rss > this.#sampled) this.#sampled = usage.rss
    this.#final = this.peak()
    this.#dispose(usage.heapUsed)
    return { rss: usage.rss, heapUsed: usage.heapUsed }
  }

  /** Releases the sampler, the GC profiler and the handover channel; the figures stay. */
  #dispose(heapNow: number): void {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#heapFinal = this.#heap.stop(heapNow)
    this.#gcFinal = this.#heap.gcPauses()
    this.#hwm.close()
  }
}
