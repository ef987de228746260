import type { Profile } from './profile.js'
import { ProfilerError, ProfilerErrorCode } from './profilerError.js'
import { type PrometheusFamily, prometheusFamilies } from './prometheus.js'
import type { PerformanceMetricsJSON, PrometheusOptions } from './types.js'

/** The part of a prom-client `Registry` the collector uses (prom-client is not a dependency). */
export interface PromClientRegistry {
  registerMetric(metric: never): void
  removeSingleMetric(name: string): void
}

type Profiles = readonly (Profile | PerformanceMetricsJSON)[]

/**
 * Registers profiles into an existing prom-client `Registry`, next to its own metrics: at each
 * scrape, `profiles()` is called and its profiles are written like `renderPrometheus()` writes
 * them (the registry's default labels are added). Returns a function that removes them again.
 *
 * @throws {ProfilerError} INVALID_ARGUMENT when `registry` is not a prom-client Registry or
 *   `profiles` is not a function; the options are checked like `renderPrometheus()`'s.
 */
export function registerProfiles(
  registry: PromClientRegistry,
  profiles: () => Profiles,
  options: PrometheusOptions = {},
): () => void {
  if (
    typeof registry?.registerMetric !== 'function' ||
    typeof registry.removeSingleMetric !== 'function'
  ) {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_ARGUMENT,
      'registry must be a prom-client Registry (with registerMetric and removeSingleMetric)',
    )
  }
  if (typeof profiles !== 'function') {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_ARGUMENT,
      `profiles must be a function returning the profiles to expose, got ${typeof profiles}`,
    )
  }
  // The family names do not depend on the profiles: the empty set names them (and checks options).
  const names = prometheusFamilies([], options).map((f) => [f.name, f.help, f.type] as const)
  // One scrape reads every family in the same turn: compute them once per turn.
  let current: Map<string, PrometheusFamily> | undefined
  const read = (name: string): PrometheusFamily | undefined => {
    if (current === undefined) {
      current = new Map(prometheusFamilies(profiles(), options).map((f) => [f.name, f]))
      queueMicrotask(() => {
        current = undefined
      })
    }
    return current.get(name)
  }
  for (const [name, help, type] of names) {
    const metric = {
      name,
      help,
      type,
      aggregator: 'omit',
      get: () => ({
        name,
        help,
        type,
        aggregator: 'omit',
        values: (read(name)?.samples ?? []).map((s) => ({
          value: s.value,
          labels: s.labels,
          // prom-client appends _total to counters itself in OpenMetrics mode.
          metricName: type === 'counter' ? undefined : s.metricName,
        })),
      }),
      reset: () => {},
    }
    registry.registerMetric(metric as never)
  }
  return () => {
    for (const [name] of names) registry.removeSingleMetric(name)
  }
}
