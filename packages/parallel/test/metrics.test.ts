import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
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

  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('records a batch (addMany, addRepeated) exactly as the same values one by one', () => {
    /** The same pseudo-random draws for both sides. */
    const seeded = (seed: number) => {
      let state = seed >>> 0 || 1
      return () => {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0
        return (state + 0.5) / 2 ** 32
      }
    }
    const duration = fc.double({ min: 0, max: 1e6, noNaN: true })
    const batch = fc.oneof(
      fc.record({ values: fc.array(duration, { maxLength: 3000 }) }),
      fc.record({ value: duration, times: fc.nat(12_000) }),
    )
    fc.assert(
      fc.property(fc.array(batch, { maxLength: 8 }), fc.nat(), (batches, seed) => {
        const one = new Samples()
        vi.spyOn(Math, 'random').mockImplementation(seeded(seed))
        for (const b of batches) {
          if ('values' in b) for (const v of b.values) one.add(v)
          else for (let k = 0; k < b.times; k++) one.add(b.value)
        }
        const many = new Samples()
        vi.spyOn(Math, 'random').mockImplementation(seeded(seed))
        for (const b of batches) {
          if ('values' in b) many.addMany(b.values, b.values.length)
          else many.addRepeated(b.value, b.times)
        }
        expect(many.stats()).toStrictEqual(one.stats())
      }),
      { numRuns: 60 },
    )
  })
})
