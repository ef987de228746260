// Shared by every test file: each suite runs once per driver, on its own randomly named tables.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { sql } from 'drizzle-orm'
import {
  boolean,
  doublePrecision,
  integer,
  jsonb,
  pgTable,
  serial,
  text,
  timestamp,
} from 'drizzle-orm/pg-core'
import { inject } from 'vitest'
import { createDatabase, type Database } from '../src/index.js'

export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface DriverCase {
  name: 'postgres-js' | 'pglite'
  /** The URL createDatabase is given (undefined: PGlite in memory). */
  url: string | undefined
  /** Opens a database on this driver (PGlite starts from the data directory dumped in globalSetup). */
  open(): Promise<Database>
}

export const drivers: DriverCase[] = [
  { name: 'postgres-js', url: DATABASE_URL, open: () => createDatabase(DATABASE_URL) },
  {
    name: 'pglite',
    url: undefined,
    open: () => createDatabase(undefined, { pglite: pgliteStart() }),
  },
]

/** PGlite options that start from the data directory dumped in globalSetup (skips initdb). */
export function pgliteStart(): { loadDataDir: Blob } {
  return { loadDataDir: new Blob([readFileSync(inject('pgliteDump'))]) }
}

export function suffix(): string {
  return randomBytes(4).toString('hex')
}

/** A biographies / sources / chapters schema under unique table names. */
export function makeTables(id = suffix()) {
  const biographies = pgTable(`dbo_bio_${id}`, {
    id: serial('id').primaryKey(),
    name: text('name').notNull(),
    status: text('status').notNull().default('draft'),
  })
  const sources = pgTable(`dbo_src_${id}`, {
    id: serial('id').primaryKey(),
    url: text('url').notNull().unique(),
    title: text('title'),
    author: text('author'),
    publishedAt: timestamp('published_at', { mode: 'date' }),
    score: doublePrecision('score'),
    verified: boolean('verified'),
    meta: jsonb('meta'),
    biographyId: integer('biography_id'),
  })
  const ddl = [
    `create table "dbo_bio_${id}" (id serial primary key, name text not null, status text not null default 'draft')`,
    `create table "dbo_src_${id}" (id serial primary key, url text not null unique, title text, author text, published_at timestamp, score double precision, verified boolean, meta jsonb, biography_id integer)`,
  ]
  const drop = [`drop table if exists "dbo_bio_${id}"`, `drop table if exists "dbo_src_${id}"`]
  return { id, biographies, sources, ddl, drop }
}

export type Tables = ReturnType<typeof makeTables>

export async function createTables(database: Database, tables: Tables): Promise<void> {
  for (const statement of tables.ddl) await database.db.execute(sql.raw(statement))
}

export async function dropTables(database: Database, tables: Tables): Promise<void> {
  for (const statement of tables.drop) await database.db.execute(sql.raw(statement))
}

export async function count(database: Database, table: string): Promise<number> {
  const result = (await database.db.execute(
    sql.raw(`select count(*)::int as n from "${table}"`),
  )) as unknown
  const rows = Array.isArray(result) ? result : (result as { rows: { n: number }[] }).rows
  return Number(rows[0].n)
}

export function sourceRows(n: number, start = 0) {
  return Array.from({ length: n }, (_, i) => ({
    url: `https://example.org/${start + i}`,
    title: `Title ${start + i}`,
    author: `Author ${(start + i) % 97}`,
    publishedAt: new Date(Date.UTC(2020, 0, 1 + ((start + i) % 365))),
    score: ((start + i) % 100) / 100,
    verified: (start + i) % 2 === 0,
    meta: { n: start + i, tags: ['a', 'b'] },
    biographyId: (start + i) % 10,
  }))
}

/** The rows of a `db.execute` result on either driver (postgres.js: an array; PGlite: `.rows`). */
export function rowsOf(result: unknown): Record<string, unknown>[] {
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Record<
    string,
    unknown
  >[]
}
