// method 'copy': COPY FROM STDIN on postgres.js settles with a coded error and writes nothing
// whenever the server rejects the data (a bad value, a constraint, a killed connection), before or
// after the last byte went out; PGlite falls back. And the cached column types never give a wrong
// result after the table changed between two calls (both drivers, every path that uses them).
import { sql } from 'drizzle-orm'
import { boolean, check, integer, type PgDatabase, pgTable, text } from 'drizzle-orm/pg-core'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDatabase, type Database, DbOptimizerError, QueryOptimizer } from '../src/index.js'
import { DATABASE_URL, drivers, suffix } from './drivers.js'

// biome-ignore lint/suspicious/noExplicitAny: drizzle databases of either driver
type AnyDb = PgDatabase<any, any, any>

function rowsOf(result: unknown): Record<string, unknown>[] {
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Record<
    string,
    unknown
  >[]
}

async function count(db: AnyDb, name: string): Promise<number> {
  const [row] = rowsOf(await db.execute(sql.raw(`select count(*)::int as n from "${name}"`)))
  return Number(row?.n)
}

function sqlStateOf(error: unknown): string | undefined {
  let e: unknown = error
  for (let i = 0; i < 5 && e instanceof Error; i++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
    e = e.cause
  }
  return undefined
}

function loadTable(name: string) {
  return pgTable(
    name,
    {
      id: integer('id').notNull().unique(),
      body: text('body').notNull(),
      n: integer('n'),
    },
    (t) => [check(`${name}_n`, sql`${t.n} is null or ${t.n} >= 0`)],
  )
}

const copyShapes = (optimizer: QueryOptimizer) =>
  Object.keys(optimizer.getQueryStats().byShape).filter((k) => k.includes('from stdin'))

