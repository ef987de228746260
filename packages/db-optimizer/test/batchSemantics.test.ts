// The cases the issue reported, one test each, on both drivers.
import { sql } from 'drizzle-orm'
import { integer, pgTable, serial, text, uuid, varchar } from 'drizzle-orm/pg-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, DbOptimizerError, QueryOptimizer } from '../src/index.js'
import { count, drivers, suffix } from './drivers.js'

describe.each(drivers)('batch write semantics on $name', (driver) => {
  let database: Database
  let optimizer: QueryOptimizer
  const id = suffix()
  const items = pgTable(`dbo_sem_${id}`, {
    id: serial('id').primaryKey(),
    key: uuid('key'),
    code: varchar('code', { length: 5 }),
    tag: text('tag'),
    touched: text('touched').$onUpdate(() => 'on-update'),
  })
  const name = `dbo_sem_${id}`

  beforeAll(async () => {
    database = await driver.open()
    optimizer = new QueryOptimizer(database.db)
    await database.db.execute(
      sql.raw(
        `create table "${name}" (id serial primary key, key uuid, code varchar(5), tag text, touched text)`,
      ),
    )
  })
  afterAll(async () => {
    await database.db.execute(sql.raw(`drop table if exists "${name}"`))
    await database.close()
  })
  const reset = () => database.db.execute(sql.raw(`truncate "${name}" restart identity`))

  it('raises 22001 for a value too long for varchar(5) on both paths, writing nothing', async () => {
    await reset()
    const rows = Array.from({ length: 150 }, (_, i) => ({ code: i === 120 ? 'ABCDEFGHIJ' : 'ok' }))
    for (const method of ['auto', 'values'] as const) {
      const error = await optimizer.batchInsert(items, rows, { method }).catch((e) => e)
      expect(error).toBeInstanceOf(DbOptimizerError)
      expect(error.code).toBe('BATCH_FAILED')
      expect(error.sqlState).toBe('22001')
      expect(error.message).not.toContain('ABCDEFGHIJ')
      expect(await count(database, name)).toBe(0)
    }
    await reset() // the failed loads used up sequence values
    await optimizer.batchInsert(items, [{ code: 'abc' }])
    const up = await optimizer.batchUpdate(items, [{ id: 1, code: 'ABCDEFGHIJ' }]).catch((e) => e)
    expect(up.sqlState).toBe('22001')
    const [row] = await database.db.select({ code: items.code }).from(items)
    expect(row?.code).toBe('abc')
  })

  it('fills $onUpdate columns on insert, as drizzle does, and on update', async () => {
    await reset()
    await optimizer.batchInsert(
      items,
      Array.from({ length: 120 }, () => ({ tag: 'x' })),
    )
    await optimizer.batchInsert(items, [{ tag: 'y' }], { method: 'values' })
    const rows = await database.db.select({ touched: items.touched }).from(items)
    expect(rows.every((r) => r.touched === 'on-update')).toBe(true)
    expect(rows).toHaveLength(121)
    await database.db.execute(sql.raw(`update "${name}" set touched = null`))
    expect(await optimizer.batchUpdate(items, [{ id: 3, tag: 'z' }])).toBe(1)
    const [row] = await database.db.select().from(items).where(sql`id = 3`)
    expect(row).toMatchObject({ tag: 'z', touched: 'on-update' })
  })

  it('takes the fast path for 150 rows of {} with the same result as drizzle', async () => {
    await reset()
    expect(
      await optimizer.batchInsert(
        items,
        Array.from({ length: 150 }, () => ({})),
      ),
    ).toBe(150)
    const [row] = await database.db.select().from(items).where(sql`id = 150`)
    expect(row).toMatchObject({ id: 150, tag: null, touched: 'on-update' })
  })

  it('a later batch with a value drizzle must send keeps the ids drizzle hands out (serial and identity)', async () => {
    // nextval() is not rolled back: the fast path must write that batch in place, not roll back
    // and redo everything, or every id after the first batches is shifted
    const base = `dbo_seq_${id}`
    const seqTable = (n: string) =>
      pgTable(n, {
        id: serial('id').primaryKey(),
        ident: integer('ident').generatedAlwaysAsIdentity(),
        tag: text('tag'),
      })
    const rows = Array.from({ length: 250 }, (_, i) => ({
      tag: i === 150 ? sql`upper('x')` : i % 7 === 0 ? null : `t${i}`,
    }))
    const read = async (n: string) => {
      const r: unknown = await database.db.execute(
        sql.raw(`select id, ident, tag from "${n}" order by id`),
      )
      return (typeof r === 'object' && r !== null && 'rows' in r ? r.rows : r) as Record<
        string,
        unknown
      >[]
    }
    const sides = ['plain', 'auto', 'unnest', 'copy', 'values']
    for (const side of sides) {
      await database.db.execute(
        sql.raw(
          `create table "${base}_${side}" (id serial primary key, ident integer generated always as identity, tag text)`,
        ),
      )
    }
    try {
      await database.db.insert(seqTable(`${base}_plain`)).values(rows)
      const wantRows = await read(`${base}_plain`)
      expect(wantRows).toHaveLength(250)
      expect(wantRows[150]).toMatchObject({
        id: 151,
        ident: 151,
        tag: 'X',
      })
      for (const [side, options] of [
        ['auto', { fastPathThreshold: 0, batchSize: 100 }],
        ['copy', { method: 'copy', batchSize: 100 }],
        ['values', { method: 'values', batchSize: 100 }],
      ] as const) {
        expect(
          await optimizer.batchInsert(seqTable(`${base}_${side}`), rows as never, options),
        ).toBe(250)
        expect(await read(`${base}_${side}`), side).toEqual(wantRows)
      }
      // method 'unnest' refuses such a value (INVALID_ARGUMENT) and writes nothing
      const refused = await optimizer
        .batchInsert(seqTable(`${base}_unnest`), rows as never, {
          method: 'unnest',
          batchSize: 100,
        })
        .catch((e) => e)
      expect(refused).toBeInstanceOf(DbOptimizerError)
      expect(refused.code).toBe('INVALID_ARGUMENT')
      expect(await count(database, `${base}_unnest`)).toBe(0)
      const shapes = Object.keys(optimizer.getQueryStats().byShape)
      expect(shapes.some((k) => k.includes('unnest('))).toBe(true)
      if (driver.name === 'postgres-js')
        expect(shapes.some((k) => k.includes('from stdin'))).toBe(true)
    } finally {
      for (const side of sides)
        await database.db.execute(sql.raw(`drop table if exists "${base}_${side}"`))
    }
  })

  it('on conflict do nothing keeps the first duplicate of the input, as PostgreSQL does', async () => {
    await database.db.execute(
      sql.raw(`create unique index if not exists "${name}_tag" on "${name}" (tag)`),
    )
    try {
      for (const method of ['auto', 'values'] as const) {
        await reset()
        const rows = [
          { tag: 'a', code: 'first' },
          { tag: 'b', code: 'b' },
          { tag: 'a', code: 'last' },
        ]
        const n = await optimizer.batchInsert(items, rows, {
          method,
          fastPathThreshold: 0,
          onConflict: { target: 'tag', action: 'nothing' },
        })
        expect(n).toBe(2)
        const [a] = await database.db.select().from(items).where(sql`tag = 'a'`)
        expect(a?.code).toBe('first')
      }
    } finally {
      await database.db.execute(sql.raw(`drop index if exists "${name}_tag"`))
    }
  })

  it('batchUpdate compares keys in PostgreSQL: an upper-case UUID matches its row', async () => {
    await reset()
    const key = '8f14e45f-ceea-467f-a0e6-2b9a4c7a1c11'
    await optimizer.batchInsert(items, [{ key, tag: 'old' }])
    const missing: unknown[][] = []
    const n = await optimizer.batchUpdate(items, [{ key: key.toUpperCase(), tag: 'new' }], {
      key: 'key',
      requireAll: true,
      onMissing: (keys) => missing.push(keys),
    })
    expect(n).toBe(1)
    expect(missing).toEqual([])
    const [row] = await database.db.select().from(items)
    expect(row?.tag).toBe('new')
  })

  it('batchUpdate counts every row a non-unique key changed', async () => {
    await reset()
    await optimizer.batchInsert(
      items,
      Array.from({ length: 5 }, () => ({ tag: 'same' })),
    )
    expect(await optimizer.batchUpdate(items, [{ tag: 'same', code: 'x' }], { key: 'tag' })).toBe(5)
  })

  it('any batchSize works (200,000) for updates and inserts', async () => {
    await reset()
    const rows = Array.from({ length: 300 }, (_, i) => ({ tag: `t${i}` }))
    expect(await optimizer.batchInsert(items, rows, { batchSize: 200_000 })).toBe(300)
    expect(
      await optimizer.batchUpdate(
        items,
        rows.map((_, i) => ({ id: i + 1, code: 'u' })),
        { batchSize: 200_000 },
      ),
    ).toBe(300)
  })

  it('cuts VALUES statements at the driver bind limit, counting $onUpdate columns', async () => {
    await reset()
    // 3 parameters a row (tag, code and the $onUpdate column): 21,845 rows are 65,535 parameters,
    // over postgres.js' limit of 65,533 but within PGlite's 65,535
    const rows = Array.from({ length: 21_845 }, (_, i) => ({ tag: `t${i}`, code: 'c' }))
    optimizer.reset()
    expect(await optimizer.batchInsert(items, rows, { method: 'values', batchSize: 100_000 })).toBe(
      21_845,
    )
    const inserts = Object.entries(optimizer.getQueryStats().byShape).filter(([s]) =>
      s.startsWith('insert'),
    )
    expect(inserts.reduce((n, [, v]) => n + v.count, 0)).toBe(driver.name === 'postgres-js' ? 2 : 1)
    expect(await count(database, name)).toBe(21_845)
  })

  it('QueryOptimizer.resetStats() forgets the statistics, like reset()', async () => {
    await optimizer.batchInsert(items, [{ tag: 'stats' }])
    expect(optimizer.getQueryStats().all.count).toBeGreaterThan(0)
    optimizer.resetStats()
    expect(optimizer.getQueryStats().all.count).toBe(0)
    expect(optimizer.getAverageQueryTime()).toBe(0)
  })
})
