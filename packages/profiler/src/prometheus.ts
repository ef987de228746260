import { LogLinearHistogram } from './logLinearHistogram.js'
import type { Profile } from './profile.js'
import { profileJsons } from './profileJsons.js'
import { ProfilerError, ProfilerErrorCode } from './profilerError.js'
import type { PerformanceMetricsJSON, PrometheusOptions } from './types.js'

/** One sample line of a family. @internal */
export interface PrometheusSample {
  /** The full metric name (the family's, or with `_bucket`, `_sum`, `_count`). */
  metricName: string
  labels: Record<string, string>
  value: number
}

/** One metric family: HELP and TYPE once, then every sample of every profile. @internal */
export interface PrometheusFamily {
  name: string
  help: string
  type: 'gauge' | 'counter' | 'histogram' | 'summary'
  samples: PrometheusSample[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/
/** Label names the output uses itself. */
const RESERVED = ['profile', 'le', 'quantile', 'op', 'outcome', 'kind', 'source'] as const
const DEFAULT_BUCKETS: readonly number[] = Object.freeze(
  Array.from({ length: 20 }, (_, i) => 2 ** (i - 14)),
)
const DEFAULTS = { prefix: 'bookgen_profile_', labels: {}, buckets: DEFAULT_BUCKETS } as const

/**
 * Renders any number of profiles (or their `toJSON()` output) as one valid Prometheus text
 * exposition (format 0.0.4): each family's HELP and TYPE once, the profiles told apart by a
 * `profile` label (the profile's name, or its position in `profiles` when it has none; with a
 * single unnamed profile the label is left out), query durations as a real histogram with `le`
 * buckets that aggregate across instances.
 *
 * @throws {ProfilerError} INVALID_OPTION for a bad prefix, a label name that is invalid or
 *   reserved, a label value that is not a string, or bad buckets; INVALID_ARGUMENT for a
 *   profile that is not a version 2 profile, or two profiles with the same name.
 */
export function renderPrometheus(
  profiles: readonly (Profile | PerformanceMetricsJSON)[],
  options: PrometheusOptions = {},
): string {
  return formatFamilies(prometheusFamilies(profiles, options))
}

/** The families `renderPrometheus()` writes, as data (also used by the prom-client collector). @internal */
export function prometheusFamilies(
  profiles: readonly (Profile | PerformanceMetricsJSON)[],
  options: PrometheusOptions = {},
): PrometheusFamily[] {
  const o = resolveOptions(options)
  const jsons = profileJsons(profiles, 'profiles')
  const ids = profileIds(jsons)
  const families: PrometheusFamily[] = []
  const family = (name: string, type: PrometheusFamily['type'], help: string) => {
    const f: PrometheusFamily = { name: `${o.prefix}${name}`, help, type, samples: [] }
    families.push(f)
    return f
  }
  const gauges: [string, string, (m: PerformanceMetricsJSON) => number][] = [
    ['duration_seconds', 'Wall time of the profile.', (m) => m.duration],
    ['start_time_seconds', 'Unix time the profile started.', (m) => m.startTime],
    ['memory_start_bytes', 'Resident set size at start.', (m) => m.memoryStart],
    ['memory_end_bytes', 'Resident set size at stop.', (m) => m.memoryEnd],
    ['memory_increase_bytes', 'Resident set size at stop minus at start.', (m) => m.memoryIncrease],
    ['heap_peak_bytes', 'Largest V8 heap used of the profiling thread.', (m) => m.heapPeak],
    ['cache_hit_ratio', 'Cache hits over lookups (0 without lookups).', (m) => m.cacheHitRatio],
    [
      'event_loop_utilization_ratio',
      'Fraction of time the event loop was busy.',
      (m) => m.eventLoopUtilization,
    ],
  ]
  for (const [name, help, read] of gauges) {
    const f = family(name, 'gauge', help)
    jsons.forEach((m, i) => {
      f.samples.push(sample(f.name, o.labels, ids[i], {}, read(m)))
    })
  }
  const peak = family('memory_peak_bytes', 'gauge', 'Largest resident set size during the profile.')
  const cpu = family(
    'cpu_seconds_total',
    'counter',
    'Process CPU time (user and system) during the profile.',
  )
  const ops = family('cache_operations_total', 'counter', 'Cache operations by outcome.')
  const q = family('db_query_duration_seconds', 'histogram', 'DB query durations.')
  const qErrors = family('db_query_errors_total', 'counter', 'DB queries that failed.')
  const tasks = family('tasks_total', 'counter', 'Parallel tasks finished, by outcome.')
  const delay = family(
    'event_loop_delay_seconds',
    'summary',
    'Event-loop delay, timer resolution subtracted.',
  )
  const gcCount = family('gc_pauses_total', 'counter', 'GC pauses by kind.')
  const gcTime = family('gc_pause_seconds_total', 'counter', 'Time spent in GC pauses by kind.')
  const gcMax = family('gc_pause_max_seconds', 'gauge', 'Longest GC pause by kind.')
  jsons.forEach((m, i) => {
    const add = (
      f: PrometheusFamily,
      labels: Record<string, string>,
      value: number,
      suffix = '',
    ) => {
      f.samples.push(sample(`${f.name}${suffix}`, o.labels, ids[i], labels, value))
    }
    add(peak, { source: m.memoryPeakSource }, m.memoryPeak)
    add(cpu, {}, m.cpuSeconds)
    add(ops, { op: 'hit' }, m.cacheHits)
    add(ops, { op: 'miss' }, m.cacheMisses)
    add(ops, { op: 'set' }, m.cacheSets)
    add(ops, { op: 'delete' }, m.cacheDeletes)
    add(ops, { op: 'error' }, m.cacheErrors)
    const h = LogLinearHistogram.fromBuckets(m.dbQueries.histogram)
    for (const le of o.buckets) add(q, { le: num(le) }, h.countAtMost(le), '_bucket')
    add(q, { le: '+Inf' }, h.count, '_bucket')
    add(q, {}, h.sum, '_sum')
    add(q, {}, h.count, '_count')
    add(qErrors, {}, m.dbQueries.errors)
    add(tasks, { outcome: 'success' }, m.tasks.count - m.tasks.failed)
    add(tasks, { outcome: 'failure' }, m.tasks.failed)
    const d = m.eventLoopDelay
    add(delay, { quantile: '0.5' }, d.p50)
    add(delay, { quantile: '0.99' }, d.p99)
    add(delay, { quantile: '1' }, d.max)
    add(delay, {}, d.mean * d.count, '_sum')
    add(delay, {}, d.count, '_count')
    for (const [kind, s] of Object.entries(m.gc.byKind)) {
      add(gcCount, { kind }, s.count)
      add(gcTime, { kind }, s.total)
      add(gcMax, { kind }, s.max)
    }
  })
  return families
}

/** Formats families in the text exposition format 0.0.4. @internal */
export function formatFamilies(families: readonly PrometheusFamily[]): string {
  const out: string[] = []
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`)
    for (const s of f.samples) out.push(`${s.metricName}${labelSet(s.labels)} ${num(s.value)}`)
  }
  return `${out.join('\n')}\n`
}

function sample(
  metricName: string,
  constant: Record<string, string>,
  id: string | undefined,
  own: Record<string, string>,
  value: number,
): PrometheusSample {
  const labels: Record<string, string> = { ...constant }
  if (id !== undefined) labels.profile = id
  Object.assign(labels, own)
  return { metricName, labels, value }
}

function profileIds(jsons: readonly PerformanceMetricsJSON[]): (string | undefined)[] {
  if (jsons.length === 1) return [jsons[0]!.name ?? undefined]
  const seen = new Map<string, number>()
  return jsons.map((m, i) => {
    const id = m.name ?? String(i)
    const first = seen.get(id)
    if (first !== undefined) {
      throw new ProfilerError(
        ProfilerErrorCode.INVALID_ARGUMENT,
        `profiles[${i}] has the same profile label ${JSON.stringify(id)} as profiles[${first}]; give the profiles distinct names`,
      )
    }
    seen.set(id, i)
    return id
  })
}

function resolveOptions(options: PrometheusOptions): Required<PrometheusOptions> {
  if (options === null || typeof options !== 'object') {
    throw invalid(`options must be an object, got ${String(options)}`)
  }
  const prefix = options.prefix ?? DEFAULTS.prefix
  const labels = options.labels ?? DEFAULTS.labels
  const buckets = options.buckets ?? DEFAULTS.buckets
  if (typeof prefix !== 'string' || (prefix !== '' && !NAME.test(prefix))) {
    throw invalid(
      `options.prefix must be a valid metric name prefix, got ${JSON.stringify(prefix)}`,
    )
  }
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw invalid(
      `options.labels must be an object of label names to strings, got ${String(labels)}`,
    )
  }
  for (const [key, value] of Object.entries(labels)) {
    if (!LABEL.test(key) || key.startsWith('__')) {
      throw invalid(`options.labels has an invalid label name, got ${JSON.stringify(key)}`)
    }
    if ((RESERVED as readonly string[]).includes(key)) {
      throw invalid(
        `options.labels.${key} clashes with a label the output sets itself (${RESERVED.join(', ')})`,
      )
    }
    if (typeof value !== 'string') {
      throw invalid(
        `options.labels.${key} must be a string, got ${typeof value === 'number' ? String(value) : typeof value}`,
      )
    }
  }
  if (!Array.isArray(buckets) || buckets.length === 0) {
    throw invalid('options.buckets must be a non-empty array of ascending positive numbers')
  }
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i]
    if (
      typeof b !== 'number' ||
      !(b > 0) ||
      !Number.isFinite(b) ||
      (i > 0 && b <= buckets[i - 1]!)
    ) {
      throw invalid(
        `options.buckets[${i}] must be a finite number above 0 and above the bound before it, got ${String(b)}`,
      )
    }
  }
  return { prefix, labels: labels as Record<string, string>, buckets }
}

function invalid(message: string): ProfilerError {
  return new ProfilerError(ProfilerErrorCode.INVALID_OPTION, message)
}

function labelSet(labels: Record<string, string>): string {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ''
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function num(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  if (value === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(value)
}