describe('method copy on postgres-js: rejected COPYs settle and write nothing', () => {
  let database: Database
  const id = suffix()
  const name = `dbo_copy_${id}`
  const table = loadTable(name)
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} })

  beforeAll(async () => {
    database = await createDatabase(DATABASE_URL, {
      postgres: { connection: { application_name: `dbo_copy_${id}` } },
    })
    await database.db.execute(
      sql.raw(
        `create table "${name}" (id integer not null unique, body text not null, n integer, constraint "${name}_n" check (n is null or n >= 0))`,
      ),
    )
    // a row whose body is 'sleep' stalls its COPY on the server, so the test can kill it mid-way
    await database.db.execute(
      sql.raw(
        `create function "${name}_sleep"() returns trigger language plpgsql as $$ begin if new.body = 'sleep' then perform pg_sleep(60); end if; return new; end $$`,
      ),
    )
    await database.db.execute(
      sql.raw(
        `create trigger "${name}_sleep" before insert on "${name}" for each row execute function "${name}_sleep"()`,
      ),
    )
  })

  afterAll(async () => {
    await database.db.execute(sql.raw(`drop table if exists "${name}"`))
    await database.db.execute(sql.raw(`drop function if exists "${name}_sleep"()`))
    await database.close()
    await admin.end()
  })

  const rows = (n: number, body = 'x'.repeat(80)) =>
    Array.from({ length: n }, (_, i) => ({ id: i, body: `${body}\t${i}\\N`, n: i }))

  it('writes every row with COPY, special characters intact', async () => {
    const optimizer = new QueryOptimizer(database.db)
    const input = rows(2500)
    expect(await optimizer.batchInsert(table, input, { method: 'copy', batchSize: 1000 })).toBe(
      2500,
    )
    expect(copyShapes(optimizer).length).toBeGreaterThan(0)
    const got = rowsOf(
      await database.db.execute(sql.raw(`select id, body, n from "${name}" order by id`)),
    )
    expect(got).toEqual(input)
    await database.db.execute(sql.raw(`truncate "${name}"`))
  })

  // small loads: every byte is out before the server answers (postgres.js never finishes the
  // stream then); large ones: the server answers while data still flows
  const cases: [string, (r: { id: number; body: string; n: number | null }[]) => unknown[]][] = [
    ['a duplicate key', (r) => [...r, { ...(r[0] as object) }]],
    ['a failed check constraint', (r) => [...r, { id: -1, body: 'b', n: -5 }]],
    ['a NULL in a NOT NULL column', (r) => [...r, { id: -1, body: null, n: 1 }]],
    ['an integer out of range', (r) => [...r, { id: -1, body: 'b', n: 2 ** 40 }]],
    ['a bad value first, in a large load', (r) => [{ id: -1, body: 'b', n: 1.5 }, ...r]],
  ]
  for (const [label, make] of cases) {
    for (const size of [3, 60_000]) {
      it(`${label} (${size} rows): a coded error with drizzle's SQLSTATE, nothing written`, async () => {
        const input = make(rows(size))
        // plain drizzle, in chunks of 1,000 in one transaction (one statement of 60,000 rows
        // overflows drizzle's own stack)
        const expected = await database.db
          .transaction(async (tx) => {
            for (let i = 0; i < input.length; i += 1000)
              await tx.insert(table).values(input.slice(i, i + 1000) as never)
          })
          .then(
            () => undefined,
            (e: unknown) => e,
          )
        expect(sqlStateOf(expected)).toMatch(/^[0-9A-Z]{5}$/)
        expect(await count(database.db as AnyDb, name)).toBe(0)
        const optimizer = new QueryOptimizer(database.db)
        const got = await optimizer.batchInsert(table, input as never, { method: 'copy' }).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(got).toBeInstanceOf(DbOptimizerError)
        expect((got as DbOptimizerError).code).toBe('BATCH_FAILED')
        expect((got as DbOptimizerError).sqlState).toBe(sqlStateOf(expected))
        if (!label.includes('bad value')) expect(copyShapes(optimizer).length).toBeGreaterThan(0)
        expect(await count(database.db as AnyDb, name)).toBe(0)
        // the connection is usable afterwards: a good load goes through
        expect(await optimizer.batchInsert(table, rows(10), { method: 'copy' })).toBe(10)
        await database.db.execute(sql.raw(`truncate "${name}"`))
      })
    }
  }

  it('a connection killed in the middle of a COPY: a coded error, nothing written', async () => {
    const optimizer = new QueryOptimizer(database.db)
    let killed = 0
    const killer = (async () => {
      for (let attempt = 0; attempt < 500 && killed === 0; attempt++) {
        const found = await admin<
          { pid: number }[]
        >`select pid from pg_stat_activity where application_name = ${`dbo_copy_${id}`} and state = 'active' and query like 'copy %'`
        for (const { pid } of found) {
          await admin`select pg_terminate_backend(${pid})`
          killed++
        }
        if (killed === 0) await new Promise((r) => setTimeout(r, 20))
      }
    })()
    const input = [...rows(20_000), { id: -1, body: 'sleep', n: 1 }]
    const got = await optimizer.batchInsert(table, input, { method: 'copy' }).then(
      () => undefined,
      (e: unknown) => e,
    )
    await killer
    expect(killed).toBe(1)
    expect(got).toBeInstanceOf(DbOptimizerError)
    expect(['BATCH_FAILED', 'COMMIT_UNKNOWN']).toContain((got as DbOptimizerError).code)
    expect((got as DbOptimizerError).cause).toBeInstanceOf(Error)
    const [left] = await admin<{ n: number }[]>`select count(*)::int as n from ${admin(name)}`
    expect(left?.n).toBe(0)
  }, 60_000)
})

