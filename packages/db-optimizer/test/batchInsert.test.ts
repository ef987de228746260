import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, DbOptimizerError, type QueryOptimizer } from '../src/index.js'
import { closeDriverSuite, openDriverSuite } from './driverSuite.js'
import { count, drivers, sourceRows, type Tables } from './drivers.js'

describe.each(drivers)('batchInsert on $name', (driver) => {
  let database: Database
  let tables: Tables
  let optimizer: QueryOptimizer

  beforeAll(async () => {
    ;({ database, tables, optimizer } = await openDriverSuite(driver))
  })

  afterAll(() => closeDriverSuite(database, tables))

  const reset = async () => {
    await database.db.execute(sql.raw(`truncate "dbo_src_${tables.id}" restart identity`))
    optimizer.reset()
  }

  it('inserts every row through the VALUES path and returns the count', async () => {
    await reset()
    const rows = sourceRows(50)
    const n = await optimizer.batchInsert(tables.sources, rows, { batchSize: 20, method: 'values' })
    expect(n).toBe(50)
    expect(await count(database, `dbo_src_${tables.id}`)).toBe(50)
    const [row] = await database.db
      .select()
      .from(tables.sources)
      .where(sql`url = 'https://example.org/7'`)
    expect(row).toMatchObject({
      title: 'Title 7',
      verified: false,
      meta: { n: 7, tags: ['a', 'b'] },
      biographyId: 7,
    })
    expect(row?.publishedAt?.toISOString()).toBe('2020-01-08T00:00:00.000Z')
  })

  it('takes the unnest fast path for large uniform loads and keeps every value', async () => {
    await reset()
    const rows = sourceRows(2500)
    const n = await optimizer.batchInsert(tables.sources, rows, { batchSize: 1000 })
    expect(n).toBe(2500)
    const shapes = Object.keys(optimizer.getQueryStats().byShape)
    expect(shapes.some((s) => s.includes('unnest('))).toBe(true)
    const [row] = await database.db
      .select()
      .from(tables.sources)
      .where(sql`url = 'https://example.org/2499'`)
    expect(row).toMatchObject({
      title: 'Title 2499',
      score: 0.99,
      verified: false,
      meta: { n: 2499, tags: ['a', 'b'] },
    })
    expect(row?.publishedAt?.toISOString()).toBe(
      new Date(Date.UTC(2020, 0, 1 + (2499 % 365))).toISOString(),
    )
    const nulls = await optimizer.batchInsert(
      tables.sources,
      Array.from({ length: 150 }, (_, i) => ({
        url: `n${i}`,
        title: null,
        meta: null,
        score: null,
      })),
    )
    expect(nulls).toBe(150)
    const [empty] = await database.db.select().from(tables.sources).where(sql`url = 'n3'`)
    expect(empty).toMatchObject({ title: null, meta: null, score: null })
  })

  it('takes the VALUES path for every row when a later unnest batch holds a SQL value', async () => {
    await reset()
    const rows: Record<string, unknown>[] = sourceRows(250)
    rows[180] = { ...rows[180], title: sql`'late' || ' sql'` }
    const n = await optimizer.batchInsert(tables.sources, rows as never, { batchSize: 100 })
    expect(n).toBe(250)
    expect(await count(database, `dbo_src_${tables.id}`)).toBe(250)
    // the first unnest batch ran (and was rolled back), then drizzle wrote all the rows
    const shapes = Object.keys(optimizer.getQueryStats().byShape)
    expect(shapes.some((k) => k.includes('unnest('))).toBe(true)
    const titles = await database.db
      .select({ url: tables.sources.url, title: tables.sources.title })
      .from(tables.sources)
      .where(sql`url in ('https://example.org/180', 'https://example.org/99')`)
      .orderBy(tables.sources.url)
    expect(titles).toEqual([
      { url: 'https://example.org/180', title: 'late sql' },
      { url: 'https://example.org/99', title: 'Title 99' },
    ])
  })

  it('cuts VALUES batches under the 65,535 bind-parameter limit by itself', async () => {
    await reset()
    const rows = sourceRows(9000) // 8 parameters a row: 72,000 in one statement would be refused
    const n = await optimizer.batchInsert(tables.sources, rows, {
      batchSize: 9000,
      method: 'values',
    })
    expect(n).toBe(9000)
    const insert = Object.entries(optimizer.getQueryStats().byShape).find(([s]) =>
      s.startsWith('insert'),
    )
    expect(insert?.[1].count).toBe(2)
    expect(await count(database, `dbo_src_${tables.id}`)).toBe(9000)
    // counted from each row's real keys: half the rows carry 8 values, half only `url`
    // (40,500 parameters: one statement; counting 8 columns for every row would cut it in two)
    await reset()
    const sparse = sourceRows(9000).map((r, i) => (i % 2 === 0 ? r : { url: r.url }))
    expect(
      await optimizer.batchInsert(tables.sources, sparse, { batchSize: 9000, method: 'values' }),
    ).toBe(9000)
    const inserts = Object.entries(optimizer.getQueryStats().byShape).filter(([s]) =>
      s.startsWith('insert'),
    )
    expect(inserts.map(([, v]) => v.count)).toEqual([1])
    const [plain] = await database.db
      .select()
      .from(tables.sources)
      .where(sql`url = 'https://example.org/1'`)
    expect(plain).toMatchObject({ title: null, meta: null, biographyId: null })
  })

  it('never mutates its input', async () => {
    await reset()
    const rows = sourceRows(300).map((r) => Object.freeze(r))
    const before = JSON.stringify(rows)
    Object.freeze(rows)
    await optimizer.batchInsert(tables.sources, rows)
    await reset()
    await optimizer.batchInsert(tables.sources, rows, {
      method: 'values',
      onConflict: { target: 'url' },
    })
    expect(JSON.stringify(rows)).toBe(before)
  })

  it('upserts with onConflict after de-duplicating by the conflict key (last one wins)', async () => {
    await reset()
    await optimizer.batchInsert(tables.sources, [{ url: 'a', title: 'old' }])
    for (const method of ['values', 'unnest'] as const) {
      const rows = [
        { url: 'a', title: `first-${method}` },
        { url: 'b', title: 'b1' },
        { url: 'a', title: `last-${method}` },
      ]
      const n = await optimizer.batchInsert(tables.sources, rows, {
        method,
        onConflict: { target: 'url' },
      })
      expect(n).toBe(2)
      const got = await database.db
        .select({ url: tables.sources.url, title: tables.sources.title })
        .from(tables.sources)
        .orderBy(tables.sources.url)
      expect(got).toEqual([
        { url: 'a', title: `last-${method}` },
        { url: 'b', title: 'b1' },
      ])
    }
    const kept = await optimizer.batchInsert(
      tables.sources,
      [{ url: 'a', title: 'ignored' }, { url: 'c' }],
      {
        onConflict: { target: tables.sources.url, action: 'nothing' },
      },
    )
    expect(kept).toBe(1)
    // onConflict.set: only the listed columns are overwritten
    await optimizer.batchInsert(tables.sources, [{ url: 'd', title: 'd-old', author: 'keep' }])
    await optimizer.batchInsert(tables.sources, [{ url: 'd', title: 'd-new', author: 'lost' }], {
      onConflict: { target: 'url', set: ['title'] },
    })
    const [d] = await database.db
      .select({ title: tables.sources.title, author: tables.sources.author })
      .from(tables.sources)
      .where(eq(tables.sources.url, 'd'))
    expect(d).toEqual({ title: 'd-new', author: 'keep' })
  })

  it('is all-or-nothing: a constraint violation in batch 3 writes nothing and names the batch and rows', async () => {
    await reset()
    const rows: (typeof tables.sources.$inferInsert)[] = sourceRows(500)
    rows[250] = { ...rows[250], url: rows[10]?.url as string } // duplicate of a row in batch 1
    for (const method of ['values', 'unnest'] as const) {
      const error = await optimizer
        .batchInsert(tables.sources, rows, { batchSize: 100, method })
        .catch((e) => e)
      expect(error).toBeInstanceOf(DbOptimizerError)
      expect(error.code).toBe('BATCH_FAILED')
      expect(error.batch).toBe(2)
      expect(error.rowRange).toEqual([200, 300])
      expect(error.message).toContain('batch 3 of 5 (rows 200..299)')
      expect((error.cause as { code?: string }).code).toBe('23505')
      expect(await count(database, `dbo_src_${tables.id}`)).toBe(0)
    }
    rows[250] = { ...rows[250], url: 'fixed' }
    expect(await optimizer.batchInsert(tables.sources, rows, { batchSize: 100 })).toBe(500)
    expect(await count(database, `dbo_src_${tables.id}`)).toBe(500)
  })

  it('rolls back when the load is interrupted mid-way, and a retry writes every row exactly once', async () => {
    await reset()
    const rows = sourceRows(1000)
    const error = await optimizer
      .batchInsert(tables.sources, rows, {
        batchSize: 200,
        onProgress: ({ batch }) => {
          if (batch === 2) throw new Error('interrupted')
        },
      })
      .catch((e) => e)
    expect(error.code).toBe('BATCH_FAILED')
    expect(error.rowRange).toEqual([400, 600])
    expect(error.cause.message).toBe('interrupted')
    expect(await count(database, `dbo_src_${tables.id}`)).toBe(0)
    expect(await optimizer.batchInsert(tables.sources, rows, { batchSize: 200 })).toBe(1000)
    const dupes = await database.db.execute(
      sql.raw(
        `select count(*)::int as n from (select url from "dbo_src_${tables.id}" group by url having count(*) > 1) d`,
      ),
    )
    expect(
      Number(
        (Array.isArray(dupes) ? dupes : (dupes as unknown as { rows: { n: number }[] }).rows)[0]?.n,
      ),
    ).toBe(0)
    expect(await count(database, `dbo_src_${tables.id}`)).toBe(1000)
  })

  it('returns 0 for no rows without a statement', async () => {
    optimizer.reset()
    expect(await optimizer.batchInsert(tables.sources, [])).toBe(0)
    expect(optimizer.getQueryStats().all.count).toBe(0)
  })

  it('rejects bad input with a code', async () => {
    const bad = async (fn: () => Promise<unknown>) =>
      (await fn().then(
        () => undefined,
        (e) => e,
      )) as DbOptimizerError
    expect(
      (await bad(() => optimizer.batchInsert({} as never, [{ url: 'x' }] as never))).code,
    ).toBe('INVALID_TABLE')
    expect(
      (await bad(() => optimizer.batchInsert(null as never, [{ url: 'x' }] as never))).code,
    ).toBe('INVALID_TABLE')
    for (const batchSize of [0, -5, 1.5, Number.NaN]) {
      const error = await bad(() =>
        optimizer.batchInsert(tables.sources, [{ url: 'x' }], { batchSize }),
      )
      expect(error.code).toBe('INVALID_ARGUMENT')
      expect(error.message).toContain('options.batchSize')
    }
    const unknown = await bad(() =>
      optimizer.batchInsert(tables.sources, [{ url: 'x' }, { url: 'y', nope: 1 } as never]),
    )
    expect(unknown.code).toBe('UNKNOWN_COLUMN')
    expect(unknown.message).toContain('rows[1]')
    expect(unknown.message).toContain('"nope"')
    expect((await bad(() => optimizer.batchInsert(tables.sources, [null as never]))).code).toBe(
      'INVALID_ROWS',
    )
    expect((await bad(() => optimizer.batchInsert(tables.sources, 'x' as never))).code).toBe(
      'INVALID_ROWS',
    )
    expect(
      (
        await bad(() =>
          optimizer.batchInsert(tables.sources, [{ url: 'x' }], { fastPathThreshold: -1 }),
        )
      ).code,
    ).toBe('INVALID_ARGUMENT')
    expect(
      (
        await bad(() =>
          optimizer.batchInsert(tables.sources, [{ url: 'x' }], {
            onConflict: { target: 'nope' as never },
          }),
        )
      ).code,
    ).toBe('UNKNOWN_COLUMN')
  })
})
