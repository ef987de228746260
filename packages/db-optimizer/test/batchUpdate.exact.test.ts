// batchUpdate leaves a table exactly as drizzle's update().set().where(eq(key, value)), run once per
// update in one transaction, leaves it, or fails the same way, on generated tables (fast-check).
import { eq, TransactionRollbackError } from 'drizzle-orm'
import { integer, type PgColumn, type PgTable } from 'drizzle-orm/pg-core'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DbOptimizerError, QueryOptimizer } from '../src/index.js'
import {
  type AnyDb,
  type ColumnSpec,
  type ExactDatabase,
  exactCase,
  openExact,
  outcome,
  resetCounters,
  rowsFor,
  type TableSpec,
  tableJson,
  withTables,
} from './batchExactRows.js'
import { drivers } from './drivers.js'

const RUNS = Number(process.env.DBO_RUNS ?? 25)

const keySpec: ColumnSpec = {
  kind: 'key',
  ddl: 'integer primary key',
  build: (nm) => (nm ? integer(nm) : integer()).primaryKey(),
  value: fc.constant(undefined),
  optional: false,
  updatable: false,
}

/** Rows in key order (an UPDATE moves rows; ctid order is not kept). */
async function sortedJson(db: AnyDb, qualified: string): Promise<unknown[]> {
  return (await tableJson(db, qualified)).sort(
    (a, b) => (a as { k_id: number }).k_id - (b as { k_id: number }).k_id,
  )
}

function withKey(t: TableSpec): TableSpec {
  return {
    ...t,
    columns: [{ key: 'kId', name: 'k_id', spec: keySpec }, ...t.columns],
    ddlOrder: [0, ...t.ddlOrder.map((i) => i + 1)],
  }
}

function updatesFor(t: TableSpec, seeded: number): fc.Arbitrary<Record<string, unknown>[]> {
  const settable = t.columns.filter((c) => c.spec.updatable)
  return fc.array(
    fc
      .tuple(
        fc.integer({ min: 1, max: seeded + 3 }),
        fc.subarray(settable, { minLength: 1 }),
        fc.tuple(...settable.map((c) => c.spec.value)),
      )
      .map(([kId, chosen, values]) => {
        const update: Record<string, unknown> = { kId }
        for (const c of chosen) {
          const v = values[settable.indexOf(c)]
          update[c.key] = v === undefined ? null : v
        }
        return update
      }),
    { minLength: 1, maxLength: 25 },
  )
}

describe.each(drivers)('batchUpdate leaves what drizzle leaves, on $name', (driver) => {
  let exact: ExactDatabase

  beforeAll(async () => {
    exact = await openExact(driver)
  })

  afterAll(() => exact.database.close())

  it('same rows (to_jsonb), counts and missing keys, or the same failure', async () => {
    let compared = 0
    let singles = 0
    await fc.assert(
      fc.asyncProperty(
        exactCase(10, (t) =>
          t.filter((t) => t.uniform && t.columns.some((c) => c.spec.updatable)).map(withKey),
        )
          .chain((c) =>
            fc.record({
              c: fc.constant(c),
              seed: rowsFor(c.table, 12).map((rows) => rows.map((r, i) => ({ ...r, kId: i + 1 }))),
            }),
          )
          .chain((s) =>
            fc.record({
              s: fc.constant(s),
              updates: updatesFor(s.c.table, s.seed.length),
            }),
          ),
        async ({ s: { c, seed }, updates }) => {
          const db = exact.db(c.casing)
          const names = ['plain', 'ours'].map((side) => `dbo_u_${c.tag}_${side}`)
          await withTables(exact.database.db as AnyDb, c.table, names, c.casing, async (sides) => {
            const [plain, ours] = sides as [(typeof sides)[0], (typeof sides)[0]]
            let seeded = true
            for (const side of [plain, ours]) {
              resetCounters()
              await db
                .insert(side.table)
                .values(seed as never)
                .catch(() => {
                  seeded = false
                })
            }
            if (!seeded) return
            const start = await sortedJson(db, ours.qualified)
            const key = (plain.table as unknown as Record<string, PgColumn>).kId as PgColumn
            const matched = new Set<number>()
            const missingWant: number[] = []
            const expected = await db
              .transaction(async (tx) => {
                for (const u of updates) {
                  const { kId, ...set } = u
                  const r = (await tx
                    .update(plain.table as PgTable)
                    .set(set as never)
                    .where(eq(key, kId))) as unknown as { count?: number; affectedRows?: number }
                  const n = r.count ?? r.affectedRows ?? 0
                  if (n > 0) matched.add(kId as number)
                }
              })
              .then(
                () => undefined,
                (e: unknown) => e,
              )
            for (const u of updates) {
              const k = u.kId as number
              if (!matched.has(k) && !missingWant.includes(k)) missingWant.push(k)
            }
            const missing: unknown[] = []
            const got = await new QueryOptimizer(db)
              .batchUpdate(ours.table, updates as never, {
                key: 'kId' as never,
                batchSize: c.batchSize,
                onMissing: (keys) => missing.push(...keys),
              })
              .then(
                (n) => n,
                (e: unknown) => e,
              )
            if (expected === undefined) {
              expect(got).toBe(matched.size)
              expect(missing).toEqual(missingWant)
              expect(await sortedJson(db, ours.qualified)).toEqual(
                await sortedJson(db, plain.qualified),
              )
              compared++
            } else {
              expect(got).toBeInstanceOf(Error)
              if (outcome(expected) !== 'js') {
                expect(got).toBeInstanceOf(DbOptimizerError)
                expect((got as DbOptimizerError).sqlState).toMatch(/^[0-9A-Z]{5}$/)
              }
              expect(await sortedJson(db, ours.qualified)).toEqual(start)
              // An update alone (on the seeded rows) that drizzle fails, we fail the same way,
              // even when several of its values are bad (one parsed, another too long, …).
              for (const u of updates) {
                const { kId, ...set } = u
                const alone = outcome(
                  await db
                    .transaction(async (tx) => {
                      await tx
                        .update(plain.table as PgTable)
                        .set(set as never)
                        .where(eq(key, kId))
                      tx.rollback()
                    })
                    .then(
                      () => undefined,
                      (e: unknown) => (e instanceof TransactionRollbackError ? undefined : e),
                    ),
                )
                if (alone === undefined) continue
                const mine = await new QueryOptimizer(db)
                  .batchUpdate(ours.table, [u] as never, { key: 'kId' as never })
                  .then(
                    (n) => n,
                    (e: unknown) => e,
                  )
                expect(mine).toBeInstanceOf(Error)
                if (alone !== 'js') {
                  expect(mine).toBeInstanceOf(DbOptimizerError)
                  expect({ u, state: (mine as DbOptimizerError).sqlState }).toEqual({
                    u,
                    state: alone,
                  })
                }
                singles++
              }
              expect(await sortedJson(db, ours.qualified)).toEqual(start)
            }
          })
        },
      ),
      { numRuns: RUNS },
    )
    expect(compared).toBeGreaterThan(0)
    expect(singles).toBeGreaterThan(0)
  })
})
