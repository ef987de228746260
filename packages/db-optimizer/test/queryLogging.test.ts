// Slow-span warnings and the slow-statement log.
import { AsyncLocalStorage } from 'node:async_hooks'
import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import {
  type DbOptimizerError,
  enableQueryLogging,
  QueryOptimizer,
  type SlowQueryRecord,
} from '../src/index.js'
import { seededDriverSuite } from './driverSuite.js'
import { drivers } from './drivers.js'

describe.each(drivers)('Query logging on $name', (driver) => {
  const suite = seededDriverSuite(driver, 200)

  it('logs slow spans like the original, and rejects negative thresholds', async () => {
    const warnings: string[] = []
    const optimizer = new QueryOptimizer(suite.database.db, {
      slowQueryMs: 20,
      logger: { warn: (m) => warnings.push(m) },
    })
    await optimizer.timeQuery('slow', () => suite.database.db.execute(sql`select pg_sleep(0.03)`))
    await optimizer.timeQuery('quick', () => suite.database.db.execute(sql`select 1`))
    const quick = optimizer.getQueryStats().byName.quick?.maxMs ?? 0
    // a loaded machine may make even `select 1` slow: the quick span warns exactly when it was
    expect(warnings).toHaveLength(quick > 20 ? 2 : 1)
    expect(warnings[0]).toContain('"slow"')
    optimizer.close()
    for (const options of [{ slowQueryMs: -1 }, { nPlusOneThreshold: -1 }, { sampleLimit: 0 }]) {
      const error = (() => {
        try {
          new QueryOptimizer(suite.database.db, options)
        } catch (e) {
          return e as DbOptimizerError
        }
      })()
      expect(error?.code).toBe('INVALID_ARGUMENT')
    }
  })

  it('enableQueryLogging logs statements over the threshold with parameters redacted unless asked', async () => {
    const logged: { message: string; record?: SlowQueryRecord }[] = []
    const logger = {
      warn: (message: string, record?: SlowQueryRecord) => logged.push({ message, record }),
    }
    const stop = enableQueryLogging(suite.database.db, { thresholdMs: 20, logger })
    const als = new AsyncLocalStorage<string>()
    const contexts: (string | undefined)[] = []
    const stopContext = enableQueryLogging(suite.database.db, {
      thresholdMs: 20,
      logger: { warn: () => contexts.push(als.getStore()) },
    })
    // drizzle runs a statement when it is awaited: await it inside the store's scope
    await als.run(
      'request-7',
      async () =>
        await suite.database.db.execute(sql`select pg_sleep(0.03), ${'private-value'}::text`),
    )
    stopContext()
    stopContext()
    expect(contexts).toEqual(['request-7'])
    await suite.database.db.execute(sql`select ${'fast'}::text`)
    stop()
    // a loaded machine may make the fast statement slow too; it is logged exactly when it was
    const fast = logged.filter(
      (l) => l.record?.sql.includes('$1::text') && !l.record.sql.includes('pg_sleep'),
    )
    for (const l of fast) expect(l.record?.durationMs).toBeGreaterThan(20)
    logged.splice(0, logged.length, ...logged.filter((l) => !fast.includes(l)))
    const show = enableQueryLogging(suite.database.db, {
      thresholdMs: 20,
      logger,
      showParams: true,
    })
    await suite.database.db.execute(sql`select pg_sleep(0.03), ${'shown-value'}::text`)
    show()
    await suite.database.db.execute(sql`select pg_sleep(0.03)`)
    expect(logged).toHaveLength(2)
    expect(logged[0]?.message).toContain('pg_sleep')
    expect(logged[0]?.message).not.toContain('private-value')
    expect(logged[0]?.record?.params).toEqual(['[redacted]'])
    expect(logged[0]?.record?.durationMs).toBeGreaterThanOrEqual(30)
    expect(logged[1]?.message).toContain('shown-value')
    expect(() => enableQueryLogging(suite.database.db, { thresholdMs: -5 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('-5') }),
    )
    expect(() => enableQueryLogging(suite.database.db, { logger: {} as never })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: 'options.logger must have a warn(message) method, got object',
      }),
    )
  })
})
