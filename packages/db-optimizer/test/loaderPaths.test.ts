// The loaders' fast paths (drizzle's relational query where relations() are declared, one
// json_agg row per parent key for loadChildren) return exactly what their plain row-by-row paths
// return, on generated parents and children, on both drivers.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { PGlite } from '@electric-sql/pglite'
import { asc, desc, gt, isNotNull, relations, type SQL, sql } from 'drizzle-orm'
import {
  boolean,
  doublePrecision,
  integer,
  type PgColumn,
  pgTable,
  serial,
  smallint,
  text,
  timestamp,
  varchar,
} from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import fc from 'fast-check'
import type { Sql } from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { plainLoaders } from '../src/eagerLoading.js'
import {
  createDatabase,
  type Database,
  eagerLoad,
  loadChildren,
  QUERY_CHANNEL,
  type QueryChannelMessage,
  QueryOptimizer,
  selectinLoad,
} from '../src/index.js'
import type { AnyPgDatabase } from '../src/types.js'
import { DATABASE_URL, drivers, pgliteStart, suffix } from './drivers.js'

const id = suffix()
const parents = pgTable(`dbo_lp_parent_${id}`, {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
  rank: integer('rank'),
})
const kids = pgTable(`dbo_lp_child_${id}`, {
  id: serial('id').primaryKey(),
  parentId: integer('parent_id'),
  title: text('title'),
  score: doublePrecision('score'),
  flag: boolean('flag'),
  at: timestamp('at', { mode: 'date' }),
  code: varchar('code', { length: 8 }),
  small: smallint('small'),
})
const parentsRelations = relations(parents, ({ many }) => ({ kids: many(kids) }))
const kidsRelations = relations(kids, ({ one }) => ({
  parent: one(parents, { fields: [kids.parentId], references: [parents.id] }),
}))
const schema = { parents, kids, parentsRelations, kidsRelations }

const text_ = fc.string({ maxLength: 12, unit: 'grapheme' }).filter((s) => !s.includes('\u0000'))
const parentRow = fc.record({ name: text_, rank: fc.option(fc.integer({ min: -3, max: 3 })) })
const childRow = (n: number) =>
  fc.record({
    // an existing parent, NULL, or a key no parent has
    parentId: fc.option(fc.oneof(fc.integer({ min: 1, max: Math.max(1, n) }), fc.constant(9999))),
    title: fc.option(text_),
    score: fc.option(
      fc.oneof(fc.constantFrom(Number.NaN, -0, Number.POSITIVE_INFINITY, -1e300, 0.1), fc.double()),
    ),
    flag: fc.option(fc.boolean()),
    at: fc.option(
      fc.date({
        min: new Date('1970-01-01T00:00:00Z'),
        max: new Date('2100-01-01T00:00:00Z'),
        noInvalidDate: true,
      }),
    ),
    code: fc.option(fc.string({ maxLength: 8 }).filter((s) => !s.includes('\u0000'))),
    small: fc.option(fc.integer({ min: -32768, max: 32767 })),
  })
const data = fc.array(parentRow, { maxLength: 12 }).chain((ps) =>
  fc.tuple(
    fc.constant(ps),
    fc.oneof(
      fc.array(childRow(ps.length), { maxLength: 40 }),
      // many children on few parents
      fc.array(childRow(Math.min(ps.length, 2)), { minLength: 40, maxLength: 120 }),
    ),
  ),
)

const parentKeys = ['id', 'name', 'rank'] as const
const kidKeys = ['id', 'parentId', 'title', 'score', 'flag', 'at', 'code', 'small'] as const
const selectionOf = <K extends string>(keys: readonly K[]) =>
  fc.option(
    fc.oneof(
      fc.dictionary(fc.constantFrom(...keys), fc.boolean(), { maxKeys: keys.length }),
      fc
        .subarray([...keys], { minLength: 1 })
        .map((ks) => Object.fromEntries(ks.map((k) => [k, true]))),
    ),
    { nil: undefined },
  )

