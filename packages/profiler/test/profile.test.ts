import { availableParallelism } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { ProfilerError, performanceProfile, startProfile } from '../src/index.js'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ProfilerError)
    return (error as ProfilerError).code
  }
  return undefined
}

describe('startProfile', () => {
  it('records queries and cache lookups like the original monitor', () => {
    const p = startProfile({ channels: false })
    p.recordDbQuery(0.045)
    p.recordDbQuery(0.055)
    p.recordCacheHit()
    p.recordCacheHit()
    p.recordCacheHit()
    p.recordCacheMiss()
    const m = p.stop()
    expect(m.dbQueryAvg).toBeCloseTo(0.05, 12)
    expect(m.dbQueryCount).toBe(2)
    expect(m.dbQueries.max).toBe(0.055)
    expect(m.dbQueries.min).toBe(0.045)
    expect(m.cacheHits).toBe(3)
    expect(m.cacheMisses).toBe(1)
    expect(m.cacheHitRatio).toBe(0.75)
    expect(p.cacheHitRatio).toBe(0.75)
    expect(m.running).toBe(false)
  })

  it('times queries with startDbQuery()/end() and endDbQuery()', async () => {
    const p = startProfile()
    const end = p.startDbQuery()
    await sleep(20)
    const first = end()
    expect(first).toBeGreaterThanOrEqual(0.015)
    p.startDbQuery()
    p.startDbQuery()
    expect(p.endDbQuery()).toBeGreaterThanOrEqual(0)
    expect(p.endDbQuery()).toBeGreaterThanOrEqual(0)
    expect(p.dbQueryCount).toBe(3)
    expect(codeOf(() => p.endDbQuery())).toBe('NO_PENDING_QUERY')
    expect(codeOf(() => end())).toBe('NO_PENDING_QUERY')
    p.stop()
  })

  it('measures duration, times and CPU', async () => {
    const before = Date.now() / 1000
    const cpuBefore = process.cpuUsage()
    const wallBefore = performance.now()
    const p = startProfile()
    // 80 ms busy and a 40 ms timer: clearly past the 100 ms below which cpuPercent is null (a
    // 40 ms timer may fire after 39.x ms of performance.now(): libuv's clock is whole ms)
    const until = performance.now() + 80
    while (performance.now() < until) {}
    await sleep(40)
    const m = p.stop()
    const cpu = process.cpuUsage(cpuBefore)
    const outer = ((cpu.user + cpu.system) / 1000 / (performance.now() - wallBefore)) * 100
    expect(m.duration).toBeGreaterThanOrEqual(0.115)
    expect(m.duration).toBeLessThan(5)
    expect(m.startTime).toBeGreaterThanOrEqual(before - 0.01)
    expect(m.endTime - m.startTime).toBeCloseTo(m.duration, 6)
    // the same figure as process.cpuUsage() measured around the profile (the machine may be busy)
    expect(m.cpuPercent).toBeGreaterThan(0)
    expect(Math.abs((m.cpuPercent ?? 0) - outer)).toBeLessThan(15)
    expect(m.memoryStart).toBeGreaterThan(0)
    expect(m.memoryIncrease).toBe(m.memoryEnd - m.memoryStart)
    expect(m.heapPeak).toBeGreaterThanOrEqual(m.heapStart)
    expect(m.eventLoopUtilization).toBeGreaterThan(0.3)
    expect(p.duration).toBe(m.duration)
  })

  it('reports no cpuPercent for a window too short to measure, and skips maxCpuPercent', () => {
    for (let i = 0; i < 200; i++) {
      const p = startProfile({ channels: false, gc: false, eventLoop: false, sampleIntervalMs: 0 })
      const m = p.stop()
      expect(m.cpuSeconds).toBeGreaterThanOrEqual(0)
      // a descheduled start/stop on a busy machine can last 100 ms: then the figure is reported
      if (m.duration >= 0.1) {
        expect(m.cpuPercent).toBeLessThanOrEqual(100 * availableParallelism())
        continue
      }
      expect(m.cpuPercent).toBeNull()
      const result = p.check({ maxCpuPercent: 1 })
      expect(result.ok).toBe(true)
      expect(result.skipped).toEqual(['maxCpuPercent'])
    }
  })

  it('keeps cpuPercent within 0..100 x cores once the window is long enough', async () => {
    const p = startProfile({ channels: false, gc: false, eventLoop: false, sampleIntervalMs: 0 })
    const until = performance.now() + 120
    while (performance.now() < until) {}
    const m = p.stop()
    expect(m.cpuPercent).not.toBeNull()
    expect(m.cpuPercent).toBeGreaterThanOrEqual(0)
    expect(m.cpuPercent).toBeLessThanOrEqual(100 * availableParallelism())
  })

  it('records -0 as a zero duration', () => {
    const p = startProfile({ channels: false })
    p.recordDbQuery(-0)
    const m = p.stop()
    expect(m.dbQueries.max).toBe(0)
    expect(m.dbQueries.p99).toBe(0)
    expect(Object.is(m.dbQueries.min, 0)).toBe(true)
  })

  it('reports live figures while running and freezes them at stop', async () => {
    const p = startProfile()
    expect(p.running).toBe(true)
    const a = p.getMetrics().duration
    await sleep(10)
    expect(p.getMetrics().duration).toBeGreaterThan(a)
    const m = p.stop()
    await sleep(10)
    expect(p.getMetrics().duration).toBe(m.duration)
    expect(p.getMetrics().endTime).toBe(m.endTime)
  })

  it('stops at the end of a using block', () => {
    let outside: ReturnType<typeof startProfile>
    {
      using p = startProfile()
      p.recordCacheHit()
      outside = p
    }
    expect(outside.running).toBe(false)
    expect(outside.cacheHits).toBe(1)
  })

  it('stops at the end of an await using block', async () => {
    let outside: ReturnType<typeof startProfile>
    {
      await using p = startProfile()
      await sleep(1)
      outside = p
    }
    expect(outside.running).toBe(false)
  })

  it('toJSON() gives a versioned plain object', () => {
    const p = startProfile({ name: 'json' })
    p.recordDbQuery(0.01)
    p.stop()
    const json = JSON.parse(JSON.stringify(p))
    expect(json.version).toBe(2)
    expect(json.name).toBe('json')
    expect(json.dbQueries.count).toBe(1)
    expect(json.gc.byKind).toHaveProperty('major')
    expect(json).toEqual(p.toJSON())
  })
})

