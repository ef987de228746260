// EXPLAIN through QueryOptimizer.explain.
import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, QueryOptimizer } from '../src/index.js'
import { closeDriverSuite, openDriverSuite } from './driverSuite.js'
import { drivers, sourceRows, type Tables } from './drivers.js'

describe.each(drivers)('QueryOptimizer.explain on $name', (driver) => {
  let database: Database
  let tables: Tables

  beforeAll(async () => {
    const suite = await openDriverSuite(driver)
    ;({ database, tables } = suite)
    await suite.optimizer.batchInsert(tables.sources, sourceRows(200))
    suite.optimizer.close()
  })

  afterAll(() => closeDriverSuite(database, tables))

  it('explains a query, and analyses DML inside a rolled-back transaction', async () => {
    const optimizer = new QueryOptimizer(database.db)
    const plain = await optimizer.explain(
      database.db.select().from(tables.sources).where(eq(tables.sources.id, 3)),
    )
    expect(plain.plan['Node Type']).toMatch(/Scan/)
    expect(plain.totalCost).toBeGreaterThan(0)
    expect(plain.executionTimeMs).toBeUndefined()
    expect(plain.text).toContain(`dbo_src_${tables.id}`)
    const analysed = await optimizer.explain(database.db.delete(tables.sources), { analyze: true })
    expect(analysed.plan['Node Type']).toBe('ModifyTable')
    expect(analysed.executionTimeMs).toBeGreaterThan(0)
    expect(analysed.text).toContain('actual rows=')
    const buffers = await optimizer.explain(database.db.select().from(tables.sources), {
      analyze: true,
      buffers: true,
    })
    expect(buffers.plan).toHaveProperty('Shared Hit Blocks')
    expect(plain.plan).not.toHaveProperty('Shared Hit Blocks')
    const [left] = await database.db.select({ n: sql<number>`count(*)::int` }).from(tables.sources)
    expect(left?.n).toBe(200)
    await expect(optimizer.explain('select 1' as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    optimizer.close()
  })
})
