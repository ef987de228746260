import type { HistogramBuckets } from './logLinearHistogram.js'
import type { MemoryPeakSource } from './memoryPeakTracker.js'

/** A GC kind as reported by `PerformanceObserver` entries of type `gc`. */
export type GcKind = 'minor' | 'major' | 'incremental' | 'weakcb'

/** Pauses of one GC kind. Seconds. */
export interface GcPauseStats {
  /** Number of pauses. */
  count: number
  /** Sum of pause durations, seconds. */
  total: number
  /** Longest pause, seconds. */
  max: number
}

/** GC pauses observed during a profile. Seconds. */
export interface GcMetrics {
  /** Number of pauses, every kind. */
  count: number
  /** Sum of pause durations, seconds. */
  total: number
  /** Longest pause, seconds. */
  max: number
  /** The same figures per kind. */
  byKind: Record<GcKind, GcPauseStats>
}

/**
 * Event-loop delay (how late timers ran) during a profile, seconds, with the sampling timer's
 * resolution already subtracted. All 0 when the profile was shorter than one sampling interval.
 */
export interface EventLoopDelayMetrics {
  /** Number of samples. */
  count: number
  min: number
  mean: number
  p50: number
  p99: number
  max: number
  /** The sampling resolution that was subtracted, seconds. */
  resolution: number
}

/** Distribution of DB query durations. Seconds. */
export interface QueryMetrics {
  /** Queries recorded (manually or from `bookgen:db:query`). */
  count: number
  /** Queries whose channel message carried an `error`. */
  errors: number
  /** Total time, seconds. */
  sum: number
  /** Mean, seconds (same as `dbQueryAvg`); 0 when no query was recorded. */
  avg: number
  min: number
  p50: number
  p95: number
  p99: number
  /** Exact longest query, seconds. */
  max: number
}

/** Tasks seen on the `bookgen:parallel:task` channel. */
export interface TaskMetrics {
  /** Tasks finished. */
  count: number
  /** Tasks with `success: false`. */
  failed: number
  /** Sum of task durations, seconds. */
  totalDuration: number
}

/**
 * Everything a profile measured. Durations are in seconds, memory in bytes, times in Unix epoch
 * seconds, ratios between 0 and 1 (except `cpuPercent`, a percentage).
 * The first twelve fields are those of the original Python `PerformanceMetrics`.
 */
export interface PerformanceMetrics {
  /** RSS when the profile started, bytes. */
  memoryStart: number
  /** RSS when the profile stopped (now, while it runs), bytes. */
  memoryEnd: number
  /** Largest RSS during the profile, bytes; see `memoryPeakSource`. */
  memoryPeak: number
  /** memoryEnd − memoryStart, bytes (negative when memory was returned). */
  memoryIncrease: number
  /** Cache hits (manual and from `bookgen:cache`). */
  cacheHits: number
  /** Cache misses (manual and from `bookgen:cache`). */
  cacheMisses: number
  /** hits / (hits + misses); 0 when there was no lookup. */
  cacheHitRatio: number
  /** Mean DB query duration, seconds; 0 when there was no query. */
  dbQueryAvg: number
  /**
   * Process CPU time (user + system) over wall time, percent: within 0..100 × the cores Node may
   * use (it exceeds 100 with busy threads); null for a profile shorter than 100 ms, where the
   * kernel's tick-based CPU accounting makes the ratio mostly rounding (`cpuSeconds` is the raw
   * total either way).
   */
  cpuPercent: number | null
  /** Wall time, seconds. */
  duration: number
  /** Unix epoch seconds when the profile started. */
  startTime: number
  /** Unix epoch seconds when it stopped (now, while it runs). */
  endTime: number

  /**
   * Process CPU time (user + system) during the profile, seconds. The whole process's, also in a
   * worker thread: merged profiles of one process count it once.
   */
  cpuSeconds: number

