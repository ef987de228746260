import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConnectionPool,
  createDatabase,
  type Database,
  DbOptimizerError,
  QueryOptimizer,
} from '../src/index.js'
import {
  count,
  createTables,
  DATABASE_URL,
  dropTables,
  makeTables,
  pgliteStart,
  sourceRows,
  type Tables,
} from './drivers.js'

// The backend (or the embedded database) disappears in the middle of a multi-batch load.
describe('a load whose connection dies mid-way, on postgres-js (pg_terminate_backend)', () => {
  let database: Database
  let tables: Tables
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} })

  beforeAll(async () => {
    tables = makeTables()
    database = await createDatabase(DATABASE_URL, {
      postgres: { connection: { application_name: `dbo_fault_${tables.id}` } },
    })
    await createTables(database, tables)
  })

  afterAll(async () => {
    await dropTables(database, tables)
    await database.close()
    await admin.end()
  })

  it('leaves nothing written, names the batch, keeps the driver error, and a retry writes each row once', async () => {
    const optimizer = new QueryOptimizer(database.db)
    const rows = sourceRows(5000)
    const table = `dbo_src_${tables.id}`
    let killed = 0
    const error = await optimizer
      .batchInsert(tables.sources, rows, {
        batchSize: 1000,
        onProgress: async ({ batch }) => {
          if (batch !== 1) return
          for (let attempt = 0; attempt < 50 && killed === 0; attempt++) {
            const found = await admin<
              { pid: number }[]
            >`select pid from pg_stat_activity where application_name = ${`dbo_fault_${tables.id}`} and state = 'idle in transaction'`
            for (const { pid } of found) {
              await admin`select pg_terminate_backend(${pid})`
              killed++
            }
            if (killed === 0) await new Promise((r) => setTimeout(r, 20))
          }
        },
      })
      .then(
        () => undefined,
        (e) => e as DbOptimizerError,
      )
    expect(killed).toBe(1)
    expect(error).toBeInstanceOf(DbOptimizerError)
    expect(error?.code).toBe('BATCH_FAILED')
    expect(error?.batch).toBe(2)
    expect(error?.rowRange).toEqual([2000, 3000])
    expect(error?.cause).toBeInstanceOf(Error)
    expect(await count(database, table)).toBe(0)
    expect(await optimizer.batchInsert(tables.sources, rows, { batchSize: 1000 })).toBe(5000)
    const [totals] = await admin<
      { n: number; distinct: number }[]
    >`select count(*)::int as n, count(distinct url)::int as distinct from ${admin(table)}`
    expect([totals?.n, totals?.distinct]).toEqual([5000, 5000])
  })
})

// PGlite has no backend to kill: close() during a load waits for the load's transaction, so the
// load lands whole, and the data directory holds every row once after reopening.
describe('a load whose embedded database is closed mid-way, on pglite', () => {
  it('finishes the transaction before closing; reopening the directory shows every row exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbo-pglite-'))
    try {
      const tables = makeTables()
      let database = await createDatabase(`pglite:${dir}`, { pglite: pgliteStart() })
      await createTables(database, tables)
      const optimizer = new QueryOptimizer(database.db)
      const rows = sourceRows(3000)
      let closed: Promise<void> | undefined
      const n = await optimizer.batchInsert(tables.sources, rows, {
        batchSize: 1000,
        onProgress: ({ batch }) => {
          if (batch === 1) closed = database.close()
        },
      })
      expect(n).toBe(3000)
      await closed
      expect(ConnectionPool.getPoolStatus(database.db).open).toBe(0)
      database = await createDatabase(`pglite:${dir}`)
      expect(await count(database, `dbo_src_${tables.id}`)).toBe(3000)
      const again = await new QueryOptimizer(database.db).batchInsert(tables.sources, rows).then(
        () => undefined,
        (e) => e as DbOptimizerError,
      )
      expect(again?.code).toBe('BATCH_FAILED')
      expect(await count(database, `dbo_src_${tables.id}`)).toBe(3000)
      await database.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
