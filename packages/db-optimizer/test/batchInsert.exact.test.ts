// batchInsert writes exactly the rows a plain drizzle insert().values() writes, or fails the same
// way, on generated tables and rows (fast-check), on both drivers, with and without `casing`:
// the unnest fast path, method 'values' and method 'copy' (COPY FROM STDIN on postgres.js). A
// failure has exactly the SQLSTATE drizzle's statement of the same batch raises, also when rows
// hold several bad values (one that does not parse, one too long for its column, …), and a row
// alone fails as drizzle fails it.
import { TransactionRollbackError } from 'drizzle-orm'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DbOptimizerError, QueryOptimizer } from '../src/index.js'
import {
  type AnyDb,
  type ExactDatabase,
  exactCase,
  openExact,
  outcome,
  resetCounters,
  rowsFor,
  tableJson,
  withTables,
} from './batchExactRows.js'
import { drivers } from './drivers.js'

const RUNS = Number(process.env.DBO_RUNS ?? 30)

describe.each(drivers)('batchInsert writes what drizzle writes, on $name', (driver) => {
  let exact: ExactDatabase

  beforeAll(async () => {
    exact = await openExact(driver)
  })

  afterAll(() => exact.database.close())

  it('same rows (to_jsonb) or the same SQLSTATE for generated tables and rows', async () => {
    const seen = { runs: 0, fast: 0, copy: 0, errors: 0, singles: 0 }
    await fc.assert(
      fc.asyncProperty(
        exactCase(40).chain((c) => fc.record({ c: fc.constant(c), rows: rowsFor(c.table) })),
        async ({ c, rows }) => {
          const db = exact.db(c.casing)
          const plainDb = exact.database.db as AnyDb
          const names = ['plain', 'fast', 'values', 'copy'].map((s) => `dbo_x_${c.tag}_${s}`)
          await withTables(plainDb, c.table, names, c.casing, async (sides) => {
            const [plain, fast, values, copy] = sides as [
              (typeof sides)[0],
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
              [copy, { method: 'copy' as const, batchSize: c.batchSize }],
            ] as const) {
              resetCounters()
              const got = await optimizer.batchInsert(side.table, rows as never, options).then(
                (n) => n,
                (e: unknown) => e,
              )
              results.push([side.qualified, got])
            }
            const shapes = Object.keys(optimizer.getQueryStats().byShape)
            if (shapes.some((k) => k.includes('unnest('))) seen.fast++
            if (shapes.some((k) => k.includes('from stdin'))) seen.copy++
            if (expected !== undefined) seen.errors++
            seen.runs++
            const wantRows = await tableJson(plainDb, plain.qualified)
            // drizzle's error is one that some row alone raises
            const possible = new Set<string | undefined>()
            const failing: { row: Record<string, unknown>; state: string }[] = []
            if (expected !== undefined) {
              for (const row of rows) {
                resetCounters()
                const state = outcome(
                  await db
                    .insert(plain.table)
                    .values([row] as never)
                    .then(
                      () => undefined,
                      (e: unknown) => e,
                    ),
                )
                possible.add(state)
                if (state !== undefined) failing.push({ row, state })
              }
              possible.delete(undefined)
              expect(possible.has(outcome(expected))).toBe(true)
            }
            // each path cuts the rows into the same batches: drizzle's statement of the batch
            // that fails first (in one transaction, rolled back) names the SQLSTATE to raise
            const batch = c.batchSize ?? rows.length
            const want =
              expected === undefined || batch >= rows.length
                ? outcome(expected)
                : outcome(
                    await db
                      .transaction(async (tx) => {
                        resetCounters()
                        for (let i = 0; i < rows.length; i += batch)
                          await tx.insert(plain.table).values(rows.slice(i, i + batch) as never)
                        tx.rollback()
                      })
                      .then(
                        () => undefined,
                        (e: unknown) => (e instanceof TransactionRollbackError ? undefined : e),
                      ),
                  )
            for (const [qualified, got] of results) {
              if (expected === undefined) {
                expect(got).toBe(rows.length)
                expect(await tableJson(plainDb, qualified)).toEqual(wantRows)
              } else {
                expect(got).toBeInstanceOf(Error)
                if (want !== 'js') {
                  expect(got).toBeInstanceOf(DbOptimizerError)
                  expect({ qualified, state: (got as DbOptimizerError).sqlState }).toEqual({
                    qualified,
                    state: want,
                  })
                }
                expect(await tableJson(plainDb, qualified)).toEqual([])
              }
            }
            // A row alone fails exactly as drizzle fails it, even when several of its values are
            // bad (one parsed, another too long, …): the same SQLSTATE, on every path.
            for (const { row, state } of failing) {
              for (const [side, options] of [
                [fast, { fastPathThreshold: 0 }],
                [values, { method: 'values' as const }],
                [copy, { method: 'copy' as const }],
              ] as const) {
                resetCounters()
                const got = await optimizer.batchInsert(side.table, [row] as never, options).then(
                  (n) => n,
                  (e: unknown) => e,
                )
                expect(got).toBeInstanceOf(Error)
                if (state !== 'js') {
                  expect(got).toBeInstanceOf(DbOptimizerError)
                  expect({ row, state: (got as DbOptimizerError).sqlState }).toEqual({ row, state })
                }
              }
              seen.singles++
            }
          })
        },
      ),
      { numRuns: RUNS },
    )
    // the generator reaches both paths (and COPY where the driver has it) and both outcomes
    expect(seen.runs).toBe(RUNS)
    expect(seen.fast).toBeGreaterThan(0)
    expect(seen.singles).toBeGreaterThan(0)
    if (driver.name === 'postgres-js') expect(seen.copy).toBeGreaterThan(0)
    else expect(seen.copy).toBe(0)
  })
})