  /** The profile's name, if one was given. */
  name: string | null
  /** True until `stop()`. */
  running: boolean
  /** Which method produced `memoryPeak`. */
  memoryPeakSource: MemoryPeakSource
  /**
   * Times another profile (in any thread, in any copy of this package) reset the kernel's
   * high-water mark during this one and handed the erased mark over; 0 with no such reset.
   */
  memoryPeakHandovers: number
  /** V8 heap used at start, bytes. */
  heapStart: number
  /** V8 heap used at stop (now, while running), bytes. */
  heapEnd: number
  /**
   * Largest V8 heap used of the profiling thread, bytes: with `heapPeakSource: 'gc'` the heap
   * right before every collection of the window and at its ends, so synchronous spikes count
   * (while the profile runs, the collections up to the GC profiler's last restart, at most a
   * minute ago); with `'sampler'` the largest heap the sampler, `updateMemoryPeak()`, start and
   * stop saw.
   */
  heapPeak: number
  /**
   * `gc` where V8's GC profiler reported every collection (option `heapPeak: 'gc'`), `sampler`
   * where only samples did.
   */
  heapPeakSource: 'gc' | 'sampler'
  /** Number of DB queries (same as `dbQueries.count`). */
  dbQueryCount: number
  /** Distribution of DB query durations. */
  dbQueries: QueryMetrics
  /** `set` operations seen on `bookgen:cache`. */
  cacheSets: number
  /** `delete` operations seen on `bookgen:cache`. */
  cacheDeletes: number
  /** `error` operations seen on `bookgen:cache`. */
  cacheErrors: number
  /** Tasks seen on `bookgen:parallel:task`. */
  tasks: TaskMetrics
  /** Event-loop delay, seconds. */
  eventLoopDelay: EventLoopDelayMetrics
  /** Fraction of the wall time the event loop was busy, 0..1. */
  eventLoopUtilization: number
  /**
   * GC pauses, seconds: from V8's GC profiler, or from a GC observer with `heapPeak: 'sampler'`; all
   * zero with `gc: false`.
   */
  gc: GcMetrics
}

/** Where a profile ran: enough to tell the profiles of a fleet apart and merge them. */
export interface ProfileResource {
  /** `os.hostname()`. */
  host: string
  /** Process id. */
  pid: number
  /** `worker_threads.threadId`: 0 on the main thread. */
  threadId: number
  /** Version of `@bookgen/profiler` that measured. */
  packageVersion: string
}

/** Query durations with the histogram they were computed from, so that profiles merge. */
export interface QueryMetricsJSON extends QueryMetrics {
  /** The whole distribution, seconds: sparse log-linear buckets (see `HistogramBuckets`). */
  histogram: HistogramBuckets
}

/**
 * `toJSON()` output (schema version 2): the metrics, the sparse buckets of the query histogram and
 * the resource that measured; `mergeProfiles()` and `renderPrometheus()` read it back.
 */
export interface PerformanceMetricsJSON extends PerformanceMetrics {
  /** Schema version of this shape; bumped on any incompatible change. */
  version: 2
  /** Where the profile ran. */
  resource: ProfileResource
  /** Query durations, with their histogram. */
  dbQueries: QueryMetricsJSON
}

/**
 * What `mergeProfiles()` returns. Counts, sums, minima and maxima are exact; quantiles come from
 * the merged histogram (within its 1/32 relative error). Process-wide figures (CPU time, RSS) are
 * counted once per process: overlapping profiles of one process (e.g. a worker thread's inside
 * the main thread's) contribute their largest figure, not their sum.
 */
export interface MergedProfileJSON {
  /** Schema version, as in `PerformanceMetricsJSON`. */
  version: 2
  /** Number of profiles merged. */
  profiles: number
  /** Number of distinct processes (host and pid) among them. */
  processes: number
  /** Each merged profile's resource, in input order. */
  resources: ProfileResource[]
  /** Earliest start, Unix epoch seconds. */
  startTime: number
  /** Latest end, Unix epoch seconds. */
  endTime: number
  /** endTime − startTime, seconds. */
  duration: number
  /** Largest RSS peak of any process, bytes. */
  memoryPeak: number
  /** Largest V8 heap peak of any thread, bytes. */
  heapPeak: number
  /** Process CPU time, seconds, each process counted once per overlapping group of windows. */
  cpuSeconds: number
  cacheHits: number
  cacheMisses: number
  /** hits / (hits + misses) over every profile; 0 without lookups. */
  cacheHitRatio: number
  cacheSets: number
  cacheDeletes: number
  cacheErrors: number
  /** Mean query duration over every profile, seconds. */
  dbQueryAvg: number
  dbQueryCount: number
  /** Query durations over every profile, with the merged histogram. */
  dbQueries: QueryMetricsJSON
  tasks: TaskMetrics
  /** GC pauses summed over every profile (each thread has its own collector). */
  gc: GcMetrics
}

