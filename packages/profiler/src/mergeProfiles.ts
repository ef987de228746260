import { LogLinearHistogram } from './logLinearHistogram.js'
import type { Profile } from './profile.js'
import { profileJsons } from './profileJsons.js'
import { ProfilerError, ProfilerErrorCode } from './profilerError.js'
import type {
  GcKind,
  GcMetrics,
  MergedProfileJSON,
  PerformanceMetricsJSON,
  QueryMetricsJSON,
} from './types.js'

/**
 * Merges profiles of many threads, processes and hosts (their `toJSON()` output, or the profiles
 * themselves) into one fleet view. Counts, sums, minima and maxima are exact; quantiles come from
 * the merged histogram, within its 1/32 relative error. CPU time and RSS belong to a whole
 * process: the overlapping profiles of one process (a worker thread's inside the main thread's)
 * contribute their largest figure once, and only disjoint windows of one process add up.
 *
 * @throws {ProfilerError} INVALID_ARGUMENT when `profiles` is not an array, is empty, or holds
 *   something other than a version 2 profile JSON.
 */
export function mergeProfiles(
  profiles: readonly (PerformanceMetricsJSON | Profile)[],
): MergedProfileJSON {
  const jsons = profileJsons(profiles, 'profiles')
  if (jsons.length === 0) {
    throw new ProfilerError(ProfilerErrorCode.INVALID_ARGUMENT, 'profiles must not be empty')
  }
  const queries = new LogLinearHistogram({
    precisionBits: Math.min(...jsons.map((j) => j.dbQueries.histogram.precisionBits)),
  })
  let errors = 0
  let hits = 0
  let misses = 0
  let sets = 0
  let deletes = 0
  let cacheErrors = 0
  let heapPeak = 0
  const tasks = { count: 0, failed: 0, totalDuration: 0 }
  const gc = emptyGc()
  const byProcess = new Map<string, PerformanceMetricsJSON[]>()
  for (const j of jsons) {
    queries.merge(j.dbQueries.histogram)
    errors += j.dbQueries.errors
    hits += j.cacheHits
    misses += j.cacheMisses
    sets += j.cacheSets
    deletes += j.cacheDeletes
    cacheErrors += j.cacheErrors
    heapPeak = Math.max(heapPeak, j.heapPeak)
    tasks.count += j.tasks.count
    tasks.failed += j.tasks.failed
    tasks.totalDuration += j.tasks.totalDuration
    addGc(gc, j.gc)
    const key = `${j.resource.host}\u0000${j.resource.pid}`
    const list = byProcess.get(key)
    if (list === undefined) byProcess.set(key, [j])
    else list.push(j)
  }
  let cpuSeconds = 0
  let memoryPeak = 0
  for (const list of byProcess.values()) {
    cpuSeconds += processCpu(list)
    for (const j of list) memoryPeak = Math.max(memoryPeak, j.memoryPeak)
  }
  const startTime = Math.min(...jsons.map((j) => j.startTime))
  const endTime = Math.max(...jsons.map((j) => j.endTime))
  const { mean: avg, ...distribution } = queries.summary()
  const dbQueries: QueryMetricsJSON = {
    ...distribution,
    errors,
    avg,
    histogram: queries.toBuckets(),
  }
  const lookups = hits + misses
  return {
    version: 2,
    profiles: jsons.length,
    processes: byProcess.size,
    resources: jsons.map((j) => ({ ...j.resource })),
    startTime,
    endTime,
    duration: Math.max(0, endTime - startTime),
    memoryPeak,
    heapPeak,
    cpuSeconds,
    cacheHits: hits,
    cacheMisses: misses,
    cacheHitRatio: lookups === 0 ? 0 : hits / lookups,
    cacheSets: sets,
    cacheDeletes: deletes,
    cacheErrors,
    dbQueryAvg: avg,
    dbQueryCount: queries.count,
    dbQueries,
    tasks,
    gc,
  }
}

/** CPU seconds of one process: windows that overlap share one figure (the largest). */
function processCpu(list: PerformanceMetricsJSON[]): number {
  const sorted = [...list].sort((a, b) => a.startTime - b.startTime)
  let total = 0
  let groupEnd = Number.NEGATIVE_INFINITY
  let groupCpu = 0
  for (const j of sorted) {
    if (j.startTime < groupEnd) {
      groupCpu = Math.max(groupCpu, j.cpuSeconds)
      groupEnd = Math.max(groupEnd, j.endTime)
    } else {
      total += groupCpu
      groupCpu = j.cpuSeconds
      groupEnd = j.endTime
    }
  }
  return total + groupCpu
}

function emptyGc(): GcMetrics {
  const kind = () => ({ count: 0, total: 0, max: 0 })
  return {
    count: 0,
    total: 0,
    max: 0,
    byKind: { minor: kind(), major: kind(), incremental: kind(), weakcb: kind() },
  }
}

function addGc(into: GcMetrics, from: GcMetrics): void {
  into.count += from.count
  into.total += from.total
  into.max = Math.max(into.max, from.max)
  for (const kind of Object.keys(into.byKind) as GcKind[]) {
    const a = into.byKind[kind]
    const b = from.byKind?.[kind]
    if (b === undefined) continue
    a.count += b.count
    a.total += b.total
    a.max = Math.max(a.max, b.max)
  }
}
