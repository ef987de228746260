import {
  type EventLoopUtilization,
  type IntervalHistogram,
  monitorEventLoopDelay,
  type PerformanceEntry,
  PerformanceObserver,
  constants as perfConstants,
  performance,
} from 'node:perf_hooks'
import { GcPauseTally } from './gcPauses.js'
import type { EventLoopDelayMetrics, GcKind, GcMetrics } from './types.js'

const GC_KINDS: Record<number, GcKind> = {
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
}

/** Event-loop delay, utilization and GC pauses over one profile. @internal */
export class RuntimeMonitor {
  #resolutionMs: number
  #delay: IntervalHistogram | undefined
  #eluStart: EventLoopUtilization
  #elu: number | undefined
  #observer: PerformanceObserver | undefined
  #delayFinal: EventLoopDelayMetrics | undefined
  readonly #gc = new GcPauseTally()
  #stopped = false

  constructor(options: { eventLoopResolutionMs: number; eventLoop: boolean; gc: boolean }) {
    this.#resolutionMs = options.eventLoopResolutionMs
    this.#eluStart = performance.eventLoopUtilization()
    if (options.eventLoop) {
      this.#delay = monitorEventLoopDelay({ resolution: this.#resolutionMs })
      this.#delay.enable()
    }
    if (options.gc) {
      this.#observer = new PerformanceObserver((list) => this.#onGc(list.getEntries()))
      this.#observer.observe({ entryTypes: ['gc'] })
    }
  }

  /** Fraction of the profile's wall time the event loop was busy (0..1). */
  get utilization(): number {
    if (this.#elu !== undefined) return this.#elu
    return performance.eventLoopUtilization(this.#eluStart).utilization
  }

  /** Delay figures in seconds, the timer resolution already subtracted (frozen at stop). */
  get eventLoopDelay(): EventLoopDelayMetrics {
    // A copy: a caller that changes one metrics object does not change the next one.
    return this.#delayFinal === undefined ? this.#readDelay() : { ...this.#delayFinal }
  }

  // Node computes the mean by walking every bucket of its histogram (~0.9 M instructions): read
  // once at stop, not at every later getMetrics() or toJSON().
  #readDelay(): EventLoopDelayMetrics {
    const h = this.#delay
    const resolution = this.#resolutionMs / 1000
    if (h === undefined || h.count === 0) {
      return { count: 0, min: 0, mean: 0, p50: 0, p99: 0, max: 0, resolution }
    }
    const adjust = (ns: number) => Math.max(0, ns / 1e9 - resolution)
    return {
      count: h.count,
      min: adjust(h.min),
      mean: adjust(h.mean),
      p50: adjust(h.percentile(50)),
      p99: adjust(h.percentile(99)),
      max: adjust(h.max),
      resolution,
    }
  }

  /** GC pauses per kind, in seconds. */
  get gc(): GcMetrics {
    return this.#gc.metrics()
  }

  /** Takes the GC entries not yet delivered, freezes the figures and releases every observer. */
  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#elu = performance.eventLoopUtilization(this.#eluStart).utilization
    if (this.#observer !== undefined) {
      this.#onGc(this.#observer.takeRecords())
      this.#observer.disconnect()
      this.#observer = undefined
    }
    this.#delay?.disable()
    this.#delayFinal = this.#readDelay()
  }

  #onGc(entries: PerformanceEntry[]): void {
    if (this.#stopped && this.#observer === undefined) return
    for (const entry of entries) {
      const detail = (entry as { detail?: unknown }).detail as { kind?: number } | undefined
      const kind = GC_KINDS[detail?.kind ?? -1]
      if (kind === undefined) continue
      this.#gc.add(kind, entry.duration / 1000)
    }
  }
}
