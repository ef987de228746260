import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
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
import { DATABASE_URL, drivers, pgliteStart, rowsOf } from './drivers.js'

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
    if (driver.name === 'pglite') {
      // one connection, statements queued in JS: when the first of 12 completes, 11 are in flight
      let during: PoolStatus | undefined
      const sample = (message: unknown) => {
        if (during === undefined && (message as { sql: string }).sql.includes('pg_sleep')) {
          during = ConnectionPool.getPoolStatus(database.db)
        }
      }
      subscribe(QUERY_CHANNEL, sample)
      try {
        await Promise.all(
          Array.from({ length: 12 }, () => database.db.execute(sql`select pg_sleep(0.01)`)),
        )
      } finally {
        unsubscribe(QUERY_CHANNEL, sample)
      }
      expect(during).toMatchObject({ inUse: 1, waiting: 10, open: 1, idle: 0 })
      expect(ConnectionPool.getPoolStatus(database.db)).toMatchObject({
        inUse: 0,
        waiting: 0,
        open: 1,
        idle: 1,
        peakInFlight: 12,
      })
      return
    }
    // 12 statements block on an advisory lock held by another client, so they stay in flight until
    // it is released; the pool's busy count is compared with the server's own view (pg_locks), not
    // sampled at an instant that load can move.
    const key = Math.floor(Math.random() * 2 ** 30)
    const blocker = postgres(DATABASE_URL, { max: 1, onnotice: () => {} })
    const observer = postgres(DATABASE_URL, { max: 1, onnotice: () => {} })
    try {
      await blocker`select pg_advisory_lock(${key})`
      const running = Promise.all(
        Array.from({ length: 12 }, () =>
          database.db.execute(sql`select pg_advisory_xact_lock_shared(${key})`),
        ),
      )
      const samples: PoolStatus[] = []
      let agreed: { status: PoolStatus; serverWaiting: number } | undefined
      const deadline = Date.now() + 60_000
      while (agreed === undefined && Date.now() < deadline) {
        const [row] = await observer`
          select count(*)::int as n from pg_locks
          where locktype = 'advisory' and not granted and objid = ${key}`
        const status = ConnectionPool.getPoolStatus(database.db)
        samples.push(status)
        if (status.inUse > 0 && status.inUse === row?.n && status.waiting === 12 - status.inUse) {
          agreed = { status, serverWaiting: row.n }
        } else await new Promise((resolve) => setTimeout(resolve, 20))
      }
      for (const s of samples) {
        expect(s.inUse).toBeLessThanOrEqual(10)
        expect(s.open).toBeLessThanOrEqual(10)
        expect(s.open).toBeGreaterThanOrEqual(s.inUse)
        expect(s.idle).toBe(s.open - s.inUse)
        expect(s.inUse + s.waiting).toBeLessThanOrEqual(12)
      }
      expect(agreed, 'pool status never matched the server within 60 s').toBeDefined()
      await blocker`select pg_advisory_unlock(${key})`
      await running
    } finally {
      await blocker.end()
      await observer.end()
    }
    const after = ConnectionPool.getPoolStatus(database.db)
    expect(after).toMatchObject({ inUse: 0, waiting: 0, peakInFlight: 12 })
    expect(after.open).toBeGreaterThanOrEqual(1)
    expect(after.open).toBeLessThanOrEqual(10)
    expect(after.idle).toBe(after.open)
  })

  it('read-heavy and write-heavy presets are real driver options that take effect', async () => {
    for (const preset of [
      driver.name === 'postgres-js' ? optimizeForWriteHeavy({ max: 4 }) : optimizeForReadHeavy(),
    ]) {
      expect(preset.notes.length).toBeGreaterThan(2)
      const url = driver.name === 'postgres-js' ? DATABASE_URL : undefined
      // only application_name is a startup parameter (PgBouncer rejects the others); without a
      // pooler the recommended settings may be sent at connect too
      expect(Object.keys(preset.options.connection)).toEqual(['application_name'])
      const tuned = await createDatabase(url, {
        postgres: {
          ...preset.options,
          connection: { ...preset.options.connection, ...preset.settings },
        },
        ...(url === undefined ? { pglite: pgliteStart() } : {}),
      })
      try {
        const [row] = rowsOf(
          await tuned.db.execute(
            sql`select (select setting from pg_settings where name = 'statement_timeout') as st, current_setting('application_name') as app`,
          ),
        )
        expect(row?.st).toBe(String(preset.settings.statement_timeout))
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
