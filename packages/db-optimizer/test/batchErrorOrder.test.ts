// A row (or an update) with several bad values fails with the SQLSTATE drizzle's own statement
// raises, on every path: PostgreSQL parses every parameter at bind time (in drizzle's column
// order), then applies the column modifiers (in the table's column order for one row and for an
// UPDATE's SET list, in drizzle's column order for a VALUES list of several rows).
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { eq, sql, TransactionRollbackError } from 'drizzle-orm'
import { integer, numeric, pgTable, smallint, varchar } from 'drizzle-orm/pg-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, DbOptimizerError, QUERY_CHANNEL, QueryOptimizer } from '../src/index.js'
import { outcome } from './batchExactRows.js'
import { drivers, suffix } from './drivers.js'

describe.each(drivers)('errors of rows with several bad values, on $name', (driver) => {
  let database: Database
  let optimizer: QueryOptimizer
  const id = suffix()
  const name = `dbo_eo_${id}`
  // drizzle's order: k, v, n, s; the table's: k, s, n, v
  const table = pgTable(name, {
    k: integer('k').primaryKey(),
    v: varchar('v', { length: 3 }),
    n: numeric('n', { precision: 4, scale: 2 }),
    s: smallint('s'),
  })

  beforeAll(async () => {
    database = await driver.open()
    await database.db.execute(
      sql.raw(
        `create table "${name}" (k integer primary key, s smallint, n numeric(4,2), v varchar(3))`,
      ),
    )
    optimizer = new QueryOptimizer(database.db)
  })

  afterAll(async () => {
    optimizer.close()
    await database.db.execute(sql.raw(`drop table if exists "${name}"`))
    await database.close()
  })

  /** The SQLSTATE of a drizzle write run in a transaction that is always rolled back. */
  const drizzleState = (write: (tx: Database['db']) => Promise<unknown>) =>
    database.db
      .transaction(async (tx) => {
        await write(tx as unknown as Database['db'])
        tx.rollback()
      })
      .then(
        () => undefined,
        (e: unknown) => (e instanceof TransactionRollbackError ? undefined : outcome(e)),
      )

  const ourState = (write: Promise<unknown>) =>
    write.then(
      () => 'no error',
      (e: unknown) => {
        expect(e).toBeInstanceOf(DbOptimizerError)
        return (e as DbOptimizerError).sqlState
      },
    )

  /** The SQLSTATEs the fast path's own statements (unnest) failed with while `write` ran. */
  const unnestStates = async (write: () => Promise<unknown>) => {
    const states: unknown[] = []
    const onMessage = (m: unknown) => {
      const { sql: text, error } = m as { sql: string; error?: { sqlState?: string } }
      if (text.includes('unnest(') && error !== undefined) states.push(error.sqlState)
    }
    subscribe(QUERY_CHANNEL, onMessage)
    try {
      await write()
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
    }
    return states
  }

  const bad = {
    tooLong: 'abcdef', // 22001, when the modifier applies
    overflow: '123.45', // 22003 (numeric field overflow), when the modifier applies
    outOfRange: 40_000, // 22003 (smallint out of range), when the parameter is parsed
    notANumber: 'x', // 22P02, when the parameter is parsed
  }
  const cases: [string, Record<string, unknown>[], string][] = [
    ['parsed before any modifier', [{ k: 1, v: bad.tooLong, s: bad.outOfRange }], '22003'],
    ['parsed before any modifier', [{ k: 1, v: bad.tooLong, n: bad.notANumber }], '22P02'],
    ['one row: modifiers in the table order', [{ k: 1, v: bad.tooLong, n: bad.overflow }], '22003'],
    [
      'several rows: modifiers in drizzle order',
      [
        { k: 1, v: bad.tooLong, n: bad.overflow },
        { k: 2, v: 'ok', n: '1' },
      ],
      '22001',
    ],
    [
      'a later row parsed before an earlier one is fitted',
      [
        { k: 1, v: bad.tooLong, n: '1' },
        { k: 2, v: 'ok', n: bad.notANumber },
      ],
      '22P02',
    ],
  ]

  it.each(cases)('batchInsert: %s', async (_, rows, want) => {
    expect(await drizzleState((tx) => tx.insert(table).values(rows as never))).toBe(want)
    for (const options of [
      { fastPathThreshold: 0 },
      { method: 'values' as const },
      { method: 'copy' as const },
    ]) {
      const got = await ourState(optimizer.batchInsert(table, rows as never, options))
      expect({ options, got }).toEqual({ options, got: want })
    }
    // one row: the fast statement itself evaluates in drizzle's order (no replay needed to know)
    if (rows.length === 1) {
      const states = await unnestStates(() =>
        optimizer.batchInsert(table, rows as never, { fastPathThreshold: 0 }).catch(() => {}),
      )
      expect(states).toEqual([want])
    }
  })

  it('batchUpdate of a varchar(n)[] column: a too-long element fails as drizzle fails it, never cut', async () => {
    const arrays = pgTable(`${name}_a`, {
      k: integer('k').primaryKey(),
      tags: varchar('tags', { length: 3 }).array(),
    })
    await database.db.execute(
      sql.raw(`create table "${name}_a" (k integer primary key, tags varchar(3)[])`),
    )
    try {
      await database.db.insert(arrays).values({ k: 1, tags: ['a'] })
      const want = await drizzleState((tx) =>
        tx
          .update(arrays)
          .set({ tags: ['abcdef'] })
          .where(eq(arrays.k, 1)),
      )
      expect(want).toBe('22001')
      expect(await ourState(optimizer.batchUpdate(arrays, [{ k: 1, tags: ['abcdef'] }]))).toBe(want)
      expect(await optimizer.batchUpdate(arrays, [{ k: 1, tags: ['ab', 'c'] }])).toBe(1)
      expect(await database.db.select().from(arrays)).toEqual([{ k: 1, tags: ['ab', 'c'] }])
    } finally {
      await database.db.execute(sql.raw(`drop table if exists "${name}_a"`))
    }
  })

  it.each([
    ['parsed before any modifier', { v: bad.tooLong, s: bad.outOfRange }, '22003'],
    ['parsed before any modifier', { v: bad.tooLong, n: bad.notANumber }, '22P02'],
    ['modifiers in the table order', { v: bad.tooLong, n: bad.overflow }, '22003'],
    ['modifiers in the table order', { n: bad.overflow, v: bad.tooLong }, '22003'],
  ] as const)('batchUpdate: %s (%o)', async (_, set, want) => {
    await database.db.execute(sql.raw(`truncate "${name}"`))
    await database.db.insert(table).values({ k: 1 })
    expect(
      await drizzleState((tx) =>
        tx
          .update(table)
          .set(set as never)
          .where(eq(table.k, 1)),
      ),
    ).toBe(want)
    expect(await ourState(optimizer.batchUpdate(table, [{ k: 1, ...set }] as never))).toBe(want)
    // the fast statement itself evaluates in drizzle's order
    const states = await unnestStates(() =>
      optimizer.batchUpdate(table, [{ k: 1, ...set }] as never).catch(() => {}),
    )
    expect(states).toEqual([want])
  })
})
