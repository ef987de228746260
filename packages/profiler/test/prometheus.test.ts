import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { mergeProfiles, renderPrometheus, startProfile } from '../src/index.js'
import { registerProfiles } from '../src/promClientCollector.js'
import { pick, promtool } from './promText.js'

interface Family {
  name: string
  help: string
  type: string
  metrics: {
    value?: string
    labels?: Record<string, string>
    quantiles?: Record<string, string>
    buckets?: Record<string, string>
    sum?: string
    count?: string
  }[]
}

function families(text: string): Map<string, Family> {
  const parsed = parsePrometheusTextFormat(text) as Family[]
  return new Map(parsed.map((f) => [f.name, f]))
}

function profile(name: string | null, queries: number[], hits = 0) {
  const p = startProfile({ name, channels: false })
  for (const q of queries) p.recordDbQuery(q)
  for (let i = 0; i < hits; i++) p.recordCacheHit()
  p.recordCacheMiss()
  p.stop()
  return p
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

    expect(f.get('bookgen_profile_db_query_duration_seconds')?.type).toBe('HISTOGRAM')
    const text = p.toPrometheus()
    const name = 'bookgen_profile_db_query_duration_seconds'
    expect(pick(text, `${name}_count`)[0]?.value).toBe(3)
    expect(pick(text, `${name}_sum`)[0]?.value).toBeCloseTo(0.53, 12)
    // cumulative counts at power-of-two bounds are exact: 0.0078 s none, 0.0156 one, 0.031 two
    const le = (bound: string) => pick(text, `${name}_bucket`, { le: bound })[0]?.value
    expect(le(String(2 ** -7))).toBe(0)
    expect(le(String(2 ** -6))).toBe(1)
    expect(le(String(2 ** -5))).toBe(2)
    expect(le(String(2 ** -1))).toBe(3)
    expect(le('+Inf')).toBe(3)
    expect(pick(text, `${name}_bucket`)).toHaveLength(21)

    expect(Number(f.get('bookgen_profile_cpu_seconds_total')?.metrics[0]?.value)).toBe(m.cpuSeconds)
    expect(f.has('bookgen_profile_cpu_percent')).toBe(false)
    expect(Number(f.get('bookgen_profile_duration_seconds')?.metrics[0]?.value)).toBe(m.duration)
    const gc = f.get('bookgen_profile_gc_pauses_total')
    const kinds = gc?.metrics.map((x) => x.labels?.kind).sort()
    expect(kinds).toEqual(['incremental', 'major', 'minor', 'weakcb'])
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

describe('renderPrometheus()', () => {
  it('writes one HELP and TYPE per family for many profiles, told apart by a profile label', async () => {
    const a = profile('a', [0.01, 0.2], 3)
    const b = profile('b', [0.05], 1)
    const c = profile(null, [])
    const text = renderPrometheus([a, b.toJSON(), c], { labels: { service: 'bookgen' } })
    const helps = text.split('\n').filter((l) => l.startsWith('# HELP '))
    expect(new Set(helps).size).toBe(helps.length)
    const counts = pick(text, 'bookgen_profile_db_query_duration_seconds_count')
    expect(counts.map((s) => [s.labels.profile, s.value])).toEqual([
      ['a', 2],
      ['b', 1],
      ['2', 0],
    ])
    expect(counts.every((s) => s.labels.service === 'bookgen')).toBe(true)
    expect(
      pick(text, 'bookgen_profile_cache_operations_total', { op: 'hit', profile: 'a' })[0]?.value,
    ).toBe(3)
    expect(await promtool(text)).toBe('')
  })

  it('passes promtool check metrics for one profile, many, and a merged fleet', async () => {
    const profiles = [profile('x', [0.001, 0.5, 3]), profile('y', [0.02])]
    for (const text of [
      profiles[0]!.toPrometheus(),
      renderPrometheus(profiles, { labels: { host: 'h1' } }),
      renderPrometheus(profiles, { buckets: [0.005, 0.01, 0.1, 1, 10] }),
    ]) {
      expect(await promtool(text)).toBe('')
    }
    // a merged fleet's histogram is the sum of the instances' buckets
    const merged = mergeProfiles(profiles)
    expect(merged.dbQueries.count).toBe(4)
  })

  it('rejects reserved, invalid and clashing labels and non-string values with INVALID_OPTION', () => {
    const p = profile('p', [0.01])
    for (const key of ['quantile', 'le', 'profile', 'op', 'source', 'kind', 'outcome', '__x']) {
      expect(() => renderPrometheus([p], { labels: { [key]: 'x' } })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining(key) }),
      )
    }
    expect(() => renderPrometheus([p], { labels: { region: 5 as never } })).toThrow(
      'options.labels.region must be a string, got 5',
    )
    expect(() => renderPrometheus([p], { buckets: [0.1, 0.1] })).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTION',
        message: expect.stringContaining('buckets[1]'),
      }),
    )
  })

  it('rejects two profiles with the same label, and a v1 JSON, with INVALID_ARGUMENT', () => {
    const a = profile('same', [])
    const b = profile('same', [])
    expect(() => renderPrometheus([a, b])).toThrow(
      /profiles\[1\] has the same profile label "same" as profiles\[0\]/,
    )
    const v1 = { ...a.toJSON(), version: 1 } as never
    expect(() => renderPrometheus([v1])).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('profiles[0].version'),
      }),
    )
    expect(() => renderPrometheus('x' as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })
})

describe('registerProfiles() (prom-client)', () => {
  it('adds the profiles to an existing Registry next to its own metrics, read at scrape time', async () => {
    const registry = new Registry()
    registry.setDefaultLabels({ app: 'demo' })
    const { Counter } = await import('prom-client')
    new Counter({ name: 'app_requests_total', help: 'Requests.', registers: [registry] }).inc(2)
    const profiles = [profile('a', [0.01])]
    const unregister = registerProfiles(registry, () => profiles)
    const first = await registry.metrics()
    expect(pick(first, 'app_requests_total')[0]?.value).toBe(2)
    // the registry's default labels are added
    expect(pick(first, 'bookgen_profile_db_query_duration_seconds_count')[0]?.labels).toEqual({
      profile: 'a',
      app: 'demo',
    })
    const inf = pick(first, 'bookgen_profile_db_query_duration_seconds_bucket', { le: '+Inf' })
    expect(inf[0]?.value).toBe(1)
    profiles.push(profile('b', [0.01, 0.02]))
    const text = await registry.metrics()
    const counts = pick(text, 'bookgen_profile_db_query_duration_seconds_count')
    expect(counts.map((s) => s.value)).toEqual([1, 2])
    expect(await promtool(text)).toBe('')
    unregister()
    const after = await registry.metrics()
    expect(pick(after, 'bookgen_profile_memory_peak_bytes')).toEqual([])
    expect(pick(after, 'app_requests_total')[0]?.value).toBe(2)
  })
})
