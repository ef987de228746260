// batchInsert writes exactly the rows a plain drizzle insert().values() writes, or fails the same
// way, on generated tables and rows (fast-check), on both drivers, with and without `casing`.
import { sql } from 'drizzle-orm'
import type { PgDatabase } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, DbOptimizerError, QueryOptimizer } from '../src/index.js'
import {
  buildTable,
  OTHER_SCHEMA,
  outcome,
  resetCounters,
  rowsFor,
  tableJson,
  tableSpec,
} from './batchExactRows.js'
import { drivers, suffix } from './drivers.js'

// biome-ignore lint/suspicious/noExplicitAny: drizzle databases of either driver
type AnyDb = PgDatabase<any, any, any>

const RUNS = Number(process.env.DBO_RUNS ?? 30)

describe.each(drivers)('batchInsert writes what drizzle writes, on $name', (driver) => {
  let database: Database
  let cased: AnyDb

  beforeAll(async () => {
    database = await driver.open()
    await database.db.execute(sql.raw(`create schema if not exists ${OTHER_SCHEMA}`))
    cased =
      driver.name === 'postgres-js'
        ? (drizzlePostgres(database.client as never, { casing: 'snake_case' }) as unknown as AnyDb)
        : (drizzlePglite(database.client as never, { casing: 'snake_case' }) as unknown as AnyDb)
  })

  afterAll(() => database.close())

  it('same rows (to_jsonb) or the same SQLSTATE for generated tables and rows', async () => {
    const seen = { runs: 0, fast: 0, errors: 0 }
    await fc.assert(
      fc.asyncProperty(
        fc
          .constant(null)
          .chain(() => {
            const tag = suffix()
            return fc.record({
              tag: fc.constant(tag),
              table: tableSpec(tag),
              casing: fc.boolean(),
              batchSize: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
            })
          })
          .chain((c) => fc.record({ c: fc.constant(c), rows: rowsFor(c.table) })),
        async ({ c, rows }) => {
          const db = c.casing ? cased : (database.db as AnyDb)
          const sides = ['plain', 'fast', 'values'].map((side) =>
            buildTable(c.table, `dbo_x_${c.tag}_${side}`, c.casing),
          )
          const before = new Set(c.table.columns.flatMap((col) => col.spec.before ?? []))
          for (const ddl of before) await database.db.execute(sql.raw(ddl))
          for (const s of sides) await database.db.execute(sql.raw(s.ddl))
          try {
            const [plain, fast, values] = sides as [
              (typeof sides)[0],
              (typeof sides)[0],
              (typeof sides)[0],
            ]
            resetCounters()
            const expected = await db
              .insert(plain.table)
              .values(rows as never)
              .then(
                () => undefined,
                (e: unknown) => e,
              )
            const optimizer = new QueryOptimizer(db)
            const results: [string, unknown][] = []
            for (const [side, options] of [
              [fast, { fastPathThreshold: 0, batchSize: c.batchSize }],
              [values, { method: 'values' as const, batchSize: c.batchSize }],
            ] as const) {
              resetCounters()
              const got = await optimizer.batchInsert(side.table, rows as never, options).then(
                (n) => n,
                (e: unknown) => e,
              )
              results.push([side.qualified, got])
            }
            if (Object.keys(optimizer.getQueryStats().byShape).some((k) => k.includes('unnest(')))
              seen.fast++
            if (expected !== undefined) seen.errors++
            seen.runs++
            const want = await tableJson(database.db as AnyDb, plain.qualified)
            // Several bad values: which one PostgreSQL reports first depends on when each is
            // parsed (drizzle's parameters at bind time, ours row by row), so the SQLSTATE we keep
            // must be one that some row alone raises with plain drizzle.
            const possible = new Set<string | undefined>()
            if (expected !== undefined) {
              for (const row of rows) {
                resetCounters()
                possible.add(
                  outcome(
                    await db
                      .insert(plain.table)
                      .values([row] as never)
                      .then(
                        () => undefined,
                        (e: unknown) => e,
                      ),
                  ),
                )
              }
              possible.delete(undefined)
              expect(possible.has(outcome(expected))).toBe(true)
            }
            for (const [qualified, got] of results) {
              if (expected === undefined) {
                expect(got).toBe(rows.length)
                expect(await tableJson(database.db as AnyDb, qualified)).toEqual(want)
              } else {
                expect(got).toBeInstanceOf(Error)
                if (outcome(expected) !== 'js') {
                  expect(got).toBeInstanceOf(DbOptimizerError)
                  expect(possible).toContain((got as DbOptimizerError).sqlState)
                }
                expect(await tableJson(database.db as AnyDb, qualified)).toEqual([])
              }
            }
          } finally {
            for (const s of sides)
              await database.db.execute(sql.raw(`drop table if exists ${s.qualified}`))
            for (const ddl of before)
              await database.db.execute(
                sql.raw(ddl.replace(/^create type (.*) as enum.*$/, 'drop type if exists $1')),
              )
          }
        },
      ),
      { numRuns: RUNS },
    )
    // the generator reaches both paths and both outcomes
    expect(seen.runs).toBe(RUNS)
    expect(seen.fast).toBeGreaterThan(0)
  })
})
