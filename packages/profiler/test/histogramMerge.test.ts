import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LogLinearHistogram } from '../src/index.js'

// Durations from 0 to far beyond the buckets, powers of two (bucket edges) included.
const value = fc.oneof(
  fc.double({ min: 0, max: 1e4, noNaN: true }),
  fc.double({ min: 0, max: 1e13, noNaN: true }),
  fc.integer({ min: -40, max: 45 }).map((e) => 2 ** e),
  fc.constantFrom(0, -0),
)
const values = fc.array(value, { maxLength: 300 })

function of(xs: number[], precisionBits?: number): LogLinearHistogram {
  const h = new LogLinearHistogram({ precisionBits })
  for (const x of xs) h.record(x)
  return h
}

function exactPercentile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!
}

describe('LogLinearHistogram merges', () => {
  it('merging two histograms gives exactly the buckets of one fed both inputs', () => {
    fc.assert(
      fc.property(values, values, (a, b) => {
        const merged = of(a).merge(of(b)).toBuckets()
        const direct = of([...a, ...b]).toBuckets()
        expect({ ...merged, sum: 0 }).toEqual({ ...direct, sum: 0 })
        // sums added in another order differ in the last bits only
        expect(Math.abs(merged.sum - direct.sum)).toBeLessThanOrEqual(
          1e-12 * Math.max(1, direct.sum),
        )
      }),
    )
  })

  it('round-trips through toBuckets() / fromBuckets() and JSON', () => {
    fc.assert(
      fc.property(values, (xs) => {
        const h = of(xs)
        const back = LogLinearHistogram.fromBuckets(JSON.parse(JSON.stringify(h.toBuckets())))
        expect(back.toBuckets()).toEqual(h.toBuckets())
        expect(back.percentiles([0.5, 0.9, 0.99])).toEqual(h.percentiles([0.5, 0.9, 0.99]))
      }),
    )
  })

  it('folds a finer histogram into a coarser one like recording into the coarser directly', () => {
    fc.assert(
      fc.property(values, fc.integer({ min: 1, max: 5 }), (xs, coarse) => {
        const folded = of([], coarse).merge(of(xs, 8)).toBuckets()
        expect(folded).toEqual(of(xs, coarse).toBuckets())
      }),
    )
  })

  it('counts values at most a power of two exactly, and percentiles stay within 1/32', () => {
    fc.assert(
      fc.property(values, fc.integer({ min: -30, max: 40 }), (xs, e) => {
        const h = of(xs)
        const bound = 2 ** e
        expect(h.countAtMost(bound)).toBe(xs.filter((x) => x <= bound).length)
        const sorted = xs.map((x) => x + 0).sort((x, y) => x - y)
        for (const q of [0.5, 0.9, 0.99]) {
          if (sorted.length === 0) continue
          const exact = exactPercentile(sorted, q)
          const got = h.percentile(q)
          expect(got).toBeGreaterThanOrEqual(exact)
          if (exact >= 2 ** -34 && exact <= 2 ** 41)
            expect(got).toBeLessThanOrEqual(exact * (1 + 1 / 32))
        }
      }),
    )
  })

  it('rejects a coarser or malformed histogram with INVALID_ARGUMENT', () => {
    const fine = new LogLinearHistogram({ precisionBits: 6 })
    expect(() => fine.merge(of([1], 2))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    const bad = { ...of([1, 2]).toBuckets(), count: 3 }
    expect(() => LogLinearHistogram.fromBuckets(bad)).toThrow(/add up to 2, not count 3/)
    expect(() => LogLinearHistogram.fromBuckets(null as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })
})
