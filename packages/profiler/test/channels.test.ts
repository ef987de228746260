import { channel, hasSubscribers } from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { CHANNELS, performanceProfile, startProfile } from '../src/index.js'

// The documented message shapes, published directly: the profiler depends on no other package.
const cache = channel('bookgen:cache')
const db = channel('bookgen:db:query')
const tasks = channel('bookgen:parallel:task')
const hit = () =>
  cache.publish({ op: 'hit', key: 'bookgen:user:1', namespace: 'user', durationMs: 0.2 })
const miss = () =>
  cache.publish({ op: 'miss', key: 'bookgen:user:2', namespace: 'user', durationMs: 0.3 })
const query = (durationMs: number, extra: object = {}) =>
  db.publish({
    name: 'byId',
    sql: 'select * from users where id = $1',
    durationMs,
    rows: 1,
    ...extra,
  })

describe('diagnostics channels', () => {
  it('names the channels of the contract', () => {
    expect(CHANNELS).toEqual({
      cache: 'bookgen:cache',
      dbQuery: 'bookgen:db:query',
      parallelTask: 'bookgen:parallel:task',
    })
  })

  it('subscribes when the first profile starts and stays subscribed, recording nothing between profiles', async () => {
    // Nothing in this file has profiled yet: loading the package subscribed nothing, so
    // publishers build no message.
    expect(hasSubscribers('bookgen:cache')).toBe(false)
    expect(hasSubscribers('bookgen:db:query')).toBe(false)
    expect(hasSubscribers('bookgen:parallel:task')).toBe(false)
    await performanceProfile(() => hit(), { channels: false })
    expect(hasSubscribers('bookgen:cache')).toBe(false)
    hit()
    query(5)
    const p = startProfile()
    expect(hasSubscribers('bookgen:cache')).toBe(true)
    expect(hasSubscribers('bookgen:db:query')).toBe(true)
    expect(hasSubscribers('bookgen:parallel:task')).toBe(true)
    hit()
    p.stop()
    // No unsubscribe: toggling subscriptions deoptimizes the publishers each time.
    expect(hasSubscribers('bookgen:cache')).toBe(true)
    hit()
    query(10)
    const q = startProfile()
    hit()
    q.stop()
    expect([p.cacheHits, q.cacheHits, q.dbQueryCount]).toEqual([1, 1, 0])
  })

  it('records cache, query and task messages without manual calls', () => {
    const p = startProfile()
    hit()
    hit()
    hit()
    miss()
    cache.publish({ op: 'set', key: 'k', namespace: 'n', durationMs: 1 })
    cache.publish({ op: 'delete', key: 'k', namespace: 'n', durationMs: 1 })
    cache.publish({ op: 'error', key: 'k', namespace: 'n', durationMs: 1 })
    query(40)
    query(60)
    query(200, { error: new Error('timeout') })
    tasks.publish({ taskId: 't1', durationMs: 1500, success: true })
    tasks.publish({ taskId: 't2', durationMs: 500, success: false })
    const m = p.stop()
    expect(m.cacheHits).toBe(3)
    expect(m.cacheMisses).toBe(1)
    expect(m.cacheHitRatio).toBe(0.75)
    expect(m.cacheSets).toBe(1)
    expect(m.cacheDeletes).toBe(1)
    expect(m.cacheErrors).toBe(1)
    expect(m.dbQueryCount).toBe(3)
    expect(m.dbQueryAvg).toBeCloseTo(0.1, 12)
    expect(m.dbQueries.errors).toBe(1)
    expect(m.dbQueries.max).toBe(0.2)
    expect(m.tasks).toEqual({ count: 2, failed: 1, totalDuration: 2 })
  })

  it('ignores malformed messages and messages after stop', () => {
    const p = startProfile()
    db.publish({ sql: 'x', durationMs: -5 })
    db.publish({ sql: 'x', durationMs: Number.NaN })
    db.publish(null)
    cache.publish('hit')
    cache.publish({ op: 'weird', key: 'k', namespace: 'n', durationMs: 1 })
    const m = p.stop()
    hit()
    query(10)
    expect(m.dbQueryCount).toBe(0)
    expect(p.cacheHits + p.cacheMisses).toBe(0)
    expect(p.dbQueryCount).toBe(0)
  })

  it('keeps the counts of two concurrent isolated performanceProfile() calls apart', async () => {
    const [a, b] = await Promise.all([
      performanceProfile(
        async () => {
          for (let i = 0; i < 20; i++) {
            await sleep(1)
            hit()
            query(10)
          }
        },
        { isolate: true },
      ),
      performanceProfile(
        async () => {
          for (let i = 0; i < 10; i++) {
            await sleep(1)
            miss()
            setImmediate(() => query(50)) // callbacks keep the context too
          }
          await sleep(5)
        },
        { isolate: true },
      ),
    ])
    expect([a.cacheHits, a.cacheMisses, a.dbQueryCount]).toEqual([20, 0, 20])
    expect(a.dbQueryAvg).toBeCloseTo(0.01, 12)
    expect([b.cacheHits, b.cacheMisses, b.dbQueryCount]).toEqual([0, 10, 10])
    expect(b.dbQueryAvg).toBeCloseTo(0.05, 12)
  })

  it('records a nested isolated profile s messages in the enclosing one too', async () => {
    let inner: Awaited<ReturnType<typeof performanceProfile>> | undefined
    const outer = await performanceProfile(
      async () => {
        hit()
        inner = await performanceProfile(
          async () => {
            await sleep(1)
            miss()
          },
          { isolate: true },
        )
      },
      { isolate: true },
    )
    expect(inner?.cacheMisses).toBe(1)
    expect(inner?.cacheHits).toBe(0)
    expect([outer.cacheHits, outer.cacheMisses]).toEqual([1, 1])
  })

  it('leaves messages outside any isolated profile to the other profiles only', async () => {
    const global = startProfile()
    const scoped = performanceProfile(
      async () => {
        await sleep(10)
      },
      { isolate: true },
    )
    hit() // published from the test's context, not the scoped one
    await scoped
    const s = await scoped
    global.stop()
    expect(s.cacheHits).toBe(0)
    expect(global.cacheHits).toBe(1)
  })

  it('records every message in the process without isolate (the default)', async () => {
    const other = performanceProfile(
      async () => {
        await sleep(5)
        hit() // published from another profile's context
      },
      { isolate: true },
    )
    const open = await performanceProfile(async () => {
      await sleep(10)
    })
    const scoped = await other
    expect(open.cacheHits).toBe(1)
    expect(scoped.cacheHits).toBe(1)
    await expect(performanceProfile(async () => {}, { isolate: 1 as never })).rejects.toMatchObject(
      {
        code: 'INVALID_OPTION',
      },
    )
  })

  it('records no channel message with channels: false', async () => {
    const prof = await performanceProfile(
      async () => {
        hit()
      },
      { channels: false },
    )
    expect(prof.cacheHits).toBe(0)
  })
})
