// EXPLAIN through QueryOptimizer.explain.
import { eq, sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { QueryOptimizer } from '../src/index.js'
import { seededDriverSuite } from './driverSuite.js'
import { drivers } from './drivers.js'

describe.each(drivers)('QueryOptimizer.explain on $name', (driver) => {
  const suite = seededDriverSuite(driver, 200)

  it('explains a query, and analyses DML inside a rolled-back transaction', async () => {
    const optimizer = new QueryOptimizer(suite.database.db)
    const plain = await optimizer.explain(
      suite.database.db.select().from(suite.tables.sources).where(eq(suite.tables.sources.id, 3)),
    )
    expect(plain.plan['Node Type']).toMatch(/Scan/)
    expect(plain.totalCost).toBeGreaterThan(0)
    expect(plain.executionTimeMs).toBeUndefined()
    expect(plain.text).toContain(`dbo_src_${suite.tables.id}`)
    const analysed = await optimizer.explain(suite.database.db.delete(suite.tables.sources), {
      analyze: true,
    })
    expect(analysed.plan['Node Type']).toBe('ModifyTable')
    expect(analysed.executionTimeMs).toBeGreaterThan(0)
    expect(analysed.text).toContain('actual rows=')
    const buffers = await optimizer.explain(suite.database.db.select().from(suite.tables.sources), {
      analyze: true,
      buffers: true,
    })
    expect(buffers.plan).toHaveProperty('Shared Hit Blocks')
    expect(plain.plan).not.toHaveProperty('Shared Hit Blocks')
    const [left] = await suite.database.db
      .select({ n: sql<number>`count(*)::int` })
      .from(suite.tables.sources)
    expect(left?.n).toBe(200)
    await expect(optimizer.explain('select 1' as never)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    optimizer.close()
  })
})
