import type { GcKind, GcMetrics, GcPauseStats } from './types.js'

/** GC pauses counted per kind, in seconds: what the heap-peak and runtime monitors both report. */
export class GcPauseTally {
  readonly #byKind: Record<GcKind, GcPauseStats> = {
    minor: { count: 0, total: 0, max: 0 },
    major: { count: 0, total: 0, max: 0 },
    incremental: { count: 0, total: 0, max: 0 },
    weakcb: { count: 0, total: 0, max: 0 },
  }

  /** Counts one pause of `seconds` of the given kind. */
  add(kind: GcKind, seconds: number): void {
    const s = this.#byKind[kind]
    s.count++
    s.total += seconds
    if (seconds > s.max) s.max = seconds
  }

  /** The totals over every kind and a copy of each kind's figures. */
  metrics(): GcMetrics {
    let count = 0
    let total = 0
    let max = 0
    const byKind = {} as Record<GcKind, GcPauseStats>
    for (const kind of Object.keys(this.#byKind) as GcKind[]) {
      const s = this.#byKind[kind]
      byKind[kind] = { ...s }
      count += s.count
      total += s.total
      if (s.max > max) max = s.max
    }
    return { count, total, max, byKind }
  }
}
