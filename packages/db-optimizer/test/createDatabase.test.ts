import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { createDatabase, DbOptimizerError } from '../src/index.js'
import { DATABASE_URL, drivers } from './drivers.js'

const one = async (db: { execute: (q: ReturnType<typeof sql>) => Promise<unknown> }) => {
  const result = await db.execute(sql`select 1 as one`)
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows)[0]
}

describe.each(drivers)('createDatabase for $name', (driver) => {
  it('opens a working drizzle database and closes it idempotently', async () => {
    const database = await driver.open()
    expect(database.driver).toBe(driver.name)
    expect(await one(database.db)).toEqual({ one: 1 })
    await database.close()
    await database.close()
  })

  it('works with await using', async () => {
    let closed: Promise<unknown> | undefined
    {
      await using database = await driver.open()
      expect(await one(database.db)).toEqual({ one: 1 })
      closed = Promise.resolve(database.client)
    }
    expect(await closed).toBeDefined()
  })
})

describe('createDatabase URL rules', () => {
  it('postgres:// and postgresql:// select postgres.js; nothing, pglite: and memory:// select in-memory PGlite', async () => {
    const pg = await createDatabase(DATABASE_URL.replace(/^postgres:/, 'postgresql:'))
    expect(pg.driver).toBe('postgres-js')
    await pg.close()
    for (const url of [undefined, '', 'pglite:', 'memory://']) {
      const db = await createDatabase(url)
      expect(db.driver).toBe('pglite')
      await db.close()
    }
  })

  it('a pglite:<dir> or plain directory keeps the data between openings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbo-create-'))
    try {
      const a = await createDatabase(`pglite:${dir}`)
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
