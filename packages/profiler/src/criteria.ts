import { ProfilerError, ProfilerErrorCode, type Violation } from './profilerError.js'
import type { PerformanceMetrics } from './types.js'

/**
 * Limits a profile can be checked against. Every key is optional; memory in bytes, durations in
 * seconds, ratios 0..1.
 */
export interface Criteria {
  /** memoryPeak must not exceed this, bytes. */
  maxMemoryPeak?: number
  /** memoryIncrease must not exceed this, bytes. */
  maxMemoryIncrease?: number
  /** heapPeak must not exceed this, bytes. */
  maxHeapPeak?: number
  /** dbQueryAvg must not exceed this, seconds. */
  maxDbQueryAvg?: number
  /** dbQueries.p95 must not exceed this, seconds. */
  maxDbQueryP95?: number
  /** dbQueries.p99 must not exceed this, seconds. */
  maxDbQueryP99?: number
  /** dbQueries.max must not exceed this, seconds. */
  maxDbQueryMax?: number
  /** cacheHitRatio must be at least this (skipped when there was no cache lookup). */
  minCacheHitRatio?: number
  /** duration must not exceed this, seconds. */
  maxDuration?: number
  /** cpuPercent must not exceed this (skipped when the profile was too short to tell). */
  maxCpuPercent?: number
  /** eventLoopDelay.p99 must not exceed this, seconds. */
  maxEventLoopDelayP99?: number
  /** gc.max must not exceed this, seconds. */
  maxGcPause?: number
}

/** What `check()` found. */
export interface CheckResult {
  /** True when no criterion was violated. */
  ok: boolean
  /** Every violated criterion. */
  violations: Violation[]
  /** Criteria not evaluated for lack of data (e.g. minCacheHitRatio with no cache lookup). */
  skipped: string[]
}

/**
 * The original system's targets: memory peak < 1.5 GiB, DB queries < 100 ms on average, cache
 * hit ratio > 80 %.
 */
export const DEFAULT_CRITERIA: Readonly<
  Required<Pick<Criteria, 'maxMemoryPeak' | 'maxDbQueryAvg' | 'minCacheHitRatio'>>
> = Object.freeze({ maxMemoryPeak: 1.5 * 1024 ** 3, maxDbQueryAvg: 0.1, minCacheHitRatio: 0.8 })

type Unit = 'bytes' | 'seconds' | 'ratio' | 'percent'
interface Rule {
  metric: string
  unit: Unit
  kind: 'max' | 'min'
  read: (m: PerformanceMetrics) => number
  applies?: (m: PerformanceMetrics) => boolean
}

const RULES: Record<keyof Criteria, Rule> = {
  maxMemoryPeak: { metric: 'memoryPeak', unit: 'bytes', kind: 'max', read: (m) => m.memoryPeak },
  maxMemoryIncrease: {
    metric: 'memoryIncrease',
    unit: 'bytes',
    kind: 'max',
    read: (m) => m.memoryIncrease,
  },
  maxHeapPeak: { metric: 'heapPeak', unit: 'bytes', kind: 'max', read: (m) => m.heapPeak },
  maxDbQueryAvg: { metric: 'dbQueryAvg', unit: 'seconds', kind: 'max', read: (m) => m.dbQueryAvg },
  maxDbQueryP95: {
    metric: 'dbQueries.p95',
    unit: 'seconds',
    kind: 'max',
    read: (m) => m.dbQueries.p95,
  },
  maxDbQueryP99: {
    metric: 'dbQueries.p99',
    unit: 'seconds',
    kind: 'max',
    read: (m) => m.dbQueries.p99,
  },
  maxDbQueryMax: {
    metric: 'dbQueries.max',
    unit: 'seconds',
    kind: 'max',
    read: (m) => m.dbQueries.max,
  },
  minCacheHitRatio: {
    metric: 'cacheHitRatio',
    unit: 'ratio',
    kind: 'min',
    read: (m) => m.cacheHitRatio,
    applies: (m) => m.cacheHits + m.cacheMisses > 0,
  },
  maxDuration: { metric: 'duration', unit: 'seconds', kind: 'max', read: (m) => m.duration },
  maxCpuPercent: {
    metric: 'cpuPercent',
    unit: 'percent',
    kind: 'max',
    read: (m) => m.cpuPercent ?? 0,
    applies: (m) => m.cpuPercent !== null,
  },
  maxEventLoopDelayP99: {
    metric: 'eventLoopDelay.p99',
    unit: 'seconds',
    kind: 'max',
    read: (m) => m.eventLoopDelay.p99,
  },
  maxGcPause: { metric: 'gc.max', unit: 'seconds', kind: 'max', read: (m) => m.gc.max },
}

/** Validates criteria: known keys, finite numbers. Throws UNKNOWN_CRITERION / INVALID_CRITERION. */
export function validateCriteria(criteria: unknown): Criteria {
  if (criteria === null || typeof criteria !== 'object' || Array.isArray(criteria)) {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_CRITERION,
      `criteria must be an object, got ${describe(criteria)}`,
    )
  }
  for (const [key, value] of Object.entries(criteria)) {
    if (!Object.hasOwn(RULES, key)) {
      throw new ProfilerError(
        ProfilerErrorCode.UNKNOWN_CRITERION,
        `criteria.${key} is not a known criterion (known: ${Object.keys(RULES).join(', ')})`,
      )
    }
    if (value === undefined) continue
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ProfilerError(
        ProfilerErrorCode.INVALID_CRITERION,
        `criteria.${key} must be a finite number, got ${describe(value)}`,
      )
    }
  }
  return criteria as Criteria
}

/** Compares metrics with criteria. @internal */
export function checkMetrics(metrics: PerformanceMetrics, criteria: Criteria): CheckResult {
  validateCriteria(criteria)
  const violations: Violation[] = []
  const skipped: string[] = []
  for (const [key, limit] of Object.entries(criteria) as [keyof Criteria, number | undefined][]) {
    if (limit === undefined) continue
    const rule = RULES[key]
    if (rule.applies !== undefined && !rule.applies(metrics)) {
      skipped.push(key)
      continue
    }
    const actual = rule.read(metrics)
    const bad = rule.kind === 'max' ? actual > limit : actual < limit
    if (!bad) continue
    const verb = rule.kind === 'max' ? 'exceeds' : 'is below'
    violations.push({
      criterion: key,
      metric: rule.metric,
      limit,
      actual,
      message: `${rule.metric} ${format(actual, rule.unit)} ${verb} ${key} ${format(limit, rule.unit)}`,
    })
  }
  return { ok: violations.length === 0, violations, skipped }
}

function format(value: number, unit: Unit): string {
  switch (unit) {
    case 'bytes':
      return Math.abs(value) >= 1024 ** 3
        ? `${(value / 1024 ** 3).toFixed(2)} GiB`
        : `${(value / 1024 ** 2).toFixed(1)} MiB`
    case 'seconds':
      return value < 1 ? `${(value * 1000).toFixed(2)} ms` : `${value.toFixed(3)} s`
    case 'ratio':
      return `${(value * 100).toFixed(1)} %`
    case 'percent':
      return `${value.toFixed(1)} %`
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  return Array.isArray(value) ? 'an array' : typeof value
}
