import { type ChannelSink, listenEverywhere } from './channels.js'
import { windowCpuPercent } from './cpuPercent.js'
import { type CheckResult, type Criteria, checkMetrics, DEFAULT_CRITERIA } from './criteria.js'
import { type MemoryPeakSource, MemoryPeakTracker } from './memoryPeakTracker.js'
import { ProfileCounters } from './profileCounters.js'
import { ProfilerError, ProfilerErrorCode } from './profilerError.js'
import { renderPrometheus } from './prometheus.js'
import { currentResource } from './resource.js'
import { RuntimeMonitor } from './runtimeMonitor.js'
import type {
  PerformanceMetrics,
  PerformanceMetricsJSON,
  ProfileOptions,
  ProfileResource,
  PrometheusOptions,
} from './types.js'
import { assertDuration, resolveProfileOptions } from './validate.js'

/** Internal key: the channel sink of a profile. @internal */
export const SINK: unique symbol = Symbol('bookgen.profiler.sink')
/** Internal token: a profile whose channel messages are scoped by performanceProfile(). @internal */
export const SCOPED: unique symbol = Symbol('bookgen.profiler.scoped')
/**
 * Internal token: a profile run only so that V8 compiles the profile's code before the first
 * real one (subscribeChannels()); it starts and stops synchronously, so no channel message
 * reaches it, and it leaves the kernel's mark alone.
 * @internal
 */
export const PROBE: unique symbol = Symbol('bookgen.profiler.probe')

interface Final {
  now: number
  rss: number
  heapUsed: number
  cpuSeconds: number
}

/**
 * One running (then stopped) measurement. Create it with {@link startProfile} or
 * {@link performanceProfile}; it starts measuring at once and stops on `stop()` or when a
 * `using` / `await using` block ends. Durations are seconds, memory bytes.
 */
export class Profile implements Disposable, AsyncDisposable {
  #name: string | null
  #resource: ProfileResource = currentResource()
  #start: number
  #startEpoch: number
  #cpuStart: NodeJS.CpuUsage
  #memory: MemoryPeakTracker
  #runtime: RuntimeMonitor
  #counts = new ProfileCounters()
  #pending: number[] = []
  #final: Final | undefined
  #unlisten: (() => void) | undefined
  #gc: boolean

  /** @internal Use {@link startProfile} or {@link performanceProfile}. */
  constructor(options: ProfileOptions = {}, scope?: typeof SCOPED | typeof PROBE) {
    const o = resolveProfileOptions(options)
    this.#name = o.name
    this.#gc = o.gc
    this.#memory = new MemoryPeakTracker(o.sampleIntervalMs, o.heapPeak === 'gc', scope === PROBE)
    // V8's GC profiler, when asked for and available, gives the pauses too: no GC observer then.
    this.#runtime = new RuntimeMonitor({ ...o, gc: o.gc && !this.#memory.heapPeakExact })
    this.#cpuStart = process.cpuUsage()
    this.#start = performance.now()
    this.#startEpoch = (performance.timeOrigin + this.#start) / 1000
    if (o.channels && scope !== SCOPED) this.#unlisten = listenEverywhere(this[SINK])
  }

  /** @internal Receives `bookgen:*` channel messages. */
  get [SINK](): ChannelSink {
    return this.#counts.sink
  }

  /** True until `stop()`. */
  get running(): boolean {
    return this.#final === undefined
  }

  /**
   * Records one DB query that took `seconds`.
   * @throws {ProfilerError} INVALID_DURATION for a negative, NaN or infinite duration;
   *   ALREADY_STOPPED after `stop()`.
   */
  recordDbQuery(seconds: number): void {
    assertDuration(seconds)
    this.#assertRunning('recordDbQuery')
    this.#counts.queries.record(seconds)
  }

  /**
   * Starts timing one DB query. Call the returned function (or `endDbQuery()`) when it ends;
   * both record the duration and return it in seconds.
   */
  startDbQuery(): () => number {
    this.#assertRunning('startDbQuery')
    const started = performance.now()
    this.#pending.push(started)
    return () => {
      const at = this.#pending.lastIndexOf(started)
      if (at === -1) {
        throw new ProfilerError(
          ProfilerErrorCode.NO_PENDING_QUERY,
          'this query was already ended (its end function or endDbQuery() ran before)',
        )
      }
      this.#pending.splice(at, 1)
      return this.#endQuery(started)
    }
  }

