// N+1 detection: a shape repeated inside one span or tracked operation.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { asc, eq, gt, sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  type NPlusOneWarning,
  QUERY_CHANNEL,
  type QueryChannelMessage,
  QueryOptimizer,
} from '../src/index.js'
import { seededDriverSuite } from './driverSuite.js'
import { drivers, sourceRows } from './drivers.js'

describe.each(drivers)('N+1 detection on $name', (driver) => {
  const suite = seededDriverSuite(driver, 200)

  it('warns once about an N+1 loop, naming the statement shape and the count', async () => {
    const warnings: string[] = []
    const optimizer = new QueryOptimizer(suite.database.db, {
      nPlusOneThreshold: 10,
      logger: { warn: (m) => warnings.push(m) },
    })
    const parents = await suite.database.db
      .select({ id: suite.tables.sources.id })
      .from(suite.tables.sources)
      .limit(25)
    await optimizer.timeQuery('n_plus_one', async () => {
      for (const p of parents)
        await suite.database.db
          .select()
          .from(suite.tables.sources)
          .where(eq(suite.tables.sources.biographyId, p.id))
    })
    await optimizer.timeQuery('fine', async () => {
      for (const p of parents.slice(0, 9))
        await suite.database.db
          .select()
          .from(suite.tables.sources)
          .where(eq(suite.tables.sources.biographyId, p.id))
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
    const optimizer = new QueryOptimizer(suite.database.db, {
      nPlusOneThreshold: 10,
      slowQueryMs: 0,
      logger: { warn: (m) => slow.push(m) },
      onNPlusOne: (w) => found.push(w),
    })
    const names: (string | undefined)[] = []
    const onMessage = (m: unknown) => names.push((m as QueryChannelMessage).name)
    const lookup = (id: number) =>
      suite.database.db
        .select()
        .from(suite.tables.sources)
        .where(eq(suite.tables.sources.biographyId, id))
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
          await suite.database.db.execute(sql`select 1`)
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
        for (let i = 0; i < 12; i++)
          await suite.database.db.select().from(suite.tables.sources).limit(i)
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

  it('reports a shape that reaches the threshold (count >= threshold), not one below it', async () => {
    const found: NPlusOneWarning[] = []
    const optimizer = new QueryOptimizer(suite.database.db, { onNPlusOne: (w) => found.push(w) })
    const lookup = (id: number) =>
      suite.database.db
        .select()
        .from(suite.tables.sources)
        .where(eq(suite.tables.sources.biographyId, id))
    await optimizer.trackNPlusOne(
      async () => {
        for (let i = 0; i < 3; i++) await lookup(i)
      },
      { name: 'three', threshold: 3 },
    )
    await optimizer.trackNPlusOne(
      async () => {
        for (let i = 0; i < 2; i++) await lookup(i)
      },
      { name: 'two', threshold: 3 },
    )
    expect(found.map((w) => [w.span, w.count, w.threshold])).toEqual([['three', 3, 3]])
    optimizer.close()
  })

  it("does not warn about the package's own batches, transactions, keyset pagination or queue polls", async () => {
    const found: NPlusOneWarning[] = []
    const optimizer = new QueryOptimizer(suite.database.db, {
      nPlusOneThreshold: 3,
      onNPlusOne: (w) => found.push(w),
    })
    const s = suite.tables.sources
    await optimizer.trackNPlusOne(
      async () => {
        // 6 chunks of one INSERT shape, one transaction
        await optimizer.batchInsert(s, sourceRows(6, 50_000), { batchSize: 1, method: 'values' })
        await optimizer.batchUpdate(
          s,
          [1, 2, 3, 4].map((id) => ({ id, title: `Title ${id - 1}` })),
          { batchSize: 1 },
        )
        // 5 transactions: 5 BEGIN/COMMIT pairs
        for (let i = 0; i < 5; i++) {
          await suite.database.db.transaction(async (tx) => {
            await tx.select({ id: s.id }).from(s).where(eq(s.id, 1))
          })
        }
      },
      { name: 'own' },
    )
    // keyset pagination: one page after another, each `where id > last order by id limit n`
    const pages: number[][] = []
    await optimizer.trackNPlusOne(
      async () => {
        let last = 0
        for (;;) {
          const page = await suite.database.db
            .select({ id: s.id })
            .from(s)
            .where(gt(s.id, last))
            .orderBy(asc(s.id))
            .limit(40)
          if (page.length === 0) break
          pages.push(page.map((r) => r.id))
          last = page.at(-1)?.id as number
        }
      },
      { name: 'pages' },
    )
    expect(pages.length).toBeGreaterThanOrEqual(5)
    // a queue poll: claim the next job, again and again
    await optimizer.trackNPlusOne(
      async () => {
        for (let i = 0; i < 5; i++) {
          await suite.database.db.transaction(async (tx) => {
            await tx.execute(
              sql`select ${s.id} from ${s} where ${s.verified} order by ${s.id} limit 1 for update skip locked`,
            )
          })
        }
      },
      { name: 'poll' },
    )
    expect(found.filter((w) => w.span !== 'own')).toEqual([])
    // the lookups inside the 5 transactions are a real N+1 and still reported
    expect(found.map((w) => [w.span, w.count])).toEqual([['own', 5]])
    expect(found[0]?.shape).toContain('"id" = ?')
    await suite.database.db.execute(sql`delete from ${s} where ${s.id} > 200`)
    optimizer.close()
  })
})
