import { hostname } from 'node:os'
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  type ExponentialHistogram,
  InMemoryMetricExporter,
  InstrumentType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import { afterEach, describe, expect, it } from 'vitest'
import { startProfile } from '../src/index.js'
import { profileAttributes, recordProfile } from '../src/otel.js'

const providers: MeterProvider[] = []
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.shutdown()))
})

/** A real OTel SDK pipeline: exponential histograms, an in-memory exporter, flushed on demand. */
function pipeline() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({
    readers: [reader],
    views: [
      {
        instrumentType: InstrumentType.HISTOGRAM,
        aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM },
      },
    ],
  })
  providers.push(provider)
  const metrics = async () => {
    await reader.forceFlush()
    const all = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))
    return new Map(all.map((m) => [m.descriptor.name, m]))
  }
  return { meter: provider.getMeter('bookgen-test'), metrics }
}

describe('@bookgen/profiler/otel', () => {
  it('records a profile as metrics: an exponential histogram with exact count, min and max', async () => {
    const p = startProfile({ name: 'biography', channels: false })
    const durations = [0.004, 0.01, 0.012, 0.05, 0.5, 1.25]
    for (const d of durations) p.recordDbQuery(d)
    p.recordCacheHit()
    p.recordCacheHit()
    p.recordCacheMiss()
    const m = p.stop()
    const { meter, metrics } = pipeline()
    recordProfile(meter, p, { attributes: { 'deployment.environment': 'test' } })
    const got = await metrics()

    const q = got.get('bookgen.profile.db.query.duration')
    expect(q?.dataPointType).toBe(DataPointType.EXPONENTIAL_HISTOGRAM)
    expect(q?.descriptor.unit).toBe('s')
    const point = q?.dataPoints[0]
    const h = point?.value as ExponentialHistogram
    expect(h.count).toBe(6)
    expect(h.min).toBe(0.004)
    expect(h.max).toBe(1.25)
    const sum = durations.reduce((a, b) => a + b, 0)
    expect(Math.abs((h.sum ?? 0) - sum)).toBeLessThanOrEqual(sum / 32)
    expect(point?.attributes).toEqual({
      'host.name': hostname(),
      'process.pid': process.pid,
      'thread.id': 0,
      'bookgen.profiler.version': p.toJSON().resource.packageVersion,
      'bookgen.profile.name': 'biography',
      'deployment.environment': 'test',
    })

    const ops = got.get('bookgen.profile.cache.operations')
    const byOp = Object.fromEntries(ops?.dataPoints.map((d) => [d.attributes.op, d.value]) ?? [])
    expect(byOp).toEqual({ hit: 2, miss: 1, set: 0, delete: 0, error: 0 })
    const peak = got.get('bookgen.profile.memory.peak')?.dataPoints[0]
    expect(peak?.value).toBe(m.memoryPeak)
    expect(peak?.attributes.source).toBe(m.memoryPeakSource)
    expect(got.get('bookgen.profile.memory.peak')?.descriptor.unit).toBe('By')
    expect(got.get('bookgen.profile.cpu.time')?.dataPoints[0]?.value).toBe(m.cpuSeconds)
  })

  it('records a profile s JSON from another host under that host s attributes', async () => {
    const p = startProfile({ channels: false })
    p.recordDbQuery(0.02)
    p.stop()
    const json = JSON.parse(JSON.stringify(p))
    json.resource = { ...json.resource, host: 'worker-7', pid: 4242, threadId: 3 }
    expect(profileAttributes(json)).toMatchObject({
      'host.name': 'worker-7',
      'process.pid': 4242,
      'thread.id': 3,
    })
    const { meter, metrics } = pipeline()
    recordProfile(meter, json)
    recordProfile(meter, p)
    const points = (await metrics()).get('bookgen.profile.db.query.duration')?.dataPoints ?? []
    expect(points.map((d) => d.attributes['host.name']).sort()).toEqual(
      [hostname(), 'worker-7'].sort(),
    )
    expect(points.map((d) => (d.value as ExponentialHistogram).count)).toEqual([1, 1])
  })

  it('rejects a non-meter, a bad prefix and a v1 JSON with codes', () => {
    const p = startProfile({ channels: false })
    p.stop()
    const { meter } = pipeline()
    expect(() => recordProfile({} as never, p)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(() => recordProfile(meter, p, { prefix: '9bad' })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    )
    expect(() => recordProfile(meter, { ...p.toJSON(), version: 1 } as never)).toThrow(
      'profile[0].version must be 2',
    )
  })
})
