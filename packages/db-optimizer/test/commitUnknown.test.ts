// A lost COMMIT reply: a loopback TCP proxy between postgres.js and PostgreSQL forwards COMMIT
// (or swallows it) and then drops the client. The load must say that its outcome is unknown, and
// the documented retry (onConflict on a unique key, action 'nothing') writes each row exactly once.
import { once } from 'node:events'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDatabase, type Database, DbOptimizerError, QueryOptimizer } from '../src/index.js'
import {
  count,
  createTables,
  DATABASE_URL,
  dropTables,
  makeTables,
  sourceRows,
  type Tables,
} from './drivers.js'

interface CommitProxy {
  url: string
  /** 'forward': COMMIT reaches the server, its reply is dropped; 'swallow': COMMIT never arrives. */
  arm(mode: 'forward' | 'swallow'): void
  close(): Promise<void>
}

async function commitProxy(): Promise<CommitProxy> {
  const target = new URL(DATABASE_URL)
  let mode: 'forward' | 'swallow' | undefined
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname)
    sockets.add(client)
    sockets.add(upstream)
    let committing = false
    const drop = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('data', (chunk: Buffer) => {
      if (mode !== undefined && !committing && /commit/i.test(chunk.toString('latin1'))) {
        committing = true
        if (mode === 'swallow') return drop()
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      // the server answered COMMIT: it has committed; the client never hears of it
      if (committing) return drop()
      client.write(chunk)
    })
    for (const s of [client, upstream]) {
      s.on('error', drop)
      s.on('close', () => {
        sockets.delete(s)
        drop()
      })
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = new URL(DATABASE_URL)
  url.host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: url.toString(),
    arm: (m) => {
      mode = m
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('a batch write whose COMMIT reply is lost, on postgres-js', () => {
  let direct: Database
  let tables: Tables

  beforeAll(async () => {
    direct = await createDatabase(DATABASE_URL)
    tables = makeTables()
    await createTables(direct, tables)
  })

  afterAll(async () => {
    await dropTables(direct, tables)
    await direct.close()
  })

  for (const mode of ['forward', 'swallow'] as const) {
    it(`rejects with COMMIT_UNKNOWN (${mode === 'forward' ? 'the server committed' : 'COMMIT never arrived'}) and the documented retry writes each row once`, async () => {
      const table = `dbo_src_${tables.id}`
      await direct.db.execute(sql.raw(`truncate "${table}" restart identity`))
      const proxy = await commitProxy()
      const proxied = await createDatabase(proxy.url, { postgres: { max: 1 } })
      try {
        const rows = sourceRows(3000)
        proxy.arm(mode)
        const error = await new QueryOptimizer(proxied.db)
          .batchInsert(tables.sources, rows, { batchSize: 1000 })
          .then(
            () => undefined,
            (e: unknown) => e,
          )
        expect(error).toBeInstanceOf(DbOptimizerError)
        expect((error as DbOptimizerError).code).toBe('COMMIT_UNKNOWN')
        expect((error as DbOptimizerError).message).toContain('may or may not have been written')
        expect((error as DbOptimizerError).cause).toBeDefined()
        expect(await count(direct, table)).toBe(mode === 'forward' ? 3000 : 0)

        // the retry recipe from the README: a unique key and action 'nothing'
        const written = await new QueryOptimizer(direct.db).batchInsert(tables.sources, rows, {
          batchSize: 1000,
          onConflict: { target: 'url', action: 'nothing' },
        })
        expect(written).toBe(mode === 'forward' ? 0 : 3000)
        const again = await new QueryOptimizer(direct.db).batchInsert(tables.sources, rows, {
          onConflict: { target: 'url', action: 'nothing' },
        })
        expect(again).toBe(0)
        expect(await count(direct, table)).toBe(3000)
      } finally {
        await proxied.close()
        await proxy.close()
      }
    })
  }
})