describe('bad input', () => {
  it('rejects negative, NaN and infinite durations naming the value', () => {
    const p = startProfile()
    for (const bad of [-0.001, Number.NaN, Number.POSITIVE_INFINITY, '0.1' as unknown as number]) {
      expect(codeOf(() => p.recordDbQuery(bad))).toBe('INVALID_DURATION')
    }
    expect(() => p.recordDbQuery(-1)).toThrow(/seconds must be .* got -1$/)
    expect(() => p.recordDbQuery('0.1' as never)).toThrow(/got "0\.1"$/)
    expect(p.dbQueryCount).toBe(0)
    p.stop()
  })

  it('rejects stop() twice and recording after stop', () => {
    const p = startProfile()
    p.stop()
    expect(codeOf(() => p.stop())).toBe('ALREADY_STOPPED')
    expect(codeOf(() => p.recordCacheHit())).toBe('ALREADY_STOPPED')
    expect(codeOf(() => p.recordDbQuery(0.1))).toBe('ALREADY_STOPPED')
    expect(codeOf(() => p.startDbQuery())).toBe('ALREADY_STOPPED')
    expect(codeOf(() => p.updateMemoryPeak())).toBe('ALREADY_STOPPED')
    // disposing a stopped profile is fine
    p[Symbol.dispose]()
  })

  it('rejects bad options with INVALID_OPTION', () => {
    expect(codeOf(() => startProfile({ sampleIntervalMs: -1 }))).toBe('INVALID_OPTION')
    expect(codeOf(() => startProfile({ eventLoopResolutionMs: 0 }))).toBe('INVALID_OPTION')
    expect(codeOf(() => startProfile({ gc: 'yes' as unknown as boolean }))).toBe('INVALID_OPTION')
    expect(codeOf(() => startProfile({ nmae: 'x' } as never))).toBe('INVALID_OPTION')
    expect(() => startProfile({ heapPeak: 'exact' as never })).toThrow(
      "options.heapPeak must be 'gc' or 'sampler', got \"exact\"",
    )
    expect(() => startProfile({ sampleIntervalMs: 1.5 })).toThrow(
      'options.sampleIntervalMs must be a non-negative integer, got 1.5',
    )
  })

  it('rejects a non-function for performanceProfile', async () => {
    await expect(performanceProfile(42 as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
  })
})

describe('performanceProfile', () => {
  it('runs fn with the profile and resolves with it stopped', async () => {
    const prof = await performanceProfile(async (p) => {
      p.recordDbQuery(0.02)
      p.recordCacheHit()
      await sleep(5)
    })
    expect(prof.running).toBe(false)
    expect(prof.dbQueryAvg).toBe(0.02)
    expect(prof.cacheHitRatio).toBe(1)
    expect(prof.duration).toBeGreaterThanOrEqual(0.004)
  })

  it('keeps what fn returned, awaited, as result', async () => {
    const prof = await performanceProfile(async () => ({ chapters: 12 }))
    expect(prof.result).toEqual({ chapters: 12 })
    expect((await performanceProfile(() => 'sync')).result).toBe('sync')
    expect((await performanceProfile(() => {})).result).toBeUndefined()
    // result stays out of the metrics
    expect(prof.toJSON()).not.toHaveProperty('result')
  })

  it('stops the profile and rethrows when fn throws', async () => {
    let seen: ReturnType<typeof startProfile> | undefined
    await expect(
      performanceProfile(async (p) => {
        seen = p
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    expect(seen?.running).toBe(false)
  })
})

describe('package version', () => {
  it('is the version in package.json', async () => {
    const { VERSION } = await import('../src/version.js')
    const pkg = await import('../package.json', { with: { type: 'json' } })
    expect(VERSION).toBe(pkg.default.version)
  })
})
