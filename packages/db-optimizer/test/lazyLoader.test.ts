import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AsyncLazyLoader, type Database, LazyLoader, QueryOptimizer } from '../src/index.js'
import { drivers } from './drivers.js'

describe.each(drivers)('LazyLoader and AsyncLazyLoader loading from $name', (driver) => {
  let database: Database
  let optimizer: QueryOptimizer

  beforeAll(async () => {
    database = await driver.open()
    optimizer = new QueryOptimizer(database.db)
  })

  afterAll(async () => {
    await database.close()
  })

  const loadAnswer = async () => {
    const result = (await database.db.execute(sql`select 40 + 2 as answer`)) as unknown
    const rows = (
      Array.isArray(result) ? result : (result as { rows: { answer: number }[] }).rows
    ) as { answer: number }[]
    return rows[0]?.answer
  }

  it('LazyLoader computes on first .value, keeps it, and reset() forgets it', () => {
    let calls = 0
    const lazy = new LazyLoader(() => ({ heavy: ++calls }))
    expect(lazy.isLoaded).toBe(false)
    expect(calls).toBe(0)
    expect(lazy.value).toEqual({ heavy: 1 })
    expect(lazy.value).toBe(lazy.value)
    expect(lazy.isLoaded).toBe(true)
    lazy.reset()
    expect(lazy.isLoaded).toBe(false)
    expect(lazy.value).toEqual({ heavy: 2 })
    let fail = true
    const flaky = new LazyLoader(() => {
      if (fail) throw new Error('not yet')
      return 'ok'
    })
    expect(() => flaky.value).toThrow('not yet')
    expect(flaky.isLoaded).toBe(false)
    fail = false
    expect(flaky.value).toBe('ok')
  })

  it('AsyncLazyLoader: concurrent first calls share ONE load from the database', async () => {
    optimizer.reset()
    let loads = 0
    const lazy = new AsyncLazyLoader(async () => {
      loads++
      return loadAnswer()
    })
    const results = await Promise.all([lazy.get(), lazy.get(), lazy.value, lazy.get()])
    expect(results).toEqual([42, 42, 42, 42])
    expect(loads).toBe(1)
    expect(optimizer.getQueryStats().all.count).toBe(1)
    expect(lazy.isLoaded).toBe(true)
    expect(await lazy.get()).toBe(42)
    expect(loads).toBe(1)
    lazy.reset()
    expect(lazy.isLoaded).toBe(false)
    expect(await lazy.get()).toBe(42)
    expect(loads).toBe(2)
  })

  it('AsyncLazyLoader does not cache a failed load: every waiter sees the error, the next call retries', async () => {
    let attempt = 0
    const lazy = new AsyncLazyLoader(async () => {
      attempt++
      if (attempt === 1) await database.db.execute(sql`select * from dbo_table_that_does_not_exist`)
      return loadAnswer()
    })
    const first = await Promise.allSettled([lazy.get(), lazy.get()])
    expect(first.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    expect(attempt).toBe(1)
    expect(lazy.isLoaded).toBe(false)
    expect(await lazy.get()).toBe(42)
    expect(attempt).toBe(2)
  })

  it('rejects a loader that is not a function', () => {
    expect(() => new LazyLoader(42 as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    expect(() => new AsyncLazyLoader(null as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })
})
