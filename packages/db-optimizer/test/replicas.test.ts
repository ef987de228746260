// A real streaming replica (tools/testing/postgresReplica.mjs) behind drizzle's withReplicas: what
// each loader reads, and where every statement is seen, while the replica's replay is paused.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { asc, relations, sql } from 'drizzle-orm'
import { type PgWithReplicas, withReplicas } from 'drizzle-orm/pg-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostgresReplica } from '../../../tools/testing/postgresReplica.mjs'
import {
  ConnectionPool,
  createDatabase,
  type Database,
  eagerLoad,
  enableQueryLogging,
  loadChildren,
  QUERY_CHANNEL,
  type QueryChannelMessage,
  QueryOptimizer,
  selectinLoad,
} from '../src/index.js'
import { createTables, makeTables, rowsOf, type Tables } from './drivers.js'

type Pair = Awaited<ReturnType<typeof startPostgresReplica>>

describe('loaders and statistics on a withReplicas database (primary + streaming replica)', () => {
  let pair: Pair
  let primary: Database
  let replica: Database
  let db: PgWithReplicas<Database['db']>
  let tables: Tables

  const count = async (on: Database, table: string) =>
    Number(rowsOf(await on.db.execute(sql.raw(`select count(*)::int as n from "${table}"`)))[0]?.n)

  beforeAll(async () => {
    pair = await startPostgresReplica()
    primary = await createDatabase(pair.primary.url)
    replica = await createDatabase(pair.replica.url)
    db = withReplicas(primary.db, [replica.db])
    tables = makeTables()
    await createTables(primary, tables)
    const optimizer = new QueryOptimizer(primary.db)
    await optimizer.batchInsert(
      tables.biographies,
      Array.from({ length: 5 }, (_, i) => ({ name: `Person ${i + 1}` })),
    )
    await optimizer.batchInsert(
      tables.sources,
      Array.from({ length: 15 }, (_, i) => ({ url: `old-${i}`, biographyId: (i % 5) + 1 })),
    )
    optimizer.close()
    // wait (bounded) until the replica has replayed the rows, then stop its replay
    const deadline = Date.now() + 60_000
    for (;;) {
      const seen = await count(replica, `dbo_src_${tables.id}`).catch(() => 0)
      if (seen === 15) break
      if (Date.now() > deadline) throw new Error('the replica did not catch up within 60 s')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await replica.db.execute(sql`select pg_wal_replay_pause()`)
    for (;;) {
      const [row] = rowsOf(
        await replica.db.execute(sql`select pg_get_wal_replay_pause_state() as state`),
      )
      if (row?.state === 'paused') break
      if (Date.now() > deadline) throw new Error('replay did not pause within 60 s')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    // written on the primary after the pause: a new parent and 2 more children for each parent
    await primary.db.insert(tables.biographies).values({ name: 'Person 6' })
    await primary.db
      .insert(tables.sources)
      .values(Array.from({ length: 12 }, (_, i) => ({ url: `new-${i}`, biographyId: (i % 6) + 1 })))
  })

  afterAll(async () => {
    await replica?.close()
    await primary?.close()
    await pair?.stop()
  })

  const options = () => ({
    parent: tables.biographies,
    child: tables.sources,
    foreignKey: tables.sources.biographyId,
    as: 'sources' as const,
    orderBy: asc(tables.biographies.id),
    orderChildrenBy: asc(tables.sources.id),
  })

  const collect = async <T>(fn: () => Promise<T>) => {
    const messages: QueryChannelMessage[] = []
    const onMessage = (m: unknown) => messages.push(m as QueryChannelMessage)
    subscribe(QUERY_CHANNEL, onMessage)
    try {
      return { result: await fn(), messages }
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
    }
  }

  it('the replica is behind: it has not replayed what the primary wrote after the pause', async () => {
    expect(await count(primary, `dbo_src_${tables.id}`)).toBe(27)
    expect(await count(replica, `dbo_src_${tables.id}`)).toBe(15)
  })

  it('every loader reads parents and children from the replica by default, all statements there', async () => {
    for (const load of [
      () => eagerLoad(db, options()),
      () => selectinLoad(db, options()),
      async () =>
        loadChildren(
          db,
          await replica.db.select().from(tables.biographies).orderBy(asc(tables.biographies.id)),
          {
            ...options(),
            references: tables.biographies.id,
          },
        ),
    ]) {
      const { result, messages } = await collect(load)
      // the replica's snapshot: 5 parents with their 3 old children each, nothing written later
      expect(result.map((p) => p.id)).toEqual([1, 2, 3, 4, 5])
      for (const p of result) {
        expect(p.sources.map((s) => s.url).every((u) => u.startsWith('old-'))).toBe(true)
        expect(p.sources).toHaveLength(3)
        for (const s of p.sources) expect(s.biographyId).toBe(p.id)
      }
      expect(messages.length).toBeGreaterThan(0)
      expect(messages.map((m) => m.target)).toEqual(messages.map(() => 'replica'))
    }
  })

  it("target: 'primary' sends every statement to the primary (parents and children agree there too)", async () => {
    for (const load of [
      () => eagerLoad(db, { ...options(), target: 'primary' }),
      () => selectinLoad(db, { ...options(), target: 'primary' }),
    ]) {
      const { result, messages } = await collect(load)
      expect(result.map((p) => p.id)).toEqual([1, 2, 3, 4, 5, 6])
      expect(result.map((p) => p.sources.length)).toEqual([5, 5, 5, 5, 5, 2])
      expect(messages.map((m) => m.target)).toEqual(messages.map(() => 'primary'))
    }
    await expect(
      eagerLoad(db, { ...options(), target: 'elsewhere' as never }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('"elsewhere"'),
    })
    await expect(eagerLoad(primary.db, { ...options(), target: 'replica' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
  })

  it('built on drizzle findMany({ with }) where relations() exist: one statement, on the chosen member', async () => {
    const schema = {
      biographies: tables.biographies,
      sources: tables.sources,
      biographiesRelations: relations(tables.biographies, ({ many }) => ({
        sources: many(tables.sources),
      })),
      sourcesRelations: relations(tables.sources, ({ one }) => ({
        biography: one(tables.biographies, {
          fields: [tables.sources.biographyId],
          references: [tables.biographies.id],
        }),
      })),
    }
    const relationalPrimary = await createDatabase(pair.primary.url, { schema })
    const relationalReplica = await createDatabase(pair.replica.url, { schema })
    try {
      const relational = withReplicas(relationalPrimary.db, [relationalReplica.db])
      // meta (jsonb) left out: it would keep the loaders on their own path
      const light = { ...options(), columns: { child: { meta: false } } }
      for (const target of [undefined, 'primary'] as const) {
        for (const load of [eagerLoad, selectinLoad]) {
          const { result, messages } = await collect(() => load(relational, { ...light, target }))
          if (target === undefined) {
            expect(result.map((p) => p.id)).toEqual([1, 2, 3, 4, 5])
            expect(result.map((p) => p.sources.length)).toEqual([3, 3, 3, 3, 3])
          } else {
            expect(result.map((p) => p.id)).toEqual([1, 2, 3, 4, 5, 6])
            expect(result.map((p) => p.sources.length)).toEqual([5, 5, 5, 5, 5, 2])
          }
          for (const p of result) for (const s of p.sources) expect(s.biographyId).toBe(p.id)
          expect(messages).toHaveLength(1)
          expect(messages[0]?.target).toBe(target ?? 'replica')
          expect(messages[0]?.sql).toContain('json_agg')
        }
      }
    } finally {
      await relationalReplica.close()
      await relationalPrimary.close()
    }
  })

  it('QueryOptimizer counts the statements of every member, and pool status covers each', async () => {
    const optimizer = new QueryOptimizer(db)
    const logged: string[] = []
    const stop = enableQueryLogging(db, { thresholdMs: 0, logger: { warn: (m) => logged.push(m) } })
    await db.select().from(tables.biographies)
    await db.insert(tables.biographies).values({ name: 'Person 7' })
    await db.execute(sql`select 1`)
    stop()
    const stats = optimizer.getQueryStats()
    expect(stats.all.count).toBe(3)
    expect(logged).toHaveLength(3)
    expect(Object.keys(stats.byShape).some((s) => s.startsWith('insert'))).toBe(true)
    optimizer.close()
    const status = ConnectionPool.getPoolStatus(db)
    expect(status.driver).toBe('postgres-js')
    expect(status.replicas).toHaveLength(1)
    expect(status.replicas?.[0]?.open).toBeGreaterThanOrEqual(1)
  })
})