/** Options of `startProfile()` and `performanceProfile()`. */
export interface ProfileOptions {
  /**
   * A name for reports (`name` in metrics, `profile` label in Prometheus output).
   * @default null
   */
  name?: string | null
  /**
   * Interval of the RSS / heap sampler, milliseconds; 0 disables it. The kernel high-water mark
   * catches spikes regardless where it is available.
   * @default 100
   */
  sampleIntervalMs?: number
  /**
   * Resolution of the event-loop delay monitor, milliseconds (≥ 1).
   * @default 10
   */
  eventLoopResolutionMs?: number
  /**
   * Measure event-loop delay.
   * @default true
   */
  eventLoop?: boolean
  /**
   * Record GC pauses per kind. They come from the GC profiler's records with `heapPeak: 'gc'`,
   * which are complete at any `stop()` (while running: up to the GC profiler's last restart),
   * or, with the default `heapPeak: 'sampler'`, from a
   * GC `PerformanceObserver`, whose entries Node delivers one event-loop turn late
   * (`performanceProfile()` waits that turn before it stops; a synchronous `stop()` right after
   * synchronous work misses that work's last pauses).
   * @default true
   */
  gc?: boolean
  /**
   * How `heapPeak` is obtained (`heapPeakSource` in the metrics says how it was):
   * - `'sampler'` (the default): the heap at the sampler's ticks, `updateMemoryPeak()`, start and
   *   stop, with the GC pauses from a GC `PerformanceObserver` (~0.25 M instructions a
   *   collection while the profile runs, nothing after it). Approximate: a spike built and freed
   *   between two of those readings (without an `await`) is missed here, though `memoryPeak`
   *   still sees it through the kernel's high-water mark.
   * - `'gc'`: exact. V8's GC profiler (`v8.GCProfiler`) reports the heap right before every
   *   collection, so spikes built and freed without an `await` count too, and gives the GC
   *   pauses. It costs about 0.6 M instructions per collection (V8 writes a JSON record of the
   *   heap before and after each one, Node parses them), and it outlives the profile: Node's
   *   `GCProfiler.stop()` leaves the profiler's GC callbacks running until V8 collects its
   *   object, at the next full collection once it has lived through two scavenges, so each such
   *   profile leaves one profiler's cost per collection until then (see bench/RESULTS.md). Each
   *   profile runs one GC profiler, restarted once a minute (its records take ~2.9 KB a
   *   collection until read) and not while a stopped one lingers (for up to five minutes); a
   *   running profile's figures include the collections up to that restart, a stopped one's all
   *   of them. Where the GC profiler is missing, the sampler is used.
   * @default 'sampler'
   */
  heapPeak?: 'gc' | 'sampler'
  /**
   * Record `bookgen:cache`, `bookgen:db:query` and `bookgen:parallel:task` messages automatically.
   * @default true
   */
  channels?: boolean
}

/** Options of `performanceProfile()`: those of `startProfile()` and `isolate`. */
export interface PerformanceProfileOptions extends ProfileOptions {
  /**
   * Record only the channel messages published from `fn`'s own async context, so that
   * concurrent profiles keep their own counts; by default a profile records every message in
   * the process, like `startProfile()`. Isolation uses AsyncLocalStorage, whose promise hooks
   * make every `await` of the process slower (about 0.1–0.2 µs each on Node 20) — and on Node 20
   * they stay slower after the profile ends, because V8 does not switch its promise-hook path
   * back. Opt in where concurrent profiles must not mix.
   * @default false
   */
  isolate?: boolean
  /**
   * Path of a `.cpuprofile` to write: V8's sampling CPU profiler (node:inspector) runs on this
   * thread while `fn` runs, and its profile opens in Chrome DevTools, speedscope or VS Code. The
   * file is written before the promise resolves (also when `fn` throws); null writes none.
   * @default null
   */
  cpuProfile?: string | null
}

/** Options of `toPrometheus()`. */
export interface PrometheusOptions {
  /**
   * Prefix of every metric name.
   * @default 'bookgen_profile_'
   */
  prefix?: string
  /**
   * Constant labels added to every sample. Names must be valid Prometheus label names and not
   * one the output uses itself (`profile`, `le`, `quantile`, `op`, `outcome`, `kind`, `source`);
   * values must be strings.
   * @default {}
   */
  labels?: Record<string, string>
  /**
   * Upper bounds (`le`), seconds, of the `db_query_duration_seconds` histogram, ascending. Counts
   * are exact at bounds that are bucket edges of the profile's histogram: every power of two and
   * every 1.5 × a power of two; other bounds leave out the one bucket they fall inside.
   * @default powers of two from 2^-14 (61 µs) to 2^5 (32 s)
   */
  buckets?: readonly number[]
}
