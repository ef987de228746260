import { describe, expect, it } from 'vitest'
import { percentile, Samples } from '../src/metrics.js'

describe('duration samples', () => {
  it('computes exact nearest-rank percentiles while under the reservoir size', () => {
    const samples = new Samples()
    for (let i = 100; i >= 1; i--) samples.add(i)
    expect(samples.stats()).toEqual({ count: 100, mean: 50.5, p50: 50, p95: 95, p99: 99, max: 100 })
    expect(percentile([], 0.5)).toBe(0)
  })

  it('keeps a uniform sample beyond the reservoir (percentiles within a few %)', () => {
    const samples = new Samples()
    const n = 200_000
    for (let i = 1; i <= n; i++) samples.add(i)
    const stats = samples.stats()
    expect(stats.count).toBe(n)
    expect(stats.max).toBe(n)
    expect(stats.mean).toBeCloseTo((n + 1) / 2, 6)
    expect(Math.abs(stats.p50 / (n / 2) - 1)).toBeLessThan(0.05)
    expect(Math.abs(stats.p95 / (n * 0.95) - 1)).toBeLessThan(0.03)
  })
})
