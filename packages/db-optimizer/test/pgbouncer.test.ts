// PgBouncer in transaction mode (tools/testing/pgbouncer.mjs) in front of a throwaway PostgreSQL
// (tools/testing/servers.mjs), so role settings changed here touch no shared server.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { asc, eq, sql } from 'drizzle-orm'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPgBouncer } from '../../../tools/testing/pgbouncer.mjs'
import { startPostgres } from '../../../tools/testing/servers.mjs'
import {
  ConnectionPool,
  createDatabase,
  type Database,
  eagerLoad,
  loadChildren,
  optimizeForReadHeavy,
  optimizeForWriteHeavy,
  QUERY_CHANNEL,
  type QueryChannelMessage,
  QueryOptimizer,
  selectinLoad,
} from '../src/index.js'
import { createTables, makeTables, rowsOf, sourceRows, type Tables } from './drivers.js'

type Server = Awaited<ReturnType<typeof startPostgres>>
type Bouncer = Awaited<ReturnType<typeof startPgBouncer>>

describe('behind PgBouncer in transaction mode (prepare: false)', () => {
  let server: Server
  let bouncer: Bouncer
  let database: Database
  let tables: Tables

  beforeAll(async () => {
    server = await startPostgres()
    bouncer = await startPgBouncer({ port: server.port, poolMode: 'transaction', poolSize: 3 })
    // the preset's timeouts stored as role settings, once, straight on the server
    const direct = postgres(server.url, { max: 1, onnotice: () => {} })
    try {
      for (const statement of optimizeForReadHeavy().roleSql) await direct.unsafe(statement)
    } finally {
      await direct.end()
    }
    database = await createDatabase(bouncer.url(), {
      postgres: optimizeForReadHeavy({ prepare: false, max: 6 }).options,
    })
    tables = makeTables()
    await createTables(database, tables)
  })

  afterAll(async () => {
    await database?.close()
    await bouncer?.stop()
    await server?.stop()
  })

  it('connects with both presets; startup parameters other than application_name are refused', async () => {
    for (const preset of [optimizeForReadHeavy(), optimizeForWriteHeavy()]) {
      const through = await createDatabase(bouncer.url(), {
        postgres: { ...preset.options, prepare: false, max: 1 },
      })
      try {
        const [row] = rowsOf(
          await through.db.execute(
            sql`select current_setting('application_name') as app, current_setting('statement_timeout') as st`,
          ),
        )
        expect(row?.app).toBe(preset.options.connection.application_name)
        // the read-heavy role settings apply to every server connection the pooler opens
        expect(row?.st).toBe('5s')
      } finally {
        await through.close()
      }
    }
    // what the presets used to send: PgBouncer closes the connection at startup
    const refused = postgres(bouncer.url(), {
      max: 1,
      prepare: false,
      onnotice: () => {},
      connection: { statement_timeout: 5000 },
    })
    try {
      await expect(refused`select 1`).rejects.toMatchObject({ code: '08P01' })
    } finally {
      await refused.end({ timeout: 1 })
    }
  })

  it('batch writes, loaders and timing work through the pooler', async () => {
    const optimizer = new QueryOptimizer(database.db)
    const messages: QueryChannelMessage[] = []
    const onMessage = (m: unknown) => messages.push(m as QueryChannelMessage)
    subscribe(QUERY_CHANNEL, onMessage)
    try {
      expect(
        await optimizer.batchInsert(
          tables.biographies,
          Array.from({ length: 20 }, (_, i) => ({ name: `Person ${i + 1}` })),
        ),
      ).toBe(20)
      const rows = sourceRows(600).map((r, i) => ({ ...r, biographyId: (i % 20) + 1 }))
      expect(await optimizer.batchInsert(tables.sources, rows, { batchSize: 250 })).toBe(600)
      expect(
        await optimizer.batchUpdate(
          tables.biographies,
          Array.from({ length: 20 }, (_, i) => ({ id: i + 1, status: 'completed' })),
        ),
      ).toBe(20)
      const options = {
        parent: tables.biographies,
        child: tables.sources,
        foreignKey: tables.sources.biographyId,
        as: 'sources' as const,
        orderBy: asc(tables.biographies.id),
        orderChildrenBy: asc(tables.sources.id),
      }
      // concurrent loads share 3 server connections: each statement runs wherever it lands
      const [eager, selectin] = await Promise.all([
        eagerLoad(database.db, options),
        selectinLoad(database.db, options),
      ])
      const parents = await database.db
        .select()
        .from(tables.biographies)
        .where(eq(tables.biographies.status, 'completed'))
        .orderBy(asc(tables.biographies.id))
      const children = await loadChildren(database.db, parents, {
        ...options,
        references: tables.biographies.id,
      })
      for (const loaded of [eager, selectin, children]) {
        expect(loaded.map((p) => p.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
        for (const p of loaded) {
          expect(p.status).toBe('completed')
          expect(p.sources).toHaveLength(30)
          for (const s of p.sources) expect(s.biographyId).toBe(p.id)
        }
      }
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
      optimizer.close()
    }
    const statements = messages.map((m) => m.sql.split(' ')[0])
    expect(statements.filter((s) => s === 'begin')).toHaveLength(3)
    expect(statements.filter((s) => s === 'commit')).toHaveLength(3)
    expect(messages.every((m) => m.error === undefined)).toBe(true)
    expect(optimizer.getQueryStats().all.count).toBe(messages.length)
  })

  it('reports the client side, the server side (pg_stat_activity) and the pooler (SHOW POOLS)', async () => {
    await Promise.all(
      Array.from({ length: 6 }, () => database.db.execute(sql`select pg_sleep(0.02)`)),
    )
    const status = await ConnectionPool.getServerStatus(database.db, {
      pgbouncerAdminUrl: bouncer.adminUrl,
    })
    // client side: connections to the pooler, at most max
    expect(status.client.driver).toBe('postgres-js')
    expect(status.client.max).toBe(6)
    expect(status.client.open).toBeLessThanOrEqual(6)
    // server side: the pooler holds at most its pool size of server connections for this pair
    expect(status.server.total).toBeGreaterThanOrEqual(1)
    expect(status.server.total).toBeLessThanOrEqual(3 + 2)
    expect(status.server.active).toBeGreaterThanOrEqual(1)
    expect(status.server.maxConnections).toBeGreaterThan(0)
    const pool = status.pooler?.find((p) => p.database === 'postgres')
    expect(pool).toMatchObject({ user: 'postgres', poolMode: 'transaction' })
    expect(
      (pool?.serversActive ?? 0) + (pool?.serversIdle ?? 0) + (pool?.serversUsed ?? 0),
    ).toBeLessThanOrEqual(3)
    await expect(
      ConnectionPool.getServerStatus(database.db, { pgbouncerAdminUrl: 'http://x' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})

describe('optimizePoolSize for several instances sharing one server', () => {
  it("gives each instance its share of the server's budget", async () => {
    await using database = await createDatabase(
      process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    )
    const one = ConnectionPool.optimizePoolSize(database.db, { targetConcurrency: 40 })
    expect(one.recommendedMax).toBe(40)
    const four = ConnectionPool.optimizePoolSize(database.db, {
      targetConcurrency: 40,
      instances: 4,
    })
    expect(four.recommendedMax).toBe(24)
    expect(four.reasons.join(' ')).toContain('97 connections / 4 instances = 24')
    expect(
      ConnectionPool.optimizePoolSize(database.db, { targetConcurrency: 10, instances: 4 })
        .recommendedMax,
    ).toBe(10)
    for (const instances of [0, 1.5, 98]) {
      expect(() =>
        ConnectionPool.optimizePoolSize(database.db, { targetConcurrency: 10, instances }),
      ).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    }
  })
})
