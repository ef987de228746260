import { describe, expect, it } from 'vitest'
import { DEFAULT_CRITERIA, ProfilerError, startProfile, validateCriteria } from '../src/index.js'

const GiB = 1024 ** 3

describe('check() and assert()', () => {
  it('uses the original targets by default', () => {
    expect(DEFAULT_CRITERIA).toEqual({
      maxMemoryPeak: 1.5 * GiB,
      maxDbQueryAvg: 0.1,
      minCacheHitRatio: 0.8,
    })
    const p = startProfile({ channels: false })
    p.recordDbQuery(0.045)
    for (let i = 0; i < 9; i++) p.recordCacheHit()
    p.recordCacheMiss()
    p.stop()
    expect(p.check()).toEqual({ ok: true, violations: [], skipped: [] })
    expect(() => p.assert()).not.toThrow()
  })

  it('lists every violation with metric, limit and actual value', () => {
    const p = startProfile({ channels: false })
    p.recordDbQuery(0.2)
    p.recordCacheHit()
    p.recordCacheMiss()
    p.stop()
    const result = p.check({ maxDbQueryAvg: 0.1, minCacheHitRatio: 0.8, maxMemoryPeak: 1 })
    expect(result.ok).toBe(false)
    expect(result.violations.map((v) => v.criterion)).toEqual([
      'maxDbQueryAvg',
      'minCacheHitRatio',
      'maxMemoryPeak',
    ])
    const [db, ratio] = result.violations
    expect(db).toMatchObject({ metric: 'dbQueryAvg', limit: 0.1, actual: 0.2 })
    expect(db?.message).toBe('dbQueryAvg 200.00 ms exceeds maxDbQueryAvg 100.00 ms')
    expect(ratio).toMatchObject({ metric: 'cacheHitRatio', limit: 0.8, actual: 0.5 })
  })

  it('assert() throws one error listing them all', () => {
    const p = startProfile({ name: 'slow', channels: false })
    p.recordDbQuery(0.3)
    p.recordDbQuery(0.9)
    p.stop()
    let error: ProfilerError | undefined
    try {
      p.assert({ maxDbQueryAvg: 0.1, maxDbQueryMax: 0.5, maxDbQueryP95: 0.5 })
    } catch (e) {
      error = e as ProfilerError
    }
    expect(error).toBeInstanceOf(ProfilerError)
    expect(error?.code).toBe('CRITERIA_NOT_MET')
    expect(error?.violations).toHaveLength(3)
    expect(error?.message).toMatch(
      /^profile "slow" violated 3 criteria: dbQueryAvg .*; dbQueries.max .*; dbQueries.p95 /,
    )
  })

  it('skips the hit ratio when there was no cache lookup', () => {
    const p = startProfile({ channels: false })
    p.stop()
    expect(p.check()).toEqual({ ok: true, violations: [], skipped: ['minCacheHitRatio'] })
  })

  it('checks the other criteria', () => {
    const p = startProfile({ channels: false })
    p.stop()
    const r = p.check({
      maxDuration: 0,
      maxMemoryIncrease: 10 * GiB,
      maxHeapPeak: 1,
      maxGcPause: 10,
    })
    expect(r.violations.map((v) => v.criterion)).toEqual(['maxDuration', 'maxHeapPeak'])
  })

  it('rejects unknown criteria and non-numeric limits with codes', () => {
    const p = startProfile({ channels: false })
    p.stop()
    expect(() => p.check({ maxMemoryPeek: 1 } as never)).toThrow(
      expect.objectContaining({
        code: 'UNKNOWN_CRITERION',
        message: expect.stringContaining('criteria.maxMemoryPeek'),
      }),
    )
    expect(() => p.assert({ maxDbQueryAvg: Number.NaN })).toThrow(
      expect.objectContaining({ code: 'INVALID_CRITERION' }),
    )
    expect(() => validateCriteria(null)).toThrow(
      expect.objectContaining({ code: 'INVALID_CRITERION' }),
    )
    expect(validateCriteria({ maxDuration: 1 })).toEqual({ maxDuration: 1 })
  })
})
