import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { describe, expect, it } from 'vitest'
import { startProfile } from '../src/index.js'

interface Family {
  name: string
  help: string
  type: string
  metrics: {
    value?: string
    labels?: Record<string, string>
    quantiles?: Record<string, string>
    sum?: string
    count?: string
  }[]
}

function families(text: string): Map<string, Family> {
  const parsed = parsePrometheusTextFormat(text) as Family[]
  return new Map(parsed.map((f) => [f.name, f]))
}

describe('toPrometheus()', () => {
  it('produces text a Prometheus parser accepts, with the right values', () => {
    const p = startProfile({ channels: false })
    p.recordDbQuery(0.01)
    p.recordDbQuery(0.02)
    p.recordDbQuery(0.5)
    p.recordCacheHit()
    p.recordCacheHit()
    p.recordCacheHit()
    p.recordCacheMiss()
    const m = p.stop()
    const f = families(p.toPrometheus())

    const peak = f.get('bookgen_profile_memory_peak_bytes')
    expect(peak?.type).toBe('GAUGE')
    expect(Number(peak?.metrics[0]?.value)).toBe(m.memoryPeak)
    expect(peak?.metrics[0]?.labels).toEqual({ source: m.memoryPeakSource })

    const ops = f.get('bookgen_profile_cache_operations_total')
    expect(ops?.type).toBe('COUNTER')
    const byOp = Object.fromEntries(ops?.metrics.map((s) => [s.labels?.op, Number(s.value)]) ?? [])
    expect(byOp).toEqual({ hit: 3, miss: 1, set: 0, delete: 0, error: 0 })
    expect(Number(f.get('bookgen_profile_cache_hit_ratio')?.metrics[0]?.value)).toBe(0.75)

    const q = f.get('bookgen_profile_db_query_duration_seconds')
    expect(q?.type).toBe('SUMMARY')
    const s = q?.metrics[0]
    expect(Number(s?.count)).toBe(3)
    expect(Number(s?.sum)).toBeCloseTo(0.53, 12)
    expect(Number(s?.quantiles?.['1'])).toBe(0.5)
    expect(Number(s?.quantiles?.['0.5'])).toBeGreaterThanOrEqual(0.02)
    expect(Number(s?.quantiles?.['0.5'])).toBeLessThanOrEqual(0.02 * (1 + 1 / 32))

    expect(Number(f.get('bookgen_profile_duration_seconds')?.metrics[0]?.value)).toBe(m.duration)
    expect(Number(f.get('bookgen_profile_memory_start_bytes')?.metrics[0]?.value)).toBe(
      m.memoryStart,
    )
    const gc = f.get('bookgen_profile_gc_pauses_total')
    const kinds = gc?.metrics.map((x) => x.labels?.kind).sort()
    expect(kinds).toEqual(['incremental', 'major', 'minor', 'weakcb'])
    expect(f.get('bookgen_profile_event_loop_delay_seconds')?.type).toBe('SUMMARY')
    expect(f.get('bookgen_profile_event_loop_utilization_ratio')?.type).toBe('GAUGE')
  })

  it('escapes label values and adds the profile name and constant labels', () => {
    const name = 'biography "Marie\\Curie"\n'
    const p = startProfile({ name, channels: false })
    p.recordCacheHit()
    const m = p.stop()
    const text = p.toPrometheus({ labels: { service: 'bookgen' } })
    const f = families(text)
    const peak = f.get('bookgen_profile_memory_peak_bytes')?.metrics[0]
    expect(peak?.labels).toEqual({ service: 'bookgen', profile: name, source: m.memoryPeakSource })
    expect(Number(peak?.value)).toBe(m.memoryPeak)
    const hits = f.get('bookgen_profile_cache_operations_total')?.metrics[0]
    expect(hits?.labels).toEqual({ service: 'bookgen', profile: name, op: 'hit' })
    expect(Number(hits?.value)).toBe(1)
    // This parser keeps only the quantiles of a labelled summary; the lines are still there.
    expect(text).toContain(
      'bookgen_profile_db_query_duration_seconds_count{service="bookgen",profile="biography \\"Marie\\\\Curie\\"\\n"} 0',
    )
  })

  it('honours a prefix and rejects invalid ones', () => {
    const p = startProfile({ channels: false })
    p.stop()
    const f = families(p.toPrometheus({ prefix: 'app_' }))
    expect(f.has('app_memory_peak_bytes')).toBe(true)
    expect(() => p.toPrometheus({ prefix: 'bad-prefix' })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    )
    expect(() => p.toPrometheus({ labels: { 'not-a-label': 'x' } })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    )
  })
})