// orders made unique by a final id, so "same order" is defined
const parentOrders: (SQL | PgColumn | (SQL | PgColumn)[])[] = [
  asc(parents.id),
  [desc(parents.rank), asc(parents.id)],
  [asc(parents.name), desc(parents.id)],
]
const kidOrders: (SQL | PgColumn | (SQL | PgColumn)[])[] = [
  asc(kids.id),
  [desc(kids.score), asc(kids.id)],
  [asc(kids.at), desc(kids.id)],
  [sql`${kids.title} desc nulls last`, kids.id],
]

const load = fc.record({
  as: fc.constantFrom('kids', 'items'),
  parentColumns: selectionOf(parentKeys),
  childColumns: selectionOf(kidKeys),
  order: fc.option(fc.constantFrom(...parentOrders), { nil: undefined }),
  childOrder: fc.option(fc.constantFrom(...kidOrders), { nil: undefined }),
  where: fc.option(
    fc.oneof(
      fc.integer({ min: 0, max: 8 }).map((n) => gt(parents.id, n)),
      fc.constant(isNotNull(parents.rank)),
    ),
    { nil: undefined },
  ),
  limit: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
})

type Row = Record<string, unknown>

/** Rows in a canonical order where none is documented (no orderBy / orderChildrenBy). */
function canonical(rows: Row[], as: string, ordered: boolean, childrenOrdered: boolean) {
  const key = (r: Row) => JSON.stringify(r, (_k, v) => (typeof v === 'number' ? String(v) : v))
  const withKids = rows.map((r) => ({
    ...r,
    [as]: childrenOrdered ? r[as] : [...(r[as] as Row[])].sort((a, b) => cmp(key(a), key(b))),
  }))
  return ordered ? withKids : withKids.sort((a, b) => cmp(key(a), key(b)))
}
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

