// Nested transactions: the savepoints each driver sends are timed and published like statements.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, QUERY_CHANNEL, type QueryChannelMessage } from '../src/index.js'
import { drivers } from './drivers.js'

describe.each(drivers)('savepoints on $name', (driver) => {
  let database: Database

  beforeAll(async () => {
    database = await driver.open()
  })

  afterAll(() => database.close())

  it('publishes the savepoint of a nested transaction, and its rollback when the inner one fails', async () => {
    const messages: QueryChannelMessage[] = []
    const onMessage = (m: unknown) => messages.push(m as QueryChannelMessage)
    subscribe(QUERY_CHANNEL, onMessage)
    try {
      await database.db.transaction(async (tx) => {
        await tx.transaction(async (inner) => {
          await inner.execute(sql`select 1`)
        })
        await expect(
          tx.transaction(async (inner) => {
            await inner.execute(sql`select 2`)
            throw new Error('inner fails')
          }),
        ).rejects.toThrow('inner fails')
      })
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
    }
    const statements = messages.map((m) => m.sql.replace(/\b(s|sp)\d+\b/, 'N'))
    // postgres.js releases savepoints only at COMMIT; drizzle on PGlite releases each one
    expect(statements).toEqual(
      driver.name === 'postgres-js'
        ? ['begin', 'savepoint N', 'select 1', 'savepoint N', 'select 2', 'rollback to N', 'commit']
        : [
            'begin',
            'savepoint N',
            'select 1',
            'release savepoint N',
            'savepoint N',
            'select 2',
            'rollback to savepoint N',
            'commit',
          ],
    )
    for (const m of messages) {
      expect(m.durationMs).toBeGreaterThanOrEqual(0)
      expect(m.error).toBeUndefined()
    }
  })
})
