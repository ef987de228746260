import type { Attributes, Counter, Gauge, Histogram, Meter } from '@opentelemetry/api'
import { LogLinearHistogram } from './logLinearHistogram.js'
import type { Profile } from './profile.js'
import { profileJsons } from './profileJsons.js'
import { ProfilerError, ProfilerErrorCode } from './profilerError.js'
import type { PerformanceMetricsJSON } from './types.js'

/** Options of {@link recordProfile}. */
export interface OtelRecordOptions {
  /**
   * Prefix of every instrument name.
   * @default 'bookgen.profile'
   */
  prefix?: string
  /**
   * Attributes added to every data point, next to the profile's resource attributes.
   * @default {}
   */
  attributes?: Attributes
}

interface Instruments {
  queries: Histogram
  queryErrors: Counter
  cacheOps: Counter
  tasks: Counter
  cpu: Counter
  gcPauses: Counter
  gcTime: Counter
  memoryPeak: Gauge
  memoryStart: Gauge
  memoryEnd: Gauge
  heapPeak: Gauge
  duration: Gauge
  utilization: Gauge
}

const DEFAULTS = { prefix: 'bookgen.profile', attributes: {} } as const
const PREFIX = /^[a-zA-Z][a-zA-Z0-9_.\-/]*$/
const cache = new WeakMap<Meter, Map<string, Instruments>>()

/**
 * Where a profile ran, as OpenTelemetry resource attributes (semantic conventions): `host.name`,
 * `process.pid`, `thread.id`, and `bookgen.profiler.version`; with `bookgen.profile.name` when the
 * profile has a name.
 */
export function profileAttributes(profile: Profile | PerformanceMetricsJSON): Attributes {
  const [json] = profileJsons([profile], 'profile')
  const r = json!.resource
  const attributes: Attributes = {
    'host.name': r.host,
    'process.pid': r.pid,
    'thread.id': r.threadId,
    'bookgen.profiler.version': r.packageVersion,
  }
  if (json!.name !== null) attributes['bookgen.profile.name'] = json!.name
  return attributes
}

/**
 * Records one stopped profile (or its `toJSON()`) through an OpenTelemetry `Meter`: query
 * durations into a histogram (seconds; configure the SDK's view for exponential histograms),
 * counters for cache operations, query errors, tasks, CPU time and GC pauses, gauges for memory,
 * heap, duration and event-loop utilization. Every data point carries
 * {@link profileAttributes} and `options.attributes`. Query counts, min and max are exact; each
 * recorded duration is its bucket's midpoint, so the sum is within the histogram's 1/32.
 *
 * @throws {ProfilerError} INVALID_ARGUMENT for a meter without instruments or a profile that is not
 *   a version 2 profile; INVALID_OPTION for a bad prefix or attributes.
 */
export function recordProfile(
  meter: Meter,
  profile: Profile | PerformanceMetricsJSON,
  options: OtelRecordOptions = {},
): void {
  if (typeof meter?.createHistogram !== 'function' || typeof meter.createGauge !== 'function') {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_ARGUMENT,
      'meter must be an OpenTelemetry Meter (@opentelemetry/api 1.9 or later, with createGauge)',
    )
  }
  const prefix = options.prefix ?? DEFAULTS.prefix
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_OPTION,
      `options.prefix must be a valid instrument name prefix, got ${JSON.stringify(prefix)}`,
    )
  }
  const extra = options.attributes ?? DEFAULTS.attributes
  if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_OPTION,
      `options.attributes must be an object, got ${String(extra)}`,
    )
  }
  const [m] = profileJsons([profile], 'profile')
  const json = m!
  const base: Attributes = { ...profileAttributes(json), ...extra }
  const i = instruments(meter, prefix)
  const withKey = (key: string, value: string): Attributes => ({ ...base, [key]: value })

  recordDurations(i.queries, LogLinearHistogram.fromBuckets(json.dbQueries.histogram), base)
  i.queryErrors.add(json.dbQueries.errors, base)
  i.cacheOps.add(json.cacheHits, withKey('op', 'hit'))
  i.cacheOps.add(json.cacheMisses, withKey('op', 'miss'))
  i.cacheOps.add(json.cacheSets, withKey('op', 'set'))
  i.cacheOps.add(json.cacheDeletes, withKey('op', 'delete'))
  i.cacheOps.add(json.cacheErrors, withKey('op', 'error'))
  i.tasks.add(json.tasks.count - json.tasks.failed, withKey('outcome', 'success'))
  i.tasks.add(json.tasks.failed, withKey('outcome', 'failure'))
  i.cpu.add(json.cpuSeconds, base)
  for (const [kind, s] of Object.entries(json.gc.byKind)) {
    i.gcPauses.add(s.count, withKey('kind', kind))
    i.gcTime.add(s.total, withKey('kind', kind))
  }
  i.memoryPeak.record(json.memoryPeak, withKey('source', json.memoryPeakSource))
  i.memoryStart.record(json.memoryStart, base)
  i.memoryEnd.record(json.memoryEnd, base)
  i.heapPeak.record(json.heapPeak, base)
  i.duration.record(json.duration, base)
  i.utilization.record(json.eventLoopUtilization, base)
}

