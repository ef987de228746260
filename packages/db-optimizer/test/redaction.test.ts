// Nothing a failing batch write is given leaves through what is published: channel messages and
// slow-query records carry a redacted error, and DbOptimizerError messages quote no value.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { sql } from 'drizzle-orm'
import { pgTable, serial, text, uuid } from 'drizzle-orm/pg-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Database,
  DbOptimizerError,
  enableQueryLogging,
  QUERY_CHANNEL,
  QueryOptimizer,
  redactError,
} from '../src/index.js'
import { drivers, suffix } from './drivers.js'

/** Every string reachable from `value`: own properties, enumerable or not, `cause` and `stack` included. */
function reachableText(value: unknown, seen = new Set<unknown>()): string[] {
  if (value === null || value === undefined) return []
  if (typeof value !== 'object' && typeof value !== 'function') return [String(value)]
  if (seen.has(value)) return []
  seen.add(value)
  const out: string[] = []
  for (const key of Reflect.ownKeys(value)) {
    out.push(String(key))
    const descriptor = Object.getOwnPropertyDescriptor(value, key)
    out.push(...reachableText(descriptor?.value, seen))
  }
  return out
}

const SECRET = 'secret-7f3a'

describe.each(drivers)('errors published by batch writes are redacted, on $name', (driver) => {
  let database: Database
  const id = suffix()
  const people = pgTable(`dbo_red_${id}`, {
    id: serial('id').primaryKey(),
    email: text('email').unique(),
    ref: uuid('ref'),
  })

  beforeAll(async () => {
    database = await driver.open()
    await database.db.execute(
      sql.raw(`create table "dbo_red_${id}" (id serial primary key, email text unique, ref uuid)`),
    )
  })
  afterAll(async () => {
    await database.db.execute(sql.raw(`drop table if exists "dbo_red_${id}"`))
    await database.close()
  })

  it('channel messages, logger records and error messages hold no value', async () => {
    const published: unknown[] = []
    const onMessage = (message: unknown) => published.push(message)
    subscribe(QUERY_CHANNEL, onMessage)
    const records: unknown[] = []
    const stop = enableQueryLogging(database.db, {
      thresholdMs: 0,
      logger: { warn: (line, record) => records.push(line, record) },
    })
    const thrown: DbOptimizerError[] = []
    const optimizer = new QueryOptimizer(database.db)
    try {
      for (const method of ['auto', 'values'] as const) {
        const duplicate = Array.from({ length: 120 }, (_, i) => ({
          email: i === 110 ? `${SECRET}-0@example.org` : `${SECRET}-${i}@example.org`,
        }))
        thrown.push(
          await optimizer.batchInsert(people, duplicate, { method }).catch((e) => e),
          await optimizer
            .batchInsert(
              people,
              Array.from({ length: 120 }, (_, i) => ({
                email: `e${i}`,
                ref: `${SECRET}-not-a-uuid`,
              })),
              { method },
            )
            .catch((e) => e),
        )
      }
      thrown.push(
        await optimizer
          .batchUpdate(people, [{ email: `${SECRET}-missing`, ref: null }], {
            key: 'email',
            requireAll: true,
          })
          .catch((e) => e),
      )
    } finally {
      stop()
      unsubscribe(QUERY_CHANNEL, onMessage)
    }
    expect(thrown.map((e) => e.code)).toEqual([
      'BATCH_FAILED',
      'BATCH_FAILED',
      'BATCH_FAILED',
      'BATCH_FAILED',
      'ROWS_NOT_FOUND',
    ])
    expect(thrown.map((e) => e.sqlState)).toEqual(['23505', '22P02', '23505', '22P02', undefined])
    for (const e of thrown) expect(e.message).not.toContain(SECRET)
    // the caller still has everything
    expect(reachableText(thrown[0]?.cause).join('\n')).toContain(SECRET)
    expect(thrown[4]?.missing).toEqual([`${SECRET}-missing`])

    const failures = published.filter((m) => (m as { error?: unknown }).error !== undefined)
    expect(failures.length).toBeGreaterThanOrEqual(4)
    expect(failures.map((m) => (m as { error: { sqlState?: string } }).error.sqlState)).toContain(
      '23505',
    )
    const text = reachableText([published, records]).join('\n')
    expect(text).not.toContain(SECRET)
    expect(records.some((r) => typeof r === 'object' && (r as { error?: unknown }).error)).toBe(
      true,
    )
  })

  it('redactError keeps code, SQLSTATE and names only', async () => {
    const error = await database.db
      .insert(people)
      .values([{ email: 'a' }, { email: 'a' }])
      .catch((e) => e)
    const redacted = redactError(error)
    expect(redacted).toMatchObject({ code: '23505', sqlState: '23505' })
    expect(redacted.constraint).toMatch(/email/)
    expect(Object.isFrozen(redacted)).toBe(true)
    expect(reachableText(redacted).join('\n')).not.toContain('(a)')
    expect(redactError(new DbOptimizerError('INVALID_ARGUMENT', 'x must be 1'))).toMatchObject({
      name: 'DbOptimizerError',
      code: 'INVALID_ARGUMENT',
      message: 'x must be 1',
    })
  })
})