  /**
   * Ends the most recently started query that is still open and records it.
   * Returns its duration in seconds.
   * @throws {ProfilerError} NO_PENDING_QUERY when no query is open.
   */
  endDbQuery(): number {
    const started = this.#pending.pop()
    if (started === undefined) {
      throw new ProfilerError(
        ProfilerErrorCode.NO_PENDING_QUERY,
        'endDbQuery() was called with no open query (call startDbQuery() first)',
      )
    }
    return this.#endQuery(started)
  }

  /** Counts one cache hit. */
  recordCacheHit(): void {
    this.#assertRunning('recordCacheHit')
    this.#counts.hits++
  }

  /** Counts one cache miss. */
  recordCacheMiss(): void {
    this.#assertRunning('recordCacheMiss')
    this.#counts.misses++
  }

  /**
   * Samples RSS and heap now (the original's `update_memory_peak()`), and returns the peak so
   * far in bytes. Not needed to catch spikes where the kernel high-water mark is available.
   */
  updateMemoryPeak(): number {
    this.#assertRunning('updateMemoryPeak')
    this.#memory.sample()
    return this.#memory.peak().peak
  }

  /**
   * Stops measuring, releases every timer, observer and subscription, and returns the metrics.
   * @throws {ProfilerError} ALREADY_STOPPED when called twice.
   */
  stop(): PerformanceMetrics {
    this.#assertRunning('stop')
    const now = performance.now()
    const cpu = process.cpuUsage(this.#cpuStart)
    this.#unlisten?.()
    this.#counts.close()
    this.#runtime.stop()
    const end = this.#memory.stop()
    this.#final = {
      now,
      rss: end.rss,
      heapUsed: end.heapUsed,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    }
    return this.getMetrics()
  }