/** Records every value of `h` once: min and max exactly, the others at their bucket's midpoint. */
function recordDurations(target: Histogram, h: LogLinearHistogram, attributes: Attributes): void {
  const b = h.toBuckets()
  if (b.count === 0) return
  const buckets = b.buckets.map(([index, n]) => [index, n] as [number, number])
  target.record(b.min, attributes)
  if (buckets.length > 0) buckets[0]![1]--
  let overflow = b.overflow
  if (overflow === b.count) overflow--
  if (b.count > 1) {
    target.record(b.max, attributes)
    if (overflow > 0) overflow--
    else buckets[buckets.length - 1]![1]--
  }
  for (const [index, n] of buckets) {
    const lower = index === 0 ? 0 : h.upperBound(index - 1)
    const mid = Math.min(b.max, Math.max(b.min, (lower + h.upperBound(index)) / 2))
    for (let k = 0; k < n; k++) target.record(mid, attributes)
  }
  for (let k = 0; k < overflow; k++) target.record(b.max, attributes)
}

function instruments(meter: Meter, prefix: string): Instruments {
  let byPrefix = cache.get(meter)
  if (byPrefix === undefined) {
    byPrefix = new Map()
    cache.set(meter, byPrefix)
  }
  const known = byPrefix.get(prefix)
  if (known !== undefined) return known
  const p = prefix
  const made: Instruments = {
    queries: meter.createHistogram(`${p}.db.query.duration`, {
      unit: 's',
      description: 'DB query durations.',
    }),
    queryErrors: meter.createCounter(`${p}.db.query.errors`, {
      unit: '{query}',
      description: 'DB queries that failed.',
    }),
    cacheOps: meter.createCounter(`${p}.cache.operations`, {
      unit: '{operation}',
      description: 'Cache operations by outcome.',
    }),
    tasks: meter.createCounter(`${p}.tasks`, {
      unit: '{task}',
      description: 'Parallel tasks finished, by outcome.',
    }),
    cpu: meter.createCounter(`${p}.cpu.time`, {
      unit: 's',
      description: 'Process CPU time (user and system) during the profile.',
    }),
    gcPauses: meter.createCounter(`${p}.gc.pauses`, {
      unit: '{pause}',
      description: 'GC pauses by kind.',
    }),
    gcTime: meter.createCounter(`${p}.gc.pause.time`, {
      unit: 's',
      description: 'Time spent in GC pauses by kind.',
    }),
    memoryPeak: meter.createGauge(`${p}.memory.peak`, {
      unit: 'By',
      description: 'Largest resident set size during the profile.',
    }),
    memoryStart: meter.createGauge(`${p}.memory.start`, {
      unit: 'By',
      description: 'Resident set size at start.',
    }),
    memoryEnd: meter.createGauge(`${p}.memory.end`, {
      unit: 'By',
      description: 'Resident set size at stop.',
    }),
    heapPeak: meter.createGauge(`${p}.heap.peak`, {
      unit: 'By',
      description: 'Largest V8 heap used of the profiling thread.',
    }),
    duration: meter.createGauge(`${p}.duration`, {
      unit: 's',
      description: 'Wall time of the profile.',
    }),
    utilization: meter.createGauge(`${p}.event_loop.utilization`, {
      unit: '1',
      description: 'Fraction of time the event loop was busy.',
    }),
  }
  byPrefix.set(prefix, made)
  return made
}