describe.each(drivers)('cached column types after ALTER TABLE, on $name', (driver) => {
  let database: Database

  beforeAll(async () => {
    database = await driver.open()
  })
  afterAll(() => database.close())

  const catalogReads = (optimizer: QueryOptimizer) =>
    Object.entries(optimizer.getQueryStats().byShape)
      .filter(([k]) => k.startsWith('select a.attname'))
      .reduce((n, [, s]) => n + s.count, 0)

  for (const method of ['unnest', 'copy'] as const) {
    it(`batchInsert (${method}): a column changed from integer to text keeps '042'`, async () => {
      const name = `dbo_cache_i_${suffix()}`
      await database.db.execute(sql.raw(`create table "${name}" (k integer, v integer)`))
      try {
        const optimizer = new QueryOptimizer(database.db)
        const before = pgTable(name, { k: integer('k'), v: integer('v') })
        expect(await optimizer.batchInsert(before, [{ k: 1, v: 42 }], { method })).toBe(1)
        expect(await optimizer.batchInsert(before, [{ k: 2, v: 43 }], { method })).toBe(1)
        // the second call used the cache: one catalog read for two calls
        expect(catalogReads(optimizer)).toBe(1)
        await database.db.execute(sql.raw(`alter table "${name}" alter column v type text`))
        const after = pgTable(name, { k: integer('k'), v: text('v') })
        expect(await optimizer.batchInsert(after, [{ k: 3, v: '042' }], { method })).toBe(1)
        const got = rowsOf(
          await database.db.execute(sql.raw(`select k, v from "${name}" order by k`)),
        )
        expect(got).toEqual([
          { k: 1, v: '42' },
          { k: 2, v: '43' },
          { k: 3, v: '042' },
        ])
      } finally {
        await database.db.execute(sql.raw(`drop table if exists "${name}"`))
      }
    })
  }

  it('batchInsert (copy): a column changed from boolean to integer fails as drizzle fails', async () => {
    const name = `dbo_cache_b_${suffix()}`
    await database.db.execute(sql.raw(`create table "${name}" (k integer, v boolean)`))
    try {
      const optimizer = new QueryOptimizer(database.db)
      const t = pgTable(name, { k: integer('k'), v: boolean('v') })
      expect(await optimizer.batchInsert(t, [{ k: 1, v: true }], { method: 'copy' })).toBe(1)
      await database.db.execute(
        sql.raw(`alter table "${name}" alter column v type integer using 1`),
      )
      const expected = await database.db
        .insert(t)
        .values([{ k: 2, v: true }])
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      const got = await optimizer.batchInsert(t, [{ k: 2, v: true }], { method: 'copy' }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(got).toBeInstanceOf(DbOptimizerError)
      expect((got as DbOptimizerError).sqlState).toBe(sqlStateOf(expected))
      expect(await count(database.db as AnyDb, name)).toBe(1)
    } finally {
      await database.db.execute(sql.raw(`drop table if exists "${name}"`))
    }
  })

  it("batchUpdate: a column changed from integer to text keeps '042'; a recreated table too", async () => {
    const name = `dbo_cache_u_${suffix()}`
    await database.db.execute(sql.raw(`create table "${name}" (k integer primary key, v integer)`))
    try {
      const optimizer = new QueryOptimizer(database.db)
      const before = pgTable(name, { k: integer('k').primaryKey(), v: integer('v') })
      await database.db.insert(before).values([
        { k: 1, v: 1 },
        { k: 2, v: 2 },
      ])
      expect(await optimizer.batchUpdate(before, [{ k: 1, v: 10 }])).toBe(1)
      expect(await optimizer.batchUpdate(before, [{ k: 2, v: 20 }])).toBe(1)
      expect(catalogReads(optimizer)).toBe(1)
      await database.db.execute(sql.raw(`alter table "${name}" alter column v type text`))
      const after = pgTable(name, { k: integer('k').primaryKey(), v: text('v') })
      expect(await optimizer.batchUpdate(after, [{ k: 1, v: '010' }])).toBe(1)
      await database.db.execute(sql.raw(`drop table "${name}"`))
      await database.db.execute(sql.raw(`create table "${name}" (k integer primary key, v text)`))
      await database.db.insert(after).values([{ k: 2, v: 'x' }])
      expect(await optimizer.batchUpdate(after, [{ k: 2, v: '020' }])).toBe(1)
      const got = rowsOf(
        await database.db.execute(sql.raw(`select k, v from "${name}" order by k`)),
      )
      expect(got).toEqual([{ k: 2, v: '020' }])
    } finally {
      await database.db.execute(sql.raw(`drop table if exists "${name}"`))
    }
  })

  if (driver.name === 'pglite') {
    it("method 'copy' falls back to the fast path and writes the same rows", async () => {
      const name = `dbo_copy_lite_${suffix()}`
      await database.db.execute(sql.raw(`create table "${name}" (k integer, v text)`))
      try {
        const optimizer = new QueryOptimizer(database.db)
        const t = pgTable(name, { k: integer('k'), v: text('v') })
        const input = Array.from({ length: 300 }, (_, k) => ({ k, v: `a\tb\n${k}` }))
        expect(await optimizer.batchInsert(t, input, { method: 'copy' })).toBe(300)
        expect(copyShapes(optimizer)).toEqual([])
        const got = rowsOf(
          await database.db.execute(sql.raw(`select k, v from "${name}" order by k`)),
        )
        expect(got).toEqual(input)
      } finally {
        await database.db.execute(sql.raw(`drop table if exists "${name}"`))
      }
    })
  }
})