  /** A snapshot of every metric (live figures while running). */
  getMetrics(): PerformanceMetrics {
    const f = this.#final ?? this.#live()
    const { peak, source, handovers } = this.#memory.peak()
    const memoryStart = this.#memory.start
    const memoryPeak = Math.max(peak, memoryStart, f.rss)
    const c = this.#counts
    const duration = Math.max(0, (f.now - this.#start) / 1000)
    return {
      memoryStart,
      memoryEnd: f.rss,
      memoryPeak,
      memoryIncrease: f.rss - memoryStart,
      cacheHits: c.hits,
      cacheMisses: c.misses,
      cacheHitRatio: c.hitRatio,
      dbQueryAvg: c.queries.mean,
      cpuPercent: windowCpuPercent(f.cpuSeconds, duration),
      cpuSeconds: f.cpuSeconds,
      duration,
      startTime: this.#startEpoch,
      endTime: this.#startEpoch + duration,
      name: this.#name,
      running: this.#final === undefined,
      memoryPeakSource: memoryPeak > peak ? 'sampler' : source,
      memoryPeakHandovers: handovers,
      heapStart: this.#memory.heapStart,
      heapEnd: f.heapUsed,
      heapPeak: Math.max(this.#memory.heapPeak, f.heapUsed),
      heapPeakSource: this.#memory.heapPeakExact ? 'gc' : 'sampler',
      dbQueryCount: c.queries.count,
      dbQueries: c.queryMetrics(),
      cacheSets: c.sets,
      cacheDeletes: c.deletes,
      cacheErrors: c.cacheErrors,
      tasks: c.taskMetrics(),
      eventLoopDelay: this.#runtime.eventLoopDelay,
      eventLoopUtilization: this.#runtime.utilization,
      gc: this.#memory.heapPeakExact && this.#gc ? this.#memory.gcPauses : this.#runtime.gc,
    }
  }

  /**
   * The metrics as a plain, versioned object (`version: 2`) for `JSON.stringify`: with the query
   * histogram's sparse buckets and the resource (host, pid, thread, package version), so that
   * `mergeProfiles()` and `renderPrometheus()` can combine profiles of many threads and hosts.
   */
  toJSON(): PerformanceMetricsJSON {
    const m = this.getMetrics()
    return {
      version: 2,
      resource: { ...this.#resource },
      ...m,
      dbQueries: { ...m.dbQueries, histogram: this.#counts.queries.toBuckets() },
    }
  }

  /** The metrics in the Prometheus text exposition format (0.0.4); see `renderPrometheus()`. */
  toPrometheus(options?: PrometheusOptions): string {
    return renderPrometheus([this], options)
  }

  /**
   * Compares the metrics with `criteria` (by default the original targets, {@link DEFAULT_CRITERIA}).
   * @throws {ProfilerError} UNKNOWN_CRITERION / INVALID_CRITERION for bad criteria.
   */
  check(criteria: Criteria = DEFAULT_CRITERIA): CheckResult {
    return checkMetrics(this.getMetrics(), criteria)
  }

  /**
   * Like `check()`, but throws one error listing every violation.
   * @throws {ProfilerError} CRITERIA_NOT_MET with `violations`.
   */
  assert(criteria: Criteria = DEFAULT_CRITERIA): void {
    const result = this.check(criteria)
    if (result.ok) return
    const name = this.#name === null ? 'profile' : `profile "${this.#name}"`
    throw new ProfilerError(
      ProfilerErrorCode.CRITERIA_NOT_MET,
      `${name} violated ${result.violations.length} criteria: ${result.violations.map((v) => v.message).join('; ')}`,
      { violations: result.violations },
    )
  }

  /** Stops the profile if it still runs (for `using`). */
  [Symbol.dispose](): void {
    if (this.running) this.stop()
  }

  /** Stops the profile if it still runs (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.running) this.stop()
  }

  // ---- Compatibility block: the original PerformanceMonitor's field names, read directly. ----
  /** RSS at start, bytes. */
  get memoryStart(): number {
    return this.#memory.start
  }
  /** RSS at stop (now while running), bytes. */
  get memoryEnd(): number {
    return this.getMetrics().memoryEnd
  }
  /** Largest RSS during the profile, bytes. */
  get memoryPeak(): number {
    return this.getMetrics().memoryPeak
  }
  /** How `memoryPeak` was obtained. */
  get memoryPeakSource(): MemoryPeakSource {
    return this.getMetrics().memoryPeakSource
  }
  /** memoryEnd − memoryStart, bytes. */
  get memoryIncrease(): number {
    return this.getMetrics().memoryIncrease
  }
  /** Cache hits. */
  get cacheHits(): number {
    return this.#counts.hits
  }
  /** Cache misses. */
  get cacheMisses(): number {
    return this.#counts.misses
  }
  /** hits / (hits + misses), 0 without lookups. */
  get cacheHitRatio(): number {
    return this.#counts.hitRatio
  }
  /** Mean DB query duration, seconds. */
  get dbQueryAvg(): number {
    return this.#counts.queries.mean
  }
  /** Number of DB queries recorded. */
  get dbQueryCount(): number {
    return this.#counts.queries.count
  }
  /** Process CPU over wall time, percent. */
  get cpuPercent(): number | null {
    return this.getMetrics().cpuPercent
  }
  /** Wall time, seconds. */
  get duration(): number {
    return ((this.#final?.now ?? performance.now()) - this.#start) / 1000
  }
  /** Unix epoch seconds at start. */
  get startTime(): number {
    return this.#startEpoch
  }
  /** Unix epoch seconds at stop (now while running). */
  get endTime(): number {
    return this.#startEpoch + this.duration
  }

  #endQuery(started: number): number {
    const seconds = Math.max(0, (performance.now() - started) / 1000)
    this.#assertRunning('endDbQuery')
    this.#counts.queries.record(seconds)
    return seconds
  }

  #assertRunning(method: string): void {
    if (this.#final !== undefined) {
      throw new ProfilerError(
        ProfilerErrorCode.ALREADY_STOPPED,
        `${method}() was called on a stopped profile${this.#name === null ? '' : ` ("${this.#name}")`}`,
      )
    }
  }

  #live(): Final {
    const now = performance.now()
    const cpu = process.cpuUsage(this.#cpuStart)
    const usage = process.memoryUsage()
    return {
      now,
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    }
  }
}

/**
 * Starts a profile now. It records `bookgen:*` channel messages published anywhere in the
 * process until it stops (use {@link performanceProfile} to keep concurrent profiles apart).
 *
 * ```ts no-run
 * using prof = startProfile()
 * ```
 */
export function startProfile(options?: ProfileOptions): Profile {
  return new Profile(options)
}
