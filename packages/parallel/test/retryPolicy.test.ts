import { describe, expect, it } from 'vitest'
import { RetryPolicy } from '../src/retryPolicy.js'

const policy = (retryDelay: number, maxRetryDelay = 30_000) =>
  new RetryPolicy({ retries: 5, retryDelay, maxRetryDelay }, () => {})

describe('RetryPolicy.delay', () => {
  it('doubles the backoff per attempt and jitters it within its upper half', () => {
    const p = policy(100)
    for (const [attempt, backoff] of [
      [1, 100],
      [2, 200],
      [3, 400],
    ] as const) {
      const delays = Array.from({ length: 2000 }, () => p.delay(attempt))
      for (const d of delays) {
        expect(d).toBeGreaterThanOrEqual(backoff / 2)
        expect(d).toBeLessThanOrEqual(backoff)
      }
      // spread over the whole upper half, not one fixed value (2,000 draws: the chance of
      // missing either tenth of the range is below 1e-90)
      expect(Math.min(...delays)).toBeLessThan(backoff * 0.55)
      expect(Math.max(...delays)).toBeGreaterThan(backoff * 0.95)
      expect(new Set(delays).size).toBeGreaterThan(1900)
    }
  })

  it('caps the backoff at maxRetryDelay before jitter', () => {
    const p = policy(100, 250)
    const delays = Array.from({ length: 500 }, () => p.delay(6))
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(125)
      expect(d).toBeLessThanOrEqual(250)
    }
  })

  it('schedules a retry only while attempts are left, and clear() cancels pending ones', async () => {
    const ready: number[] = []
    const p = new RetryPolicy({ retries: 1, retryDelay: 1, maxRetryDelay: 1 }, (i) => ready.push(i))
    expect(p.schedule(7, 1)).toBe(true)
    expect(p.schedule(8, 2)).toBe(false)
    expect(p.schedule(9, 1)).toBe(true)
    p.clear()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(ready).toEqual([])
    expect(p.schedule(7, 1)).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(ready).toEqual([7])
  })
})
