// Statistics and the diagnostics channel: every statement measured at the driver.
import { AsyncLocalStorage } from 'node:async_hooks'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { eq, sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { DurationStats } from '../src/durationStats.js'
import { QUERY_CHANNEL, type QueryChannelMessage, QueryOptimizer } from '../src/index.js'
import { seededDriverSuite } from './driverSuite.js'
import { drivers, sourceRows } from './drivers.js'

describe('DurationStats', () => {
  it('keeps count, total and max exactly and the most recent samples for percentiles', () => {
    const stats = new DurationStats(4)
    stats.add(50, false)
    for (const ms of [1, 2, 3, 4]) stats.add(ms, ms === 4)
    expect(stats.summary()).toEqual({
      count: 5,
      avgMs: 12,
      p50Ms: 2,
      p95Ms: 4,
      p99Ms: 4,
      maxMs: 50,
      totalMs: 60,
      errors: 1,
    })
  })
})

describe.each(drivers)('QueryOptimizer statistics on $name', (driver) => {
  const suite = seededDriverSuite(driver, 200)

  it('measures every statement at the driver, by shape and by span name', async () => {
    const optimizer = new QueryOptimizer(suite.database.db)
    const rows = await optimizer.timeQuery('get_sources', () =>
      suite.database.db.select().from(suite.tables.sources),
    )
    expect(rows).toHaveLength(200)
    for (let i = 1; i <= 5; i++) {
      await suite.database.db
        .select()
        .from(suite.tables.sources)
        .where(eq(suite.tables.sources.id, i))
    }
    await suite.database.db.execute(sql`select pg_sleep(0.05)`)
    const stats = optimizer.getQueryStats()
    expect(stats.all.count).toBe(7)
    expect(stats.byName.get_sources?.count).toBe(1)
    const byId = Object.entries(stats.byShape).find(
      ([s]) => s.includes('where') && s.includes('"id" = ?'),
    )
    expect(byId?.[1].count).toBe(5)
    const sleep = Object.entries(stats.byShape).find(([s]) => s.includes('pg_sleep'))?.[1]
    expect(sleep?.maxMs).toBeGreaterThanOrEqual(50)
    expect(sleep?.p50Ms).toBe(sleep?.maxMs)
    expect(stats.all.maxMs).toBeGreaterThanOrEqual(sleep?.maxMs ?? Number.NaN)
    expect(stats.all.p99Ms).toBeLessThanOrEqual(stats.all.maxMs)
    expect(stats.all.p50Ms).toBeLessThanOrEqual(stats.all.p95Ms)
    const avg = optimizer.getAverageQueryTime()
    expect(avg).toBeCloseTo(stats.all.totalMs / 7 / 1000, 9)
    expect(avg).toBeGreaterThan(0.05 / 7)
    optimizer.reset()
    expect(optimizer.getAverageQueryTime()).toBe(0)
    optimizer.close()
  })

  it('times BEGIN and COMMIT (or ROLLBACK) of transactions, and the statements inside', async () => {
    const optimizer = new QueryOptimizer(suite.database.db)
    const messages: QueryChannelMessage[] = []
    const onMessage = (m: unknown) => messages.push(m as QueryChannelMessage)
    subscribe(QUERY_CHANNEL, onMessage)
    try {
      await suite.database.db.transaction(async (tx) => {
        await tx.select().from(suite.tables.sources).limit(1)
        await tx.execute(sql`select 1`)
      })
      await expect(
        suite.database.db.transaction(async (tx) => {
          await tx.execute(sql`select 2`)
          throw new Error('undo')
        }),
      ).rejects.toThrow('undo')
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
    }
    expect(messages.map((m) => m.sql.split(' ')[0])).toEqual([
      'begin',
      'select',
      'select',
      'commit',
      'begin',
      'select',
      'rollback',
    ])
    for (const m of messages) expect(m.durationMs).toBeGreaterThanOrEqual(0)
    const { byShape, all } = optimizer.getQueryStats()
    expect(all.count).toBe(7)
    expect(byShape.begin?.count).toBe(2)
    expect(byShape.commit?.count).toBe(1)
    expect(byShape.rollback?.count).toBe(1)
    optimizer.close()
  })

  it('shows a COMMIT that waits for a deferred trigger for at least as long as it waits', async () => {
    const t = `dbo_deferred_${suite.tables.id}`
    await suite.database.db.execute(sql.raw(`create table "${t}" (id int)`))
    await suite.database.db.execute(
      sql.raw(
        `create function "${t}_wait"() returns trigger language plpgsql as $$ begin perform pg_sleep(0.3); return null; end $$`,
      ),
    )
    await suite.database.db.execute(
      sql.raw(
        `create constraint trigger "${t}_trg" after insert on "${t}" deferrable initially deferred for each row execute function "${t}_wait"()`,
      ),
    )
    const optimizer = new QueryOptimizer(suite.database.db)
    try {
      await suite.database.db.transaction(async (tx) => {
        await tx.execute(sql.raw(`insert into "${t}" values (1)`))
      })
      const { byShape } = optimizer.getQueryStats()
      expect(byShape.commit?.count).toBe(1)
      // a lower bound: the COMMIT ran the trigger's 300 ms sleep before it returned
      expect(byShape.commit?.maxMs).toBeGreaterThanOrEqual(300)
      const insert = Object.entries(byShape).find(([shape]) => shape.startsWith('insert'))
      expect(insert?.[1].count).toBe(1)
    } finally {
      optimizer.close()
      await suite.database.db.execute(sql.raw(`drop table "${t}"`))
      await suite.database.db.execute(sql.raw(`drop function "${t}_wait"()`))
    }
  })

  it('publishes each statement on bookgen:db:query without parameter values', async () => {
    const messages: QueryChannelMessage[] = []
    const onMessage = (m: unknown) => messages.push(m as QueryChannelMessage)
    subscribe(QUERY_CHANNEL, onMessage)
    const optimizer = new QueryOptimizer(suite.database.db)
    try {
      await optimizer.timeQuery('by_url', () =>
        suite.database.db
          .select()
          .from(suite.tables.sources)
          .where(eq(suite.tables.sources.url, 'https://example.org/secret-42')),
      )
      await suite.database.db
        .execute(sql`select * from nope_${sql.raw(suite.tables.id)}`)
        .catch(() => {})
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
    }
    expect(messages).toHaveLength(2)
    expect(messages[0]).toMatchObject({ name: 'by_url', rows: 0 })
    expect(messages[0]?.sql).toContain('$1')
    expect(JSON.stringify(messages)).not.toContain('secret-42')
    expect(messages[0]?.durationMs).toBeGreaterThan(0)
    expect(Object.keys(messages[0] ?? {}).sort()).toEqual(['durationMs', 'name', 'rows', 'sql'])
    // redacted: the SQLSTATE and names, not the driver's error object
    expect(messages[1]?.error).toMatchObject({ sqlState: '42P01' })
    expect(messages[1]?.name).toBeUndefined()
    await suite.database.db.select().from(suite.tables.sources).limit(1)
    expect(messages).toHaveLength(2)
    optimizer.close()
  })

  it("publishes every message inside the caller's async context (plain, transaction, batch writes, errors)", async () => {
    const als = new AsyncLocalStorage<{ id: string }>()
    const seen: { sql: string; id: string | undefined }[] = []
    const onMessage = (m: unknown) =>
      seen.push({ sql: (m as QueryChannelMessage).sql, id: als.getStore()?.id })
    subscribe(QUERY_CHANNEL, onMessage)
    const optimizer = new QueryOptimizer(suite.database.db)
    const work = async (id: string) => {
      await suite.database.db.execute(sql.raw(`select '${id}-plain' as tag`))
      await suite.database.db.select().from(suite.tables.sources).limit(1)
      await suite.database.db.transaction(async (tx) => {
        await tx.execute(sql.raw(`select '${id}-tx' as tag`))
        await tx.select().from(suite.tables.sources).limit(1)
      })
      await optimizer.timeQuery('span', () =>
        suite.database.db.execute(sql.raw(`select '${id}-span'`)),
      )
      const base = id === 'a' ? 10_000 : 20_000
      await optimizer.batchInsert(suite.tables.sources, sourceRows(300, base), { batchSize: 100 })
      await optimizer.batchInsert(suite.tables.sources, sourceRows(3, base + 500), {
        method: 'values',
      })
      await optimizer.batchUpdate(suite.tables.sources, [{ id: 1, title: `Title 0` }])
      await suite.database.db
        .execute(sql.raw(`select * from "${id}_missing_${suite.tables.id}"`))
        .catch(() => {})
    }
    try {
      // two contexts interleaved, so a message published in the wrong one would be caught
      await Promise.all([
        als.run({ id: 'a' }, () => work('a')),
        als.run({ id: 'b' }, () => work('b')),
      ])
      await suite.database.db.execute(sql.raw(`select 'outside' as tag`))
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
      optimizer.close()
      await suite.database.db.execute(
        sql`delete from ${suite.tables.sources} where ${suite.tables.sources.id} > 200`,
      )
    }
    // both contexts ran the same work: the same statements, each in its own context, with one
    // BEGIN and one COMMIT for the transaction and for each of the 3 batch writes
    const of = (id: string) => seen.filter((m) => m.id === id).map((m) => m.sql.split(' ')[0])
    expect(of('a')).toEqual(of('b'))
    expect(of('a').filter((s) => s === 'begin')).toHaveLength(4)
    expect(of('a').filter((s) => s === 'commit')).toHaveLength(4)
    const tagged = (tag: string) => seen.filter((m) => m.sql.includes(tag)).map((m) => m.id)
    for (const id of ['a', 'b']) {
      expect(tagged(`'${id}-plain'`)).toEqual([id])
      expect(tagged(`'${id}-tx'`)).toEqual([id])
      expect(tagged(`'${id}-span'`)).toEqual([id])
      expect(tagged(`"${id}_missing_`)).toEqual([id])
    }
    expect(tagged(`'outside'`)).toEqual([undefined])
    const inserts = seen.filter((m) => m.sql.startsWith('insert into'))
    expect(inserts).toHaveLength(8)
    expect(seen.filter((m) => m.id === undefined)).toHaveLength(1)
  })

  it('rejects something that is not a drizzle database', () => {
    expect(() => new QueryOptimizer({} as never)).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_DATABASE' }),
    )
    expect(() => new QueryOptimizer({ session: { client: 42 } } as never)).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_DATABASE' }),
    )
  })

  it('honours maxShapes and sampleLimit, times nested transactions, and stops on dispose', async () => {
    let disposed: QueryOptimizer | undefined
    {
      using optimizer = new QueryOptimizer(suite.database.db, { maxShapes: 2, sampleLimit: 4 })
      await suite.database.db.execute(sql`select pg_sleep(${1}::float8)`)
      for (let i = 0; i < 4; i++)
        await suite.database.db.execute(sql`select pg_sleep(${0}::float8)`)
      await suite.database.db.execute(sql`select 1 as a`)
      await suite.database.db.execute(sql`select 2 as b`)
      await suite.database.db.execute(sql`select 3 as c`)
      const { byShape } = optimizer.getQueryStats()
      expect(Object.keys(byShape)).toHaveLength(3)
      expect(byShape['(other)']?.count).toBe(2)
      const sleep = Object.entries(byShape).find(([s]) => s.includes('pg_sleep'))?.[1]
      expect(sleep?.count).toBe(5)
      expect(sleep?.maxMs).toBeGreaterThanOrEqual(1000)
      // the 1 s sample fell out of the 4 kept: percentiles come from the four pg_sleep(0) runs
      // (compared with the kept maximum, not with a wall-clock figure)
      expect(sleep?.p99Ms).toBeLessThan(sleep?.maxMs ?? 0)
      optimizer.reset()
      await suite.database.db.transaction(async (tx) => {
        await tx.execute(sql`select 1`)
        await tx.transaction(async (inner) => {
          await inner.execute(sql`select 2`)
          await inner.execute(sql`select 3`)
        })
      })
      // begin, 3 selects, the savepoint, commit; PGlite's drizzle also releases the savepoint
      expect(optimizer.getQueryStats().all.count).toBe(driver.name === 'postgres-js' ? 6 : 7)
      disposed = optimizer
    }
    await suite.database.db.execute(sql`select 1`)
    expect(disposed?.getQueryStats().all.count).toBe(driver.name === 'postgres-js' ? 6 : 7)
    expect(() => new QueryOptimizer(suite.database.db, { maxShapes: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })
})
