import { GCProfiler, getHeapStatistics } from 'node:v8'
import { GcPauseTally } from './gcPauses.js'
import type { GcKind, GcMetrics } from './types.js'

// V8's GC profiler keeps every collection's record (~2.9 KB of JSON) until it is stopped, so a
// long profile restarts it now and then. But Node's `GCProfiler.stop()` leaves the profiler's GC
// callbacks in place: they are removed only when V8 collects the profiler's object, and until
// then they write their JSON record at every collection, for nobody (~0.6 M instructions, ~60 µs
// each, measured on Node 20; the same code in later versions). An object that died young goes at
// the next scavenge; one that lived through two scavenges (any profile of more than a few
// milliseconds of allocation) waits for a full mark-compact, which a steady service may run
// rarely. Restarting every second, as this code did before, left one such lingering profiler per
// second of profiling, each making every later collection dearer. Now: one profiler per window,
// restarted only every ROLL_MS and only while no stopped one is known to linger (or after
// FORCE_ROLL_MS regardless, to bound the record's memory); live reads do not restart it.

/** Restart interval of the GC profiler while the window runs. */
const ROLL_MS = 60_000
/** A restart waits while a stopped profiler lingers, but not beyond this age of the current one. */
const FORCE_ROLL_MS = 300_000

// Stopped profilers whose objects V8 has not collected yet (an upper bound: a FinalizationRegistry
// target survives scavenges, so a profiler that died young is counted until a full collection).
let lingering = 0
let started = 0
const reclaimed = new FinalizationRegistry<undefined>(() => {
  lingering--
})

/** The restart intervals, milliseconds (tests shorten them). @internal */
export interface RollIntervals {
  rollMs?: number
  forceRollMs?: number
}

/** GC profilers started and stopped ones not yet collected, in this copy and thread. @internal */
export function gcProfilerCounts(): { started: number; lingering: number } {
  return { started, lingering }
}

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
  // When the current GC profiler started (performance.now()).
  #since: number
  readonly #forceRollMs: number
  readonly #gc = new GcPauseTally()

  /**
   * `heapNow`: the heap used now, bytes. Without `gcProfiler`, V8's GC profiler stays off: only
   * samples and the ends count.
   */
  constructor(
    heapNow: number,
    gcProfiler = false,
    { rollMs = ROLL_MS, forceRollMs = FORCE_ROLL_MS }: RollIntervals = {},
  ) {
    this.#forceRollMs = forceRollMs
    this.#profiler = gcProfiler ? startGcProfiler() : undefined
    this.exact = this.#profiler !== undefined
    this.start = heapNow
    this.#peak = this.start
    this.#since = performance.now()
    if (this.#profiler !== undefined) {
      this.#timer = setInterval(() => this.#timedRoll(), rollMs)
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
   * The peak so far, bytes, with the heap now (`heapNow`, read here when not given). While the
   * window runs, the collections since the GC profiler's last restart (at most a minute ago, see
   * ROLL_MS) are not in it yet: reading does not restart the profiler (each restart leaves a
   * stopped one behind for a while); after `stop()` every collection is.
   */
  peak(heapNow = getHeapStatistics().used_heap_size): number {
    this.observe(heapNow)
    return this.#peak
  }

  /**
   * GC pauses per kind, seconds, from the GC profiler's records (all zero without it): up to its
   * last restart while the window runs, every one after `stop()`.
   */
  gcPauses(): GcMetrics {
    return this.#gc.metrics()
  }

  /** Folds the last collections and `heapNow` in and releases the profiler and its timer. */
  stop(heapNow: number): number {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    if (this.#profiler !== undefined) this.#fold(retire(this.#profiler))
    this.#profiler = undefined
    return this.peak(heapNow)
  }

  #timedRoll(): void {
    if (lingering > 0 && performance.now() - this.#since < this.#forceRollMs) return
    const old = this.#profiler
    if (old === undefined) return
    // The new profiler starts before the old one stops: no collection falls between the two.
    this.#profiler = startGcProfiler()
    this.#since = performance.now()
    this.#fold(retire(old))
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
  started++
  return profiler
}

/** Stops `profiler`, returns its records and counts it as lingering until V8 collects it. */
function retire(profiler: GCProfiler): unknown {
  const result = profiler.stop()
  lingering++
  reclaimed.register(profiler, undefined)
  return result
}
