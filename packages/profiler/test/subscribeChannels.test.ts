import { channel, hasSubscribers } from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { performanceProfile, startProfile, subscribeChannels } from '../src/index.js'
import { MiB, spike } from './memorySpike.js'

// A file of its own: subscribeChannels() subscribes for the life of the module, so the state
// before it is only observable in a fresh module graph.
const cache = channel('bookgen:cache')
const db = channel('bookgen:db:query')
const tasks = channel('bookgen:parallel:task')

// Published the way @bookgen/cache and @bookgen/db-optimizer publish: only while subscribed, the
// query message built key by key.
function publishCache(op: 'hit' | 'miss', i: number): void {
  if (cache.hasSubscribers)
    cache.publish({ op, key: `bookgen:user:${i}`, namespace: 'user', durationMs: 0.1 })
}
function publishQuery(durationMs: number, rows?: number): void {
  if (!db.hasSubscribers) return
  const message: Record<string, unknown> = { sql: 'select * from users where id = $1', durationMs }
  if (rows !== undefined) message.rows = rows
  db.publish(message)
}
function publishTask(success: boolean): void {
  if (tasks.hasSubscribers) tasks.publish({ taskId: 't', durationMs: 2, success })
}

describe('subscribeChannels()', () => {
  it('subscribes at once and for good, and records nothing without a profile', async () => {
    expect(hasSubscribers('bookgen:cache')).toBe(false)
    // Its first call also runs a profile's start and stop once (to prepare the code): that run
    // must leave the kernel mark of a running profile alone and hand nothing over.
    const running = startProfile({ sampleIntervalMs: 0 })
    const during = await spike(100 * MiB)
    subscribeChannels()
    const r = running.stop()
    expect(r.memoryPeakHandovers).toBe(0)
    // The thousands of messages the handlers are prepared with reach no open profile.
    expect([r.cacheHits, r.cacheMisses, r.cacheSets, r.cacheErrors]).toEqual([0, 0, 0, 0])
    expect([r.dbQueryCount, r.dbQueries.errors, r.tasks.count]).toEqual([0, 0, 0])
    if (r.memoryPeakSource === 'vmhwm') expect(r.memoryPeak).toBeGreaterThanOrEqual(during)
    subscribeChannels()
    expect(hasSubscribers('bookgen:cache')).toBe(true)
    expect(hasSubscribers('bookgen:db:query')).toBe(true)
    expect(hasSubscribers('bookgen:parallel:task')).toBe(true)
    // Publishers that ran hot before any profile: nothing of it reaches a later profile, nor
    // the messages the handlers were prepared with.
    for (let i = 0; i < 5000; i++) {
      publishCache(i % 4 === 0 ? 'miss' : 'hit', i)
      publishQuery(1, 1)
      publishTask(true)
    }
    const p = startProfile()
    const m = p.stop()
    expect([m.cacheHits, m.cacheMisses, m.cacheSets, m.cacheErrors]).toEqual([0, 0, 0, 0])
    expect([m.dbQueryCount, m.dbQueries.errors, m.tasks.count]).toEqual([0, 0, 0])
  })

  it('attributes every message in a later profile window, and none outside it', () => {
    subscribeChannels()
    for (let i = 0; i < 1000; i++) publishCache('hit', i)
    const p = startProfile()
    for (let i = 0; i < 300; i++) {
      publishCache(i % 3 === 0 ? 'miss' : 'hit', i)
      publishQuery(i % 2 === 0 ? 4 : 8, i % 5 === 0 ? undefined : 1)
      publishTask(i % 10 !== 0)
    }
    cache.publish({
      op: 'error',
      key: 'k',
      namespace: 'user',
      durationMs: 0,
      error: new Error('x'),
    })
    db.publish({ sql: 'select 1', durationMs: 2, error: new Error('timeout') })
    const m = p.stop()
    for (let i = 0; i < 100; i++) publishCache('hit', i)
    expect([m.cacheHits, m.cacheMisses, m.cacheErrors]).toEqual([200, 100, 1])
    expect(m.dbQueryCount).toBe(301)
    expect(m.dbQueries.errors).toBe(1)
    expect(m.dbQueryAvg).toBeCloseTo((150 * 0.004 + 150 * 0.008 + 0.002) / 301, 12)
    expect([m.tasks.count, m.tasks.failed]).toEqual([300, 30])
    expect(m.tasks.totalDuration).toBeCloseTo(0.6, 12)
    expect(p.cacheHits).toBe(200)
  })

  it('gives overlapping profiles every message of their own windows', () => {
    subscribeChannels()
    const a = startProfile()
    publishCache('hit', 1)
    const b = startProfile()
    publishCache('hit', 2)
    publishQuery(10)
    a.stop()
    publishCache('miss', 3)
    b.stop()
    expect([a.cacheHits, a.cacheMisses, a.dbQueryCount]).toEqual([2, 0, 1])
    expect([b.cacheHits, b.cacheMisses, b.dbQueryCount]).toEqual([1, 1, 1])
  })

  it('keeps two concurrent isolated profiles apart after an early subscription', async () => {
    subscribeChannels()
    const [a, b] = await Promise.all([
      performanceProfile(
        async () => {
          for (let i = 0; i < 20; i++) {
            await sleep(1)
            publishCache('hit', i)
            publishQuery(10)
          }
        },
        { isolate: true },
      ),
      performanceProfile(
        async () => {
          for (let i = 0; i < 10; i++) {
            await sleep(1)
            publishCache('miss', i)
            publishTask(false)
          }
        },
        { isolate: true },
      ),
    ])
    publishCache('hit', 0)
    expect([a.cacheHits, a.cacheMisses, a.dbQueryCount, a.getMetrics().tasks.count]).toEqual([
      20, 0, 20, 0,
    ])
    expect([b.cacheHits, b.cacheMisses, b.dbQueryCount, b.getMetrics().tasks.failed]).toEqual([
      0, 10, 0, 10,
    ])
  })
})
