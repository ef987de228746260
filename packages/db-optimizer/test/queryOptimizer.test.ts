import { AsyncLocalStorage } from 'node:async_hooks'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Database,
  type DbOptimizerError,
  enableQueryLogging,
  type NPlusOneWarning,
  QUERY_CHANNEL,
  type QueryChannelMessage,
  QueryOptimizer,
  type SlowQueryRecord,
  statementShape,
} from '../src/index.js'
import { closeDriverSuite, openDriverSuite } from './driverSuite.js'
import { drivers, sourceRows, type Tables } from './drivers.js'

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
    const suite = await openDriverSuite(driver)
    ;({ database, tables } = suite)
    await suite.optimizer.batchInsert(tables.sources, sourceRows(200))
  })

  afterAll(() => closeDriverSuite(database, tables))

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
      await database.db.execute(sql`delete from ${tables.sources} where ${tables.sources.id} > 200`)
    }
    // per context: 2 plain + 2 in the transaction + span + 3 unnest batches + 1 VALUES batch
    // + 1 update + the failed select (BEGIN/COMMIT are sent by the drivers themselves)
    expect(seen.filter((m) => m.id === 'a')).toHaveLength(11)
    expect(seen.filter((m) => m.id === 'b')).toHaveLength(11)
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

  it('trackNPlusOne scopes detection over a whole async operation, concurrent branches included', async () => {
    const found: NPlusOneWarning[] = []
    const slow: string[] = []
    const optimizer = new QueryOptimizer(database.db, {
      nPlusOneThreshold: 10,
      slowQueryMs: 0,
      logger: { warn: (m) => slow.push(m) },
      onNPlusOne: (w) => found.push(w),
    })
    const names: (string | undefined)[] = []
    const onMessage = (m: unknown) => names.push((m as QueryChannelMessage).name)
    const lookup = (id: number) =>
      database.db.select().from(tables.sources).where(eq(tables.sources.biographyId, id))
    subscribe(QUERY_CHANNEL, onMessage)
    let result: number
    try {
      // 3 concurrent branches of 4 lookups each: 12 of one shape, no branch alone above 10
      result = await optimizer.trackNPlusOne(
        async function buildPage() {
          await Promise.all(
            [0, 1, 2].map(async (branch) => {
              for (let i = 0; i < 4; i++) await lookup(branch * 4 + i)
            }),
          )
          await database.db.execute(sql`select 1`)
          return 42
        },
        { threshold: 10 },
      )
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
    }
    expect(result).toBe(42)
    expect(found.map((w) => [w.span, w.count, w.threshold])).toEqual([['buildPage', 12, 10]])
    expect(found[0]?.shape).toContain('"biography_id" = ?')
    expect(names).toHaveLength(13)
    expect(names.every((n) => n === undefined)).toBe(true)
    expect(optimizer.getQueryStats().byName).toEqual({})
    // below the threshold: nothing; a lower threshold for this call only: reported
    await optimizer.trackNPlusOne(async () => {
      for (let i = 0; i < 5; i++) await lookup(i)
    })
    expect(found).toHaveLength(1)
    await optimizer.trackNPlusOne(
      async () => {
        for (let i = 0; i < 5; i++) await lookup(i)
      },
      { name: 'job', threshold: 4 },
    )
    expect(found.map((w) => [w.span, w.count, w.threshold])).toEqual([
      ['buildPage', 12, 10],
      ['job', 5, 4],
    ])
    // a timeQuery span inside reports the shape; the operation around it does not repeat it
    await optimizer.trackNPlusOne(
      async () => {
        await optimizer.timeQuery('inner', async () => {
          for (let i = 0; i < 12; i++) await lookup(i)
        })
        for (let i = 0; i < 12; i++) await database.db.select().from(tables.sources).limit(i)
      },
      { name: 'outer' },
    )
    expect(found.slice(2).map((w) => [w.span, w.count])).toEqual([
      ['inner', 12],
      ['outer', 12],
    ])
    expect(found[3]?.shape).toContain('limit ?')
    // errors propagate, and the scope is still reported
    await expect(
      optimizer.trackNPlusOne(
        async () => {
          for (let i = 0; i < 11; i++) await lookup(i)
          throw new Error('boom')
        },
        { name: 'failing' },
      ),
    ).rejects.toThrow('boom')
    expect(found.at(-1)).toMatchObject({ span: 'failing', count: 11 })
    // only the timeQuery span is a span: slow-span warnings and statistics ignore the scopes
    expect(slow).toHaveLength(1)
    expect(slow[0]).toContain('"inner"')
    expect(Object.keys(optimizer.getQueryStats().byName)).toEqual(['inner'])
    for (const bad of [
      () => optimizer.trackNPlusOne('x' as never),
      () => optimizer.trackNPlusOne(async () => {}, { threshold: -1 }),
      () => optimizer.trackNPlusOne(async () => {}, { name: '' }),
    ]) {
      await expect(bad()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    }
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
    const als = new AsyncLocalStorage<string>()
    const contexts: (string | undefined)[] = []
    const stopContext = enableQueryLogging(database.db, {
      thresholdMs: 20,
      logger: { warn: () => contexts.push(als.getStore()) },
    })
    // drizzle runs a statement when it is awaited: await it inside the store's scope
    await als.run(
      'request-7',
      async () => await database.db.execute(sql`select pg_sleep(0.03), ${'private-value'}::text`),
    )
    stopContext()
    stopContext()
    expect(contexts).toEqual(['request-7'])
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
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('-5') }),
    )
    expect(() => enableQueryLogging(database.db, { logger: {} as never })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: 'options.logger must have a warn(message) method, got object',
      }),
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

  it('honours maxShapes and sampleLimit, times nested transactions, and stops on dispose', async () => {
    let disposed: QueryOptimizer | undefined
    {
      using optimizer = new QueryOptimizer(database.db, { maxShapes: 2, sampleLimit: 4 })
      await database.db.execute(sql`select pg_sleep(${0.05}::float8)`)
      for (let i = 0; i < 4; i++) await database.db.execute(sql`select pg_sleep(${0}::float8)`)
      await database.db.execute(sql`select 1 as a`)
      await database.db.execute(sql`select 2 as b`)
      await database.db.execute(sql`select 3 as c`)
      const { byShape } = optimizer.getQueryStats()
      expect(Object.keys(byShape)).toHaveLength(3)
      expect(byShape['(other)']?.count).toBe(2)
      const sleep = Object.entries(byShape).find(([s]) => s.includes('pg_sleep'))?.[1]
      expect(sleep?.count).toBe(5)
      expect(sleep?.maxMs).toBeGreaterThanOrEqual(50)
      // the 50 ms sample fell out of the 4 kept: percentiles come from the fast ones
      expect(sleep?.p99Ms).toBeLessThan(50)
      optimizer.reset()
      await database.db.transaction(async (tx) => {
        await tx.execute(sql`select 1`)
        await tx.transaction(async (inner) => {
          await inner.execute(sql`select 2`)
          await inner.execute(sql`select 3`)
        })
      })
      const counted = optimizer.getQueryStats().all.count
      // postgres.js sends SAVEPOINT/RELEASE itself; on PGlite drizzle runs them as statements
      expect(counted).toBe(driver.name === 'postgres-js' ? 3 : 5)
      disposed = optimizer
    }
    await database.db.execute(sql`select 1`)
    expect(disposed?.getQueryStats().all.count).toBe(driver.name === 'postgres-js' ? 3 : 5)
    expect(() => new QueryOptimizer(database.db, { maxShapes: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
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
    const buffers = await optimizer.explain(database.db.select().from(tables.sources), {
      analyze: true,
      buffers: true,
    })
    expect(buffers.plan).toHaveProperty('Shared Hit Blocks')
    expect(plain.plan).not.toHaveProperty('Shared Hit Blocks')
    const [left] = await database.db.select({ n: sql<number>`count(*)::int` }).from(tables.sources)
    expect(left?.n).toBe(200)
    await expect(optimizer.explain('select 1' as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    optimizer.close()
  })
})
