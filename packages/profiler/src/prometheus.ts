import { ProfilerError, ProfilerErrorCode } from './profilerError.js'
import type { PerformanceMetrics, PrometheusOptions } from './types.js'

const DEFAULTS = { prefix: 'bookgen_profile_' } as const
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** Renders metrics in the Prometheus text exposition format (version 0.0.4). @internal */
export function formatPrometheus(m: PerformanceMetrics, options: PrometheusOptions = {}): string {
  const prefix = options.prefix ?? DEFAULTS.prefix
  if (prefix !== '' && !NAME.test(prefix)) {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_OPTION,
      `options.prefix must be a valid metric name prefix, got ${JSON.stringify(prefix)}`,
    )
  }
  const base: Record<string, string> = { ...options.labels }
  if (m.name !== null) base.profile = m.name
  for (const key of Object.keys(base)) {
    if (!LABEL.test(key) || key.startsWith('__')) {
      throw new ProfilerError(
        ProfilerErrorCode.INVALID_OPTION,
        `options.labels has an invalid label name, got ${JSON.stringify(key)}`,
      )
    }
  }
  const out: string[] = []
  const family = (
    name: string,
    type: string,
    help: string,
    samples: [string, number, Record<string, string>?][],
  ) => {
    out.push(`# HELP ${prefix}${name} ${help}`, `# TYPE ${prefix}${name} ${type}`)
    for (const [suffix, value, labels] of samples) {
      out.push(`${prefix}${name}${suffix}${labelSet({ ...base, ...labels })} ${num(value)}`)
    }
  }
  const gauge = (name: string, help: string, value: number, labels?: Record<string, string>) =>
    family(name, 'gauge', help, [['', value, labels]])

  gauge('duration_seconds', 'Wall time of the profile.', m.duration)
  gauge('start_time_seconds', 'Unix time the profile started.', m.startTime)
  gauge('memory_start_bytes', 'Resident set size at start.', m.memoryStart)
  gauge('memory_end_bytes', 'Resident set size at stop.', m.memoryEnd)
  gauge('memory_peak_bytes', 'Largest resident set size during the profile.', m.memoryPeak, {
    source: m.memoryPeakSource,
  })
  gauge('memory_increase_bytes', 'Resident set size at stop minus at start.', m.memoryIncrease)
  gauge('heap_peak_bytes', 'Largest V8 heap used seen.', m.heapPeak)
  gauge('cpu_percent', 'Process CPU time over wall time, percent.', m.cpuPercent)
  family('cache_operations_total', 'counter', 'Cache operations by outcome.', [
    ['', m.cacheHits, { op: 'hit' }],
    ['', m.cacheMisses, { op: 'miss' }],
    ['', m.cacheSets, { op: 'set' }],
    ['', m.cacheDeletes, { op: 'delete' }],
    ['', m.cacheErrors, { op: 'error' }],
  ])
  gauge('cache_hit_ratio', 'Cache hits over lookups (0 without lookups).', m.cacheHitRatio)
  const q = m.dbQueries
  family('db_query_duration_seconds', 'summary', 'DB query durations.', [
    ['', q.p50, { quantile: '0.5' }],
    ['', q.p95, { quantile: '0.95' }],
    ['', q.p99, { quantile: '0.99' }],
    ['', q.max, { quantile: '1' }],
    ['_sum', q.sum],
    ['_count', q.count],
  ])
  family('db_query_errors_total', 'counter', 'DB queries that failed.', [['', q.errors]])
  family('tasks_total', 'counter', 'Parallel tasks finished, by outcome.', [
    ['', m.tasks.count - m.tasks.failed, { outcome: 'success' }],
    ['', m.tasks.failed, { outcome: 'failure' }],
  ])
  const d = m.eventLoopDelay
  family('event_loop_delay_seconds', 'summary', 'Event-loop delay, timer resolution subtracted.', [
    ['', d.p50, { quantile: '0.5' }],
    ['', d.p99, { quantile: '0.99' }],
    ['', d.max, { quantile: '1' }],
    ['_sum', d.mean * d.count],
    ['_count', d.count],
  ])
  gauge(
    'event_loop_utilization_ratio',
    'Fraction of time the event loop was busy.',
    m.eventLoopUtilization,
  )
  const kinds = Object.entries(m.gc.byKind)
  family(
    'gc_pauses_total',
    'counter',
    'GC pauses by kind.',
    kinds.map(([kind, s]) => ['', s.count, { kind }]),
  )
  family(
    'gc_pause_seconds_total',
    'counter',
    'Time spent in GC pauses by kind.',
    kinds.map(([kind, s]) => ['', s.total, { kind }]),
  )
  family(
    'gc_pause_max_seconds',
    'gauge',
    'Longest GC pause by kind.',
    kinds.map(([kind, s]) => ['', s.max, { kind }]),
  )
  return `${out.join('\n')}\n`
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
