import { describe, expect, it } from 'vitest'
import { LogLinearHistogram, ProfilerError } from '../src/index.js'

function exactPercentile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!
}

describe('LogLinearHistogram', () => {
  it('reports zeros when empty', () => {
    const h = new LogLinearHistogram()
    expect(h.summary()).toEqual({
      count: 0,
      sum: 0,
      min: 0,
      mean: 0,
      p50: 0,
      p95: 0,
      p99: 0,
      max: 0,
    })
  })

  it('keeps count, sum, min and max exact', () => {
    const h = new LogLinearHistogram()
    for (const v of [0.045, 0.001, 2.5, 0.3]) h.record(v)
    expect(h.count).toBe(4)
    expect(h.sum).toBeCloseTo(2.846, 12)
    expect(h.min).toBe(0.001)
    expect(h.max).toBe(2.5)
    expect(h.mean).toBeCloseTo(0.7115, 12)
  })

  it('reports percentiles within 1/32 of the exact value over six orders of magnitude', () => {
    const h = new LogLinearHistogram()
    const values: number[] = []
    let seed = 42
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      const v = 10 ** (-6 + (seed / 2 ** 31) * 6) // 1 µs .. 1 s, log-uniform
      values.push(v)
      h.record(v)
    }
    values.sort((a, b) => a - b)
    for (const q of [0.01, 0.5, 0.9, 0.95, 0.99, 0.999]) {
      const exact = exactPercentile(values, q)
      const got = h.percentile(q)
      expect(got).toBeGreaterThanOrEqual(exact)
      expect((got - exact) / exact).toBeLessThanOrEqual(1 / 32)
    }
    expect(h.percentile(1)).toBe(values.at(-1))
  })

  it('honours a coarser precision', () => {
    const h = new LogLinearHistogram({ precisionBits: 2 })
    for (let i = 1; i <= 100; i++) h.record(i / 1000)
    const p50 = h.percentile(0.5)
    expect(p50).toBeGreaterThanOrEqual(0.05)
    expect(p50).toBeLessThanOrEqual(0.05 * 1.25)
  })

  it('counts zero in the lowest bucket and huge values as overflow, keeping min/max', () => {
    const h = new LogLinearHistogram()
    h.record(0)
    h.record(1e300)
    h.record(2 ** 41 + 1)
    expect(h.min).toBe(0)
    expect(h.max).toBe(1e300)
    expect(h.overflow).toBe(2)
    expect(h.count).toBe(3)
    // the lowest bucket holds everything below 2^-34 (58 ps)
    expect(h.percentile(0.3)).toBeLessThan(1e-10)
    // a rank among the overflowed values reports the exact max, never a clamped bucket bound
    expect(h.percentile(0.9)).toBe(1e300)
    expect(h.toBuckets().buckets).toEqual([[0, 1]])
  })

  it('counts -0 as zero, not in the top bucket', () => {
    const h = new LogLinearHistogram()
    h.record(-0)
    expect(h.toBuckets().buckets).toEqual([[0, 1]])
    expect(h.overflow).toBe(0)
    expect(Object.is(h.min, 0)).toBe(true)
    expect(Object.is(h.sum, 0)).toBe(true)
    expect(h.percentile(0.5)).toBe(0)
  })

  it('forgets everything on reset', () => {
    const h = new LogLinearHistogram()
    h.record(1)
    h.reset()
    expect(h.count).toBe(0)
    expect(h.percentile(0.99)).toBe(0)
  })

  it('rejects bad options and quantiles with codes', () => {
    expect(() => new LogLinearHistogram({ precisionBits: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', name: 'ProfilerError' }),
    )
    const h = new LogLinearHistogram()
    let error: unknown
    try {
      h.percentile(1.5)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ProfilerError)
    expect((error as ProfilerError).code).toBe('INVALID_ARGUMENT')
    expect((error as ProfilerError).message).toContain('1.5')
  })
})