describe.each(drivers)('fast loading paths on $name', (driver) => {
  let database: Database<typeof schema>
  // the same connection without a schema: no relations() to build on (the loaders' own fast paths)
  let bare: AnyPgDatabase
  let bareOptimizer: QueryOptimizer

  beforeAll(async () => {
    database =
      driver.name === 'pglite'
        ? await createDatabase(undefined, { pglite: pgliteStart(), schema })
        : await createDatabase(DATABASE_URL, { schema })
    bare =
      driver.name === 'pglite'
        ? drizzlePglite(database.client as PGlite)
        : drizzlePostgres(database.client as Sql)
    // instruments it: its statements are published on QUERY_CHANNEL too
    bareOptimizer = new QueryOptimizer(bare)
    await database.db.execute(
      sql.raw(
        `create table "dbo_lp_parent_${id}" (id serial primary key, name text not null, rank integer)`,
      ),
    )
    await database.db.execute(
      sql.raw(
        `create table "dbo_lp_child_${id}" (id serial primary key, parent_id integer, title text, score double precision, flag boolean, at timestamp, code varchar(8), small smallint)`,
      ),
    )
  })

  afterAll(async () => {
    bareOptimizer.close()
    await database.db.execute(sql.raw(`drop table if exists "dbo_lp_child_${id}"`))
    await database.db.execute(sql.raw(`drop table if exists "dbo_lp_parent_${id}"`))
    await database.close()
  })

  async function seed(ps: { name: string; rank: number | null }[], ks: object[]) {
    await database.db.execute(
      sql.raw(`truncate "dbo_lp_child_${id}", "dbo_lp_parent_${id}" restart identity`),
    )
    if (ps.length > 0) await database.db.insert(parents).values(ps)
    if (ks.length > 0) await database.db.insert(kids).values(ks)
  }

  it('returns what the plain path returns: same rows, same grouping, same order where asked', async () => {
    await fc.assert(
      fc.asyncProperty(data, load, async ([ps, ks], l) => {
        await seed(ps, ks)
        const options = {
          parent: parents,
          child: kids,
          foreignKey: kids.parentId,
          as: l.as,
          columns: { parent: l.parentColumns, child: l.childColumns },
          where: l.where,
          orderBy: l.order,
          orderChildrenBy: l.childOrder,
          // without an order, which parents a limit keeps is not defined
          limit: l.order === undefined ? undefined : l.limit,
        } as Parameters<typeof plainLoaders.eagerLoad>[1]
        const same = (fast: Row[], plain: Row[]) =>
          expect(canonical(fast, l.as, l.order !== undefined, l.childOrder !== undefined)).toEqual(
            canonical(plain, l.as, l.order !== undefined, l.childOrder !== undefined),
          )
        const db = database.db
        same(await eagerLoad(db, options), await plainLoaders.eagerLoad(db, options))
        same(await selectinLoad(db, options), await plainLoaders.selectinLoad(db, options))
        same(await eagerLoad(bare, options), await plainLoaders.eagerLoad(db, options))
        same(await selectinLoad(bare, options), await plainLoaders.selectinLoad(db, options))
        // parents in hand: with duplicates, NULL keys, keyed by the primary key or by a
        // non-unique nullable column
        const inHand = [
          ...(await db.select().from(parents)),
          ...(await db.select().from(parents).limit(2)),
        ]
        for (const references of [parents.id, parents.rank]) {
          const childOptions = {
            child: kids,
            foreignKey: kids.parentId,
            references,
            as: l.as,
            columns: { child: l.childColumns },
            orderChildrenBy: l.childOrder,
          } as Parameters<typeof plainLoaders.loadChildren>[2]
          const fast = await loadChildren(db, inHand, childOptions)
          const plain = await plainLoaders.loadChildren(db, inHand, childOptions)
          // loadChildren keeps the parents' order
          expect(canonical(fast, l.as, true, l.childOrder !== undefined)).toEqual(
            canonical(plain, l.as, true, l.childOrder !== undefined),
          )
        }
      }),
      { numRuns: driver.name === 'pglite' ? 30 : 40 },
    )
  })

  it('takes the fast paths: one relational statement for both loaders, json_agg for loadChildren', async () => {
    await seed(
      [
        { name: 'a', rank: 1 },
        { name: 'b', rank: null },
      ],
      [{ parentId: 1, title: 'x' }, { parentId: 1, title: 'y' }, { parentId: null }],
    )
    const statements: string[] = []
    const onMessage = (m: unknown) => statements.push((m as QueryChannelMessage).sql)
    subscribe(QUERY_CHANNEL, onMessage)
    try {
      const options = {
        parent: parents,
        child: kids,
        foreignKey: kids.parentId,
        as: 'kids' as const,
      }
      const eager = await eagerLoad(database.db, { ...options, orderBy: asc(parents.id) })
      expect(eager.map((p) => p.kids.length)).toEqual([2, 0])
      expect(statements).toHaveLength(1)
      expect(statements[0]).toContain('json_agg')
      statements.length = 0
      const selectin = await selectinLoad(database.db, { ...options, orderBy: asc(parents.id) })
      expect(selectin).toEqual(eager)
      expect(statements).toHaveLength(1)
      statements.length = 0
      // without relations(): one statement too (a json_agg subquery per parent)
      expect(await eagerLoad(bare, { ...options, orderBy: asc(parents.id) })).toEqual(eager)
      expect(statements).toHaveLength(1)
      expect(statements[0]).toContain('json_agg')
      statements.length = 0
      // a where naming another table's column cannot be re-aliased by drizzle: plain path
      await selectinLoad(database.db, {
        ...options,
        where: sql`exists (select 1 from ${kids} where ${kids.parentId} = ${parents.id})`,
      })
      expect(statements).toHaveLength(2)
      statements.length = 0
      const attached = await loadChildren(database.db, eager, {
        ...options,
        references: parents.id,
        as: 'again',
        orderChildrenBy: asc(kids.id),
      })
      expect(attached.map((p) => p.again)).toEqual(eager.map((p) => p.kids))
      expect(statements).toHaveLength(1)
      expect(statements[0]).toContain('json_agg')
    } finally {
      unsubscribe(QUERY_CHANNEL, onMessage)
    }
  })
})
