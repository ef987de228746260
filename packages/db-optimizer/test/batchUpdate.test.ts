import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type Database, DbOptimizerError, type QueryOptimizer } from '../src/index.js'
import { closeDriverSuite, openDriverSuite } from './driverSuite.js'
import { drivers, sourceRows, type Tables } from './drivers.js'

describe.each(drivers)('batchUpdate on $name', (driver) => {
  let database: Database
  let tables: Tables
  let optimizer: QueryOptimizer

  beforeAll(async () => {
    ;({ database, tables, optimizer } = await openDriverSuite(driver))
  })

  afterAll(() => closeDriverSuite(database, tables))

  beforeEach(async () => {
    await database.db.execute(sql.raw(`truncate "dbo_src_${tables.id}" restart identity`))
    await optimizer.batchInsert(tables.sources, sourceRows(1200))
    optimizer.reset()
  })

  const titles = async (ids: number[]) => {
    const rows = await database.db
      .select({ id: tables.sources.id, title: tables.sources.title, score: tables.sources.score })
      .from(tables.sources)
      .where(sql`${tables.sources.id} = any(${sql.param(ids.map(String))}::text[]::int[])`)
      .orderBy(tables.sources.id)
    return rows
  }

  it('updates in one statement per batch, in one transaction, and returns the rows updated', async () => {
    const updates = Array.from({ length: 1000 }, (_, i) => ({
      id: i + 1,
      title: `new ${i + 1}`,
      score: i,
    }))
    const progress: [number, number, number][] = []
    const n = await optimizer.batchUpdate(tables.sources, updates, {
      batchSize: 300,
      onProgress: ({ batch, batches, done }) => {
        progress.push([batch, batches, done])
      },
    })
    expect(n).toBe(1000)
    expect(progress).toEqual([
      [0, 4, 300],
      [1, 4, 600],
      [2, 4, 900],
      [3, 4, 1000],
    ])
    const update = Object.entries(optimizer.getQueryStats().byShape).find(
      ([s]) => s.includes('update') && s.includes('unnest('),
    )
    expect(update?.[1].count).toBe(4)
    expect(await titles([1, 500, 1000, 1001])).toEqual([
      { id: 1, title: 'new 1', score: 0 },
      { id: 500, title: 'new 500', score: 499 },
      { id: 1000, title: 'new 1000', score: 999 },
      { id: 1001, title: 'Title 1000', score: 0 },
    ])
  })

  it('reports keys that match no row instead of counting them', async () => {
    const missing: unknown[][] = []
    const n = await optimizer.batchUpdate(
      tables.sources,
      [
        { id: 1, title: 'one' },
        { id: 99999, title: 'ghost' },
        { id: 2, title: 'two' },
        { id: 88888, title: 'ghost' },
      ],
      { onMissing: (keys) => missing.push(keys) },
    )
    expect(n).toBe(2)
    expect(missing).toEqual([[99999, 88888]])
    const error = await optimizer
      .batchUpdate(
        tables.sources,
        [
          { id: 3, title: 'three' },
          { id: 77777, title: 'ghost' },
        ],
        { requireAll: true },
      )
      .catch((e) => e)
    expect(error).toBeInstanceOf(DbOptimizerError)
    expect(error.code).toBe('ROWS_NOT_FOUND')
    expect(error.missing).toEqual([77777])
    expect(await titles([3])).toEqual([{ id: 3, title: 'Title 2', score: 0.02 }])
  })

  it('updates by another key column, with rows that set different columns, the last duplicate winning', async () => {
    const n = await optimizer.batchUpdate(
      tables.sources,
      [
        { url: 'https://example.org/0', title: 'by url' },
        { url: 'https://example.org/1', score: 42 },
        { url: 'https://example.org/0', title: 'by url, last' },
      ],
      { key: 'url' },
    )
    expect(n).toBe(2)
    expect(await titles([1, 2])).toEqual([
      { id: 1, title: 'by url, last', score: 0 },
      { id: 2, title: 'Title 1', score: 42 },
    ])
  })

  it("accepts SQL expressions (run as drizzle's own UPDATE)", async () => {
    const n = await optimizer.batchUpdate(tables.sources, [
      { id: 5, title: sql`upper('abc')` as unknown as string },
      { id: 6, title: sql`'x' || 'y'` as unknown as string },
    ])
    expect(n).toBe(2)
    expect((await titles([5, 6])).map((r) => r.title)).toEqual(['ABC', 'xy'])
  })

  it('is all-or-nothing and never mutates its input', async () => {
    const updates = Object.freeze(
      Array.from({ length: 600 }, (_, i) =>
        Object.freeze({ id: i + 1, url: i === 450 ? 'https://example.org/1000' : `u${i}` }),
      ),
    )
    const before = JSON.stringify(updates)
    const error = await optimizer
      .batchUpdate(tables.sources, updates, { batchSize: 200 })
      .catch((e) => e)
    expect(error.code).toBe('BATCH_FAILED')
    expect(error.batch).toBe(2)
    expect(error.rowRange).toEqual([400, 600])
    expect(error.cause.code).toBe('23505')
    expect(JSON.stringify(updates)).toBe(before)
    const [row] = await database.db
      .select({ url: tables.sources.url })
      .from(tables.sources)
      .where(sql`id = 1`)
    expect(row?.url).toBe('https://example.org/0')
  })

  it('rejects bad input with a code', async () => {
    const bad = async (fn: () => Promise<unknown>) =>
      (await fn().then(
        () => undefined,
        (e) => e,
      )) as DbOptimizerError
    expect(
      (await bad(() => optimizer.batchUpdate(tables.sources, [{ title: 'no id' }]))).code,
    ).toBe('MISSING_KEY')
    expect(
      (
        await bad(() =>
          optimizer.batchUpdate(tables.sources, [{ id: 1, title: 'x' }], { key: 'nope' as never }),
        )
      ).code,
    ).toBe('UNKNOWN_COLUMN')
    expect(
      (await bad(() => optimizer.batchUpdate(tables.sources, [{ id: 1, nope: 1 } as never]))).code,
    ).toBe('UNKNOWN_COLUMN')
    expect((await bad(() => optimizer.batchUpdate(tables.sources, [{ id: 1 }]))).code).toBe(
      'INVALID_ROWS',
    )
    expect(
      (
        await bad(() =>
          optimizer.batchUpdate(tables.sources, [{ id: 1, title: 'x' }], { batchSize: 0 }),
        )
      ).code,
    ).toBe('INVALID_ARGUMENT')
    expect(
      (
        await bad(() =>
          optimizer.batchUpdate(tables.sources, [{ id: 1, title: 'x' }], { batchSize: 2.5 }),
        )
      ).code,
    ).toBe('INVALID_ARGUMENT')
    expect((await bad(() => optimizer.batchUpdate(undefined as never, []))).code).toBe(
      'INVALID_TABLE',
    )
    expect(await optimizer.batchUpdate(tables.sources, [])).toBe(0)
  })
})
