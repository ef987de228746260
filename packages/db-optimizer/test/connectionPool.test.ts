import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ConnectionPool,
  createDatabase,
  type Database,
  optimizeForReadHeavy,
  optimizeForWriteHeavy,
  type PoolStatus,
  QUERY_CHANNEL,
} from '../src/index.js'
import { DATABASE_URL, drivers, pgliteStart } from './drivers.js'

const rowsOf = (result: unknown) =>
  (Array.isArray(result) ? result : (result as { rows: Record<string, unknown>[] }).rows) as Record<
    string,
    unknown
  >[]

describe.each(drivers)('ConnectionPool on $name', (driver) => {
  let database: Database

  beforeAll(async () => {
    database = await driver.open()
  })

  afterAll(async () => {
    await database.close()
  })

  it('recommends a pool size for a target concurrency, with reasons (before any traffic)', () => {
    const rec = ConnectionPool.optimizePoolSize(database.db, { targetConcurrency: 30 })
    if (driver.name === 'postgres-js') {
      expect(rec).toMatchObject({
        currentMax: 10,
        recommendedMax: 30,
        action: 'increase',
        options: { max: 30 },
      })
      expect(ConnectionPool.optimizePoolSize(database.db, { targetConcurrency: 4 }).action).toBe(
        'decrease',
      )
      expect(
        ConnectionPool.optimizePoolSize(database.db, { targetConcurrency: 500 }).recommendedMax,
      ).toBe(97)
      expect(ConnectionPool.optimizePoolSize(database.db, { targetConcurrency: 8 })).toMatchObject({
        action: 'keep',
        recommendedMax: 10,
      })
    } else {
      expect(rec).toMatchObject({ currentMax: 1, recommendedMax: 1, action: 'keep' })
    }
    expect(rec.reasons.length).toBeGreaterThan(0)
    const capped = ConnectionPool.optimizePoolSize(database.db, {
      targetConcurrency: 30,
      serverLimit: 20,
    })
    if (driver.name === 'postgres-js') {
      expect(capped.recommendedMax).toBe(20)
      expect(capped.reasons.join(' ')).toContain('Capped at the server')
    } else {
      expect(capped.recommendedMax).toBe(1)
      expect(capped.reasons.join(' ')).toContain('max=20')
    }
    expect(() => ConnectionPool.optimizePoolSize(database.db, { targetConcurrency: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })

  it('reports connections configured, open, in use, idle and statements waiting', async () => {
    const before = ConnectionPool.getPoolStatus(database.db)
    expect(before.driver).toBe(driver.name)
    expect(before.max).toBe(driver.name === 'pglite' ? 1 : 10)
    expect(before.inUse).toBe(0)
    // sampled when the first of 12 concurrent statements completes: 11 are still in flight
    let during: PoolStatus | undefined
    const sample = (message: unknown) => {
      if (during === undefined && (message as { sql: string }).sql.includes('pg_sleep')) {
        during = ConnectionPool.getPoolStatus(database.db)
      }
    }
    subscribe(QUERY_CHANNEL, sample)
    try {
      await Promise.all(
        Array.from({ length: 12 }, () => database.db.execute(sql`select pg_sleep(0.05)`)),
      )
    } finally {
      unsubscribe(QUERY_CHANNEL, sample)
    }
    const after = ConnectionPool.getPoolStatus(database.db)
    if (driver.name === 'postgres-js') {
      // postgres.js pipelines queued statements onto connections as they open, so 8..10 are busy
      expect(during?.inUse).toBeGreaterThanOrEqual(8)
      expect(during?.inUse).toBeLessThanOrEqual(10)
      expect((during?.inUse ?? 0) + (during?.waiting ?? 0)).toBeLessThanOrEqual(11)
      expect(during?.open).toBeGreaterThanOrEqual(during?.inUse ?? 0)
      expect(after).toMatchObject({ inUse: 0, waiting: 0, open: 10, idle: 10, peakInFlight: 12 })
    } else {
      expect(during).toMatchObject({ inUse: 1, waiting: 10, open: 1, idle: 0 })
      expect(after).toMatchObject({ inUse: 0, waiting: 0, open: 1, idle: 1, peakInFlight: 12 })
    }
  })

  it('read-heavy and write-heavy presets are real driver options that take effect', async () => {
    for (const preset of [
      driver.name === 'postgres-js' ? optimizeForWriteHeavy({ max: 4 }) : optimizeForReadHeavy(),
    ]) {
      expect(preset.notes.length).toBeGreaterThan(2)
      const url = driver.name === 'postgres-js' ? DATABASE_URL : undefined
      const tuned = await createDatabase(url, {
        postgres: preset.options,
        ...(url === undefined ? { pglite: pgliteStart() } : {}),
      })
      try {
        const [row] = rowsOf(
          await tuned.db.execute(
            sql`select (select setting from pg_settings where name = 'statement_timeout') as st, current_setting('application_name') as app`,
          ),
        )
        expect(row?.st).toBe(String(preset.options.connection.statement_timeout))
        expect(row?.app).toBe(preset.options.connection.application_name)
        if (driver.name === 'postgres-js') {
          expect(ConnectionPool.getPoolStatus(tuned.db).max).toBe(preset.options.max)
        }
      } finally {
        await tuned.close()
      }
    }
    expect(optimizeForWriteHeavy({ max: 4 }).options.max).toBe(4)
    expect(optimizeForReadHeavy().options.max).toBeGreaterThan(optimizeForWriteHeavy().options.max)
  })
})
