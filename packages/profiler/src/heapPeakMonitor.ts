import { GCProfiler, getHeapStatistics } from 'node:v8'
import { GcPauseTally } from './gcPauses.js'
import type { GcKind, GcMetrics } from './types.js'

/** Restart interval of the GC profiler, which keeps every GC's statistics until stopped. */
const ROLL_MS = 1000

/**
 * The largest V8 heap used of this thread over a window, spikes included. Between two
 * collections the heap only grows, so its maximum is reached right before some collection or at
 * the window's end: V8's GC profiler reports the heap before every collection, and the end is
 * read directly. The same records give the GC pauses per kind, so that no second GC observer
 * (a PerformanceEntry per collection, delivered from an immediate) is needed. @internal
 */
export class HeapPeakMonitor {
  readonly start: number
  #peak: number
  #profiler: GCProfiler | undefined
  #timer: NodeJS.Timeout | undefined
  readonly #gc = new GcPauseTally()

  /**
   * `heapNow`: the heap used now, bytes. Without `gcProfiler`, V8's GC profiler stays off: only
   * samples and the ends count.
   */
  constructor(heapNow: number, gcProfiler = false) {
    this.#profiler = gcProfiler ? startGcProfiler() : undefined
    this.exact = this.#profiler !== undefined
    this.start = heapNow
    this.#peak = this.start
    if (this.#profiler !== undefined) {
      this.#timer = setInterval(() => this.#roll(), ROLL_MS)
      this.#timer.unref()
    }
  }

  /** True when V8's GC profiler sees every collection (otherwise only samples count). */
  readonly exact: boolean

  /** Folds one heap-used figure (bytes) taken now into the peak. */
  observe(heapUsed: number): void {
    if (heapUsed > this.#peak) this.#peak = heapUsed
  }

  /**
   * The peak so far, bytes, the collections up to now and the heap now (`heapNow`, read here
   * when not given) included.
   */
  peak(heapNow = getHeapStatistics().used_heap_size): number {
    this.#roll()
    this.observe(heapNow)
    return this.#peak
  }

  /** GC pauses per kind, seconds, from the GC profiler's records (all zero without it). */
  gcPauses(): GcMetrics {
    this.#roll()
    return this.#gc.metrics()
  }

  /** Folds the last collections and `heapNow` in and releases the profiler and its timer. */
  stop(heapNow: number): number {
    const peak = this.peak(heapNow)
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    if (this.#profiler !== undefined) this.#fold(this.#profiler.stop())
    this.#profiler = undefined
    return peak
  }

  #roll(): void {
    const old = this.#profiler
    if (old === undefined) return
    // The new profiler starts before the old one stops: no collection falls between the two.
    this.#profiler = startGcProfiler()
    this.#fold(old.stop())
  }

  #fold(result: unknown): void {
    const statistics = (result as GcProfilerResult | undefined)?.statistics
    if (statistics === undefined) return
    for (const s of statistics) {
      this.observe(s.beforeGC?.heapStatistics?.usedHeapSize ?? 0)
      const kind = GC_KINDS[s.gcType ?? '']
      if (kind === undefined) continue
      this.#gc.add(kind, (s.cost ?? 0) / 1e6)
    }
  }
}

// Node's result uses camelCase names, unlike v8.getHeapStatistics(); @types/node reuses the latter.
// `cost` is the pause in microseconds, `gcType` V8's GC type name.
interface GcProfilerResult {
  statistics?: {
    gcType?: string
    cost?: number
    beforeGC?: { heapStatistics?: { usedHeapSize?: number } }
  }[]
}

// The kinds of perf_hooks' GC entries, by the GC profiler's type names.
const GC_KINDS: Record<string, GcKind> = {
  Scavenge: 'minor',
  MinorMarkCompact: 'minor',
  MinorMarkSweep: 'minor',
  MarkSweepCompact: 'major',
  IncrementalMarking: 'incremental',
  ProcessWeakCallbacks: 'weakcb',
}

function startGcProfiler(): GCProfiler | undefined {
  if (typeof GCProfiler !== 'function') return undefined
  const profiler = new GCProfiler()
  profiler.start()
  return profiler
}
