import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { describe, expect, it } from 'vitest'
import {
  type AnyPgDatabase,
  createDatabase,
  type Database,
  DbOptimizerError,
  instrumentDatabase,
  parseDatabaseUrl,
  QUERY_CHANNEL,
  type QueryChannelMessage,
} from '../src/index.js'
import { DATABASE_URL, drivers, pgliteStart } from './drivers.js'

const one = async (db: { execute: (q: ReturnType<typeof sql>) => Promise<unknown> }) => {
  const result = await db.execute(sql`select 1 as one`)
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows)[0]
}

describe.each(drivers)('createDatabase for $name', (driver) => {
  it('opens a working drizzle database, closes it idempotently, and supports await using', async () => {
    // the real default path (no dumped data directory): createDatabase(url)
    const database = await createDatabase(driver.url)
    expect(database.driver).toBe(driver.name)
    expect(await one(database.db)).toEqual({ one: 1 })
    await database.close()
    await database.close()
    let disposed: Database | undefined
    {
      await using scoped = await driver.open()
      disposed = scoped
      expect(await one(scoped.db)).toEqual({ one: 1 })
    }
    await expect(one(disposed.db)).rejects.toThrow()
  })

  it('publishes every statement from the start; instrumentDatabase does it for a db built by hand', async () => {
    const seen: string[] = []
    const onMessage = (m: unknown) => seen.push((m as QueryChannelMessage).sql)
    subscribe(QUERY_CHANNEL, onMessage)
    const database = await driver.open()
    let closeClient: () => Promise<unknown>
    let handmade: AnyPgDatabase
    if (driver.name === 'postgres-js') {
      const client = postgres(DATABASE_URL, { onnotice: () => {} })
      handmade = drizzlePostgres(client)
      closeClient = () => client.end()
    } else {
      const client = new PGlite(pgliteStart())
      handmade = drizzlePglite(client)
      closeClient = () => client.close()
    }
    try {
      await database.db.execute(sql`select 'from createDatabase' as x`)
      await handmade.execute(sql`select 'before' as x`)
      expect(instrumentDatabase(handmade)).toBe(handmade)
      expect(instrumentDatabase(handmade)).toBe(handmade)
      await handmade.execute(sql`select 'after' as x`)
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
      await database.close()
      await closeClient()
    }
    expect(seen).toEqual(["select 'from createDatabase' as x", "select 'after' as x"])
    expect(() => instrumentDatabase({} as never)).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_DATABASE' }),
    )
  })
})

describe('createDatabase URL rules', () => {
  it('postgres:// and postgresql:// select postgres.js; nothing, pglite: and memory:// select in-memory PGlite', () => {
    expect(parseDatabaseUrl(DATABASE_URL)).toEqual({ driver: 'postgres-js', url: DATABASE_URL })
    expect(parseDatabaseUrl('postgresql://u@h/db')).toEqual({
      driver: 'postgres-js',
      url: 'postgresql://u@h/db',
    })
    for (const url of [undefined, '', 'pglite:', 'pglite://', 'memory://']) {
      expect(parseDatabaseUrl(url)).toEqual({ driver: 'pglite', dataDir: undefined })
    }
    expect(parseDatabaseUrl('pglite:./data')).toEqual({ driver: 'pglite', dataDir: './data' })
    expect(parseDatabaseUrl('pglite:///var/db')).toEqual({ driver: 'pglite', dataDir: '/var/db' })
    expect(parseDatabaseUrl('file:///var/db')).toEqual({ driver: 'pglite', dataDir: '/var/db' })
    expect(parseDatabaseUrl('/tmp/x')).toEqual({ driver: 'pglite', dataDir: '/tmp/x' })
  })

  it('a pglite:<dir> or plain directory keeps the data between openings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbo-create-'))
    try {
      const a = await createDatabase(`pglite:${dir}`, { pglite: pgliteStart() })
      await a.db.execute(sql`create table dbo_keep (v int)`)
      await a.db.execute(sql`insert into dbo_keep values (7)`)
      await a.close()
      const b = await createDatabase(dir)
      const rows = await b.db.execute(sql`select v from dbo_keep`)
      expect((rows as unknown as { rows: unknown[] }).rows).toEqual([{ v: 7 }])
      await b.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('rejects URLs it does not understand, without echoing credentials', async () => {
    const error = (await createDatabase('mysql://user:secret@host/db').catch(
      (e) => e,
    )) as DbOptimizerError
    expect(error).toBeInstanceOf(DbOptimizerError)
    expect(error.code).toBe('INVALID_URL')
    expect(error.message).not.toContain('secret')
    await expect(createDatabase(42 as never)).rejects.toMatchObject({ code: 'INVALID_URL' })
  })
})
