import { AsyncLocalStorage } from 'node:async_hooks'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Database,
  type DbOptimizerError,
  enableQueryLogging,
  QUERY_CHANNEL,
  type QueryChannelMessage,
  QueryOptimizer,
  type SlowQueryRecord,
  statementShape,
} from '../src/index.js'
import {
  createTables,
  drivers,
  dropTables,
  makeTables,
  sourceRows,
  type Tables,
} from './drivers.js'

describe('statementShape', () => {
  it('collapses literals, parameters and value lists so one statement has one shape', () => {
    expect(statementShape('select * from "t" where "id" in ($1, $2, $3) and x = 5')).toBe(
      statementShape('select * from "t" where "id" in ($1) and x = \'a\''),
    )
    expect(statementShape('insert into "t1" ("a", "b") values ($1, $2), ($3, default)')).toBe(
      'insert into "t1" ("a", "b") values (…)',
    )
    expect(statementShape('select * from "t1" where "id" = $1')).not.toBe(
      statementShape('select * from "t2" where "id" = $1'),
    )
  })
})

describe.each(drivers)('QueryOptimizer on $name', (driver) => {
  let database: Database
  let tables: Tables

  beforeAll(async () => {
    database = await driver.open()
    tables = makeTables()
    await createTables(database, tables)
    await new QueryOptimizer(database.db).batchInsert(tables.sources, sourceRows(200))
  })

  afterAll(async () => {
    await dropTables(database, tables)
    await database.close()
  })

  it('measures every statement at the driver, by shape and by span name', async () => {
    const optimizer = new QueryOptimizer(database.db)
    const rows = await optimizer.timeQuery('get_sources', () =>
      database.db.select().from(tables.sources),
    )
    expect(rows).toHaveLength(200)
    for (let i = 1; i <= 5; i++) {
      await database.db.select().from(tables.sources).where(eq(tables.sources.id, i))
    }
    await database.db.execute(sql`select pg_sleep(0.05)`)
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
    expect(stats.all.maxMs).toBe(sleep?.maxMs)
    expect(stats.all.p99Ms).toBeLessThanOrEqual(stats.all.maxMs)
    expect(stats.all.p50Ms).toBeLessThanOrEqual(stats.all.p95Ms)
    const avg = optimizer.getAverageQueryTime()
    expect(avg).toBeCloseTo(stats.all.totalMs / 7 / 1000, 9)
    expect(avg).toBeGreaterThan(0.05 / 7)
    optimizer.reset()
    expect(optimizer.getAverageQueryTime()).toBe(0)
    optimizer.close()
  })

  it('times statements inside transactions too', async () => {
    const optimizer = new QueryOptimizer(database.db)
    await database.db.transaction(async (tx) => {
      await tx.select().from(tables.sources).limit(1)
      await tx.execute(sql`select 1`)
    })
    expect(optimizer.getQueryStats().all.count).toBe(2)
    optimizer.close()
  })

  it('publishes each statement on bookgen:db:query without parameter values', async () => {
    const messages: QueryChannelMessage[] = []
    const onMessage = (m: unknown) => messages.push(m as QueryChannelMessage)
    subscribe(QUERY_CHANNEL, onMessage)
    const optimizer = new QueryOptimizer(database.db)
    try {
      await optimizer.timeQuery('by_url', () =>
        database.db
          .select()
          .from(tables.sources)
          .where(eq(tables.sources.url, 'https://example.org/secret-42')),
      )
      await database.db.execute(sql`select * from nope_${sql.raw(tables.id)}`).catch(() => {})
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
    }
    expect(messages).toHaveLength(2)
    expect(messages[0]).toMatchObject({ name: 'by_url', rows: 0 })
    expect(messages[0]?.sql).toContain('$1')
    expect(JSON.stringify(messages)).not.toContain('secret-42')
    expect(messages[0]?.durationMs).toBeGreaterThan(0)
    expect(Object.keys(messages[0] ?? {}).sort()).toEqual(['durationMs', 'name', 'rows', 'sql'])
    expect(messages[1]?.error).toBeInstanceOf(Error)
    expect(messages[1]?.name).toBeUndefined()
    await database.db.select().from(tables.sources).limit(1)
    expect(messages).toHaveLength(2)
    optimizer.close()
  })

  it("publishes every message inside the caller's async context (plain, transaction, batch writes, errors)", async () => {
    const als = new AsyncLocalStorage<{ id: string }>()
    const seen: { sql: string; id: string | undefined }[] = []
    const onMessage = (m: unknown) =>
      seen.push({ sql: (m as QueryChannelMessage).sql, id: als.getStore()?.id })
    subscribe(QUERY_CHANNEL, onMessage)
    const optimizer = new QueryOptimizer(database.db)
    const work = async (id: string) => {
      await database.db.execute(sql.raw(`select '${id}-plain' as tag`))
      await database.db.select().from(tables.sources).limit(1)
      await database.db.transaction(async (tx) => {
        await tx.execute(sql.raw(`select '${id}-tx' as tag`))
        await tx.select().from(tables.sources).limit(1)
      })
      await optimizer.timeQuery('span', () => database.db.execute(sql.raw(`select '${id}-span'`)))
      const base = id === 'a' ? 10_000 : 20_000
      await optimizer.batchInsert(tables.sources, sourceRows(300, base), { batchSize: 100 })
      await optimizer.batchInsert(tables.sources, sourceRows(3, base + 500), { method: 'values' })
      await optimizer.batchUpdate(tables.sources, [{ id: 1, title: `Title 0` }])
      await database.db
        .execute(sql.raw(`select * from "${id}_missing_${tables.id}"`))
        .catch(() => {})
    }
    try {
      // two contexts interleaved, so a message published in the wrong one would be caught
      await Promise.all([
        als.run({ id: 'a' }, () => work('a')),
        als.run({ id: 'b' }, () => work('b')),
      ])
      await database.db.execute(sql.raw(`select 'outside' as tag`))
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
      optimizer.close()
    }
    // per context: 2 plain + (begin, 2, commit) on postgres.js or 2 on PGlite + span + 3 batches
    // + 1 values batch (each batch run in its own transaction) + update + failed select
    expect(seen.filter((m) => m.id === 'a').length).toBe(seen.filter((m) => m.id === 'b').length)
    expect(seen.filter((m) => m.id === 'a').length).toBeGreaterThanOrEqual(10)
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
    await database.db.execute(sql`delete from ${tables.sources} where ${tables.sources.id} > 200`)
  })

  it('warns once about an N+1 loop, naming the statement shape and the count', async () => {
    const warnings: string[] = []
    const optimizer = new QueryOptimizer(database.db, {
      nPlusOneThreshold: 10,
      logger: { warn: (m) => warnings.push(m) },
    })
    const parents = await database.db
      .select({ id: tables.sources.id })
      .from(tables.sources)
      .limit(25)
    await optimizer.timeQuery('n_plus_one', async () => {
      for (const p of parents)
        await database.db.select().from(tables.sources).where(eq(tables.sources.biographyId, p.id))
    })
    await optimizer.timeQuery('fine', async () => {
      for (const p of parents.slice(0, 10))
        await database.db.select().from(tables.sources).where(eq(tables.sources.biographyId, p.id))
    })
    const found = optimizer.getNPlusOneWarnings()
    expect(found).toHaveLength(1)
    expect(found[0]).toMatchObject({ span: 'n_plus_one', count: 25, threshold: 10 })
    expect(found[0]?.shape).toContain('"biography_id" = ?')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('ran 25 times')
    expect(warnings[0]).toContain('"biography_id" = ?')
    optimizer.close()
  })

  it('logs slow spans like the original, and rejects negative thresholds', async () => {
    const warnings: string[] = []
    const optimizer = new QueryOptimizer(database.db, {
      slowQueryMs: 20,
      logger: { warn: (m) => warnings.push(m) },
    })
    await optimizer.timeQuery('slow', () => database.db.execute(sql`select pg_sleep(0.03)`))
    await optimizer.timeQuery('quick', () => database.db.execute(sql`select 1`))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('"slow"')
    optimizer.close()
    for (const options of [{ slowQueryMs: -1 }, { nPlusOneThreshold: -1 }, { sampleLimit: 0 }]) {
      const error = (() => {
        try {
          new QueryOptimizer(database.db, options)
        } catch (e) {
          return e as DbOptimizerError
        }
      })()
      expect(error?.code).toBe('INVALID_ARGUMENT')
    }
  })

  it('enableQueryLogging logs statements over the threshold with parameters redacted unless asked', async () => {
    const logged: { message: string; record?: SlowQueryRecord }[] = []
    const logger = {
      warn: (message: string, record?: SlowQueryRecord) => logged.push({ message, record }),
    }
    const stop = enableQueryLogging(database.db, { thresholdMs: 20, logger })
    await database.db.execute(sql`select pg_sleep(0.03), ${'private-value'}::text`)
    await database.db.execute(sql`select ${'fast'}::text`)
    stop()
    const show = enableQueryLogging(database.db, { thresholdMs: 20, logger, showParams: true })
    await database.db.execute(sql`select pg_sleep(0.03), ${'shown-value'}::text`)
    show()
    await database.db.execute(sql`select pg_sleep(0.03)`)
    expect(logged).toHaveLength(2)
    expect(logged[0]?.message).toContain('pg_sleep')
    expect(logged[0]?.message).not.toContain('private-value')
    expect(logged[0]?.record?.params).toEqual(['[redacted]'])
    expect(logged[0]?.record?.durationMs).toBeGreaterThanOrEqual(30)
    expect(logged[1]?.message).toContain('shown-value')
    expect(() => enableQueryLogging(database.db, { thresholdMs: -5 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })

  it('rejects something that is not a drizzle database', () => {
    expect(() => new QueryOptimizer({} as never)).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_DATABASE' }),
    )
    expect(() => new QueryOptimizer({ session: { client: 42 } } as never)).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_DATABASE' }),
    )
  })

  it('explains a query, and analyses DML inside a rolled-back transaction', async () => {
    const optimizer = new QueryOptimizer(database.db)
    const plain = await optimizer.explain(
      database.db.select().from(tables.sources).where(eq(tables.sources.id, 3)),
    )
    expect(plain.plan['Node Type']).toMatch(/Scan/)
    expect(plain.totalCost).toBeGreaterThan(0)
    expect(plain.executionTimeMs).toBeUndefined()
    expect(plain.text).toContain(`dbo_src_${tables.id}`)
    const analysed = await optimizer.explain(database.db.delete(tables.sources), { analyze: true })
    expect(analysed.plan['Node Type']).toBe('ModifyTable')
    expect(analysed.executionTimeMs).toBeGreaterThan(0)
    expect(analysed.text).toContain('actual rows=')
    const [left] = await database.db.select({ n: sql<number>`count(*)::int` }).from(tables.sources)
    expect(left?.n).toBe(200)
    await expect(optimizer.explain('select 1' as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    optimizer.close()
  })
})
