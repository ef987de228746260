// Loading helpers against drizzle's own relational query, findMany({ with }), in ONE run, on local
// PostgreSQL (postgres.js at DATABASE_URL) and on PGlite in memory, at 100 parents x 20 children
// and 1,000 x 50. Each helper runs twice: on the db made with the schema's relations() (where
// eagerLoad/selectinLoad are built on findMany({ with })), and on a drizzle instance over the same
// client without a schema (their own path). Rounds are shuffled and interleaved; each round gives
// one ratio per helper (drizzle's time / ours: above 1 means faster than drizzle); the medians of
// those ratios print, with the N+1 loop for scale.
//   npx tsx bench/loading.ts            (BENCH_ROUNDS=15 by default)
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { PGlite } from '@electric-sql/pglite'
import { eq, relations, sql } from 'drizzle-orm'
import { doublePrecision, integer, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import type { Sql } from 'postgres'
import { createDatabase, eagerLoad, loadChildren, selectinLoad } from '../src/index.js'

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15)
const id = randomBytes(3).toString('hex')

const authors = pgTable(`dbo_bl_parent_${id}`, {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
  bio: text('bio'),
})
const books = pgTable(`dbo_bl_child_${id}`, {
  id: serial('id').primaryKey(),
  authorId: integer('author_id').notNull(),
  title: text('title').notNull(),
  score: doublePrecision('score'),
  publishedAt: timestamp('published_at', { mode: 'date' }),
})
const authorsRelations = relations(authors, ({ many }) => ({ books: many(books) }))
const booksRelations = relations(books, ({ one }) => ({
  author: one(authors, { fields: [books.authorId], references: [authors.id] }),
}))
const schema = { authors, books, authorsRelations, booksRelations }

const LOADERS = [
  'drizzle with',
  // drizzle's with once more, as a helper: how far a ratio strays from 1.00x on this machine
  'drizzle with, again',
  'eagerLoad',
  'selectinLoad',
  'eagerLoad, no relations()',
  'selectinLoad, no relations()',
  'loadChildren',
  'N+1 loop',
] as const
type Loader = (typeof LOADERS)[number]

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

function shuffle<T>(items: T[]): T[] {
  const a = [...items]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j] as T, a[i] as T]
  }
  return a
}

async function bench(driver: 'postgres-js' | 'pglite', parents: number, children: number) {
  const database = await createDatabase(driver === 'pglite' ? undefined : DATABASE_URL, { schema })
  const db = database.db
  // the same connection, no schema: no relations() to build on
  const bare =
    driver === 'pglite'
      ? drizzlePglite(database.client as PGlite)
      : drizzlePostgres(database.client as Sql)
  try {
    await db.execute(
      sql.raw(
        `create table "${getName(authors)}" (id serial primary key, name text not null, bio text)`,
      ),
    )
    await db.execute(
      sql.raw(
        `create table "${getName(books)}" (id serial primary key, author_id integer not null, title text not null, score double precision, published_at timestamp)`,
      ),
    )
    await db.execute(sql.raw(`create index on "${getName(books)}" (author_id)`))
    await db
      .insert(authors)
      .values(Array.from({ length: parents }, (_, i) => ({ name: `Author ${i}`, bio: `bio ${i}` })))
    const rows = Array.from({ length: parents * children }, (_, i) => ({
      authorId: (i % parents) + 1,
      title: `Book ${i}`,
      score: (i % 100) / 10,
      publishedAt: new Date(Date.UTC(2000, 0, 1 + (i % 3650))),
    }))
    for (let i = 0; i < rows.length; i += 5000)
      await db.insert(books).values(rows.slice(i, i + 5000))
    await db.execute(sql.raw(`analyze "${getName(books)}"`))
    const relation = {
      parent: authors,
      child: books,
      foreignKey: books.authorId,
      as: 'books' as const,
    }
    const loaders: Record<Loader, () => Promise<{ id: number; books: unknown[] }[]>> = {
      'drizzle with': () => db.query.authors.findMany({ with: { books: true } }),
      'drizzle with, again': () => db.query.authors.findMany({ with: { books: true } }),
      eagerLoad: () => eagerLoad(db, relation),
      selectinLoad: () => selectinLoad(db, relation),
      'eagerLoad, no relations()': () => eagerLoad(bare, relation),
      'selectinLoad, no relations()': () => selectinLoad(bare, relation),
      loadChildren: async () =>
        loadChildren(db, await db.select().from(authors), { ...relation, references: authors.id }),
      'N+1 loop': async () => {
        const out = []
        for (const a of await db.select().from(authors)) {
          out.push({ ...a, books: await db.select().from(books).where(eq(books.authorId, a.id)) })
        }
        return out
      },
    }
    // the same rows, or the comparison means nothing
    const canonical = (loaded: { id: number; books: unknown[] }[]) =>
      JSON.stringify(
        [...loaded]
          .sort((a, b) => a.id - b.id)
          .map((p) => ({
            ...p,
            books: [...(p.books as { id: number }[])].sort((a, b) => a.id - b.id),
          })),
      )
    const expected = canonical(await loaders['drizzle with']())
    for (const [name, load] of Object.entries(loaders)) {
      if (canonical(await load()) !== expected)
        throw new Error(`${name} loaded other rows than drizzle`)
    }
    const ratios = Object.fromEntries(
      LOADERS.filter((l) => l !== 'drizzle with').map((l) => [l, [] as number[]]),
    ) as Record<Exclude<Loader, 'drizzle with'>, number[]>
    const drizzleMs: number[] = []
    for (let round = 0; round < ROUNDS + 2; round++) {
      const ms: Partial<Record<Loader, number>> = {}
      for (const name of shuffle(Object.keys(loaders) as Loader[])) {
        const start = performance.now()
        await loaders[name]()
        ms[name] = performance.now() - start
      }
      if (round < 2) continue // warm-up
      drizzleMs.push(ms['drizzle with'] as number)
      for (const name of Object.keys(ratios) as (keyof typeof ratios)[]) {
        ratios[name].push((ms['drizzle with'] as number) / (ms[name] as number))
      }
    }
    return {
      drizzleMs: median(drizzleMs),
      ratios: Object.fromEntries(
        Object.entries(ratios).map(([name, values]) => [name, median(values)]),
      ) as Record<keyof typeof ratios, number>,
    }
  } finally {
    await db.execute(sql.raw(`drop table if exists "${getName(books)}"`))
    await db.execute(sql.raw(`drop table if exists "${getName(authors)}"`))
    await database.close()
  }
}

function getName(table: typeof authors | typeof books): string {
  return table === authors ? `dbo_bl_parent_${id}` : `dbo_bl_child_${id}`
}

const columns = LOADERS.filter((l) => l !== 'drizzle with')
console.log(`| driver | parents x children | drizzle \`with\` ms | ${columns.join(' | ')} |`)
console.log(`| --- | --- | ---: | ${columns.map(() => '---:').join(' | ')} |`)
for (const driver of ['postgres-js', 'pglite'] as const) {
  for (const [parents, children] of [
    [100, 20],
    [1000, 50],
  ] as const) {
    const r = await bench(driver, parents, children)
    console.log(
      `| ${driver} | ${parents} x ${children} | ${r.drizzleMs.toFixed(2)} | ${columns.map((c) => `${r.ratios[c].toFixed(2)}x`).join(' | ')} |`,
    )
  }
}
console.log(
  `\nratio = drizzle findMany({ with }) time / helper time, median of ${ROUNDS} interleaved, shuffled rounds`,
)
