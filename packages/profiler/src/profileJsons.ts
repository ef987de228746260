import { type HistogramBuckets, LogLinearHistogram } from './logLinearHistogram.js'
import type { Profile } from './profile.js'
import { ProfilerError, ProfilerErrorCode } from './profilerError.js'
import type { PerformanceMetricsJSON } from './types.js'

/** The version 2 JSON of each profile, validated. @internal */
export function profileJsons(
  profiles: readonly (PerformanceMetricsJSON | Profile)[],
  argument: string,
): PerformanceMetricsJSON[] {
  if (!Array.isArray(profiles)) {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_ARGUMENT,
      `${argument} must be an array of profiles or their toJSON() output, got ${describe(profiles)}`,
    )
  }
  return profiles.map((p, i) => {
    const j = isProfile(p) ? p.toJSON() : p
    const where = `${argument}[${i}]`
    if (j === null || typeof j !== 'object') {
      throw new ProfilerError(
        ProfilerErrorCode.INVALID_ARGUMENT,
        `${where} must be a profile or its toJSON() output, got ${describe(j)}`,
      )
    }
    if (j.version !== 2) {
      throw new ProfilerError(
        ProfilerErrorCode.INVALID_ARGUMENT,
        `${where}.version must be 2 (toJSON() of this package version), got ${describe(j.version)}`,
      )
    }
    const resource = j.resource as Partial<PerformanceMetricsJSON['resource']> | undefined
    if (typeof resource?.host !== 'string' || typeof resource.pid !== 'number') {
      throw new ProfilerError(
        ProfilerErrorCode.INVALID_ARGUMENT,
        `${where}.resource must name the host and pid, got ${describe(resource)}`,
      )
    }
    // Validates the buckets (throws INVALID_ARGUMENT naming the problem).
    LogLinearHistogram.fromBuckets(j.dbQueries?.histogram as HistogramBuckets)
    return j
  })
}

function isProfile(value: unknown): value is Profile {
  return typeof (value as Profile | null)?.toJSON === 'function'
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  return Array.isArray(value) ? 'an array' : typeof value
}
