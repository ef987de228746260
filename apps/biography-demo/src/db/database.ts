import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { DemoError, DemoErrorCode, maskUrl } from '../demoError.js'
import { restorePgliteSnapshot } from './pgliteSnapshot.js'
import * as schema from './schema.js'

/** The drizzle database the pipelines use, on either driver. */
export type DemoDatabase = ReturnType<typeof drizzlePglite<typeof schema>>

/** Where the data lives. */
export type DatabaseTarget =
  | { kind: 'pglite'; dataDir: string; temporary: boolean }
  | { kind: 'postgres'; url: string; schema: string }

/** An open database with its description and a way to close it. */
export interface OpenDatabase {
  readonly db: DemoDatabase
  readonly target: DatabaseTarget
  /** Human-readable backend, e.g. `PGlite (embedded) in /tmp/…` or `PostgreSQL postgres://…`. */
  readonly label: string
  close(): Promise<void>
}

/** Chooses the database: DATABASE_URL → PostgreSQL, otherwise PGlite in dataDir or a temp dir. */
export async function resolveDatabaseTarget(options: {
  databaseUrl?: string
  dataDir?: string
  schema: string
}): Promise<DatabaseTarget> {
  if (options.databaseUrl)
    return { kind: 'postgres', url: options.databaseUrl, schema: options.schema }
  if (options.dataDir) return { kind: 'pglite', dataDir: options.dataDir, temporary: false }
  const dataDir = await mkdtemp(join(tmpdir(), 'bookgen-demo-pglite-'))
  return { kind: 'pglite', dataDir, temporary: true }
}

/**
 * PostgreSQL settings of the embedded database (both variants). PostgreSQL's default
 * `shared_buffers` of 128 MB is allocated and touched when PGlite starts, about 120 MB of RSS in
 * every process; the demo's whole database is a few MB, so 16 MB of buffers hold all of it.
 */
export const pgliteSettings = ['-c', 'shared_buffers=16MB'] as const

/**
 * Opens the database and applies the committed drizzle-kit migrations. An empty PGlite folder
 * starts as a copy of a migrated snapshot (see {@link restorePgliteSnapshot}), so the migrations
 * find nothing left to do.
 */
export async function openDatabase(target: DatabaseTarget): Promise<OpenDatabase> {
  const migrationsFolder = findMigrations()
  if (target.kind === 'pglite') {
    await mkdir(target.dataDir, { recursive: true })
    const pgdata = join(target.dataDir, 'pgdata')
    const startParams = pgliteStartParams()
    await restorePgliteSnapshot(pgdata, migrationsFolder, startParams)
    const client = new PGlite(pgdata, { startParams })
    const db = drizzlePglite(client, { schema })
    await migratePglite(db, { migrationsFolder })
    return {
      db,
      target,
      label: pgliteLabel(target),
      close: () => client.close(),
    }
  }
  if (!/^[a-z_][a-z0-9_]*$/.test(target.schema)) {
    throw new DemoError(
      DemoErrorCode.BAD_ARGUMENT,
      `--db-schema must be a lower-case SQL identifier, got ${JSON.stringify(target.schema)}`,
    )
  }
  const masked = maskUrl(target.url)
  const sql = postgres(target.url, {
    max: 10,
    connect_timeout: 5,
    onnotice: () => {},
    connection: { search_path: target.schema, application_name: 'bookgen-demo' },
  })
  try {
    await sql.unsafe(`create schema if not exists "${target.schema}"`)
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {})
    throw new DemoError(
      DemoErrorCode.DATABASE_UNREACHABLE,
      `Cannot connect to PostgreSQL at ${masked}: ${describe(error)}`,
      { cause: error },
    )
  }
  const db = drizzlePostgres(sql, { schema }) as unknown as DemoDatabase
  await migratePostgres(db as never, { migrationsFolder, migrationsSchema: target.schema })
  return {
    db,
    target,
    label: `PostgreSQL ${masked} (schema ${target.schema})`,
    close: () => sql.end({ timeout: 5 }),
  }
}

/**
 * Gets the database ready before the runs open it: an empty PGlite folder gets the migrated
 * snapshot (nothing is started: each run opens it itself), a PostgreSQL server is connected to
 * and migrated, so that an unreachable server fails here. Returns the backend's label.
 */
export async function prepareDatabase(target: DatabaseTarget): Promise<{ label: string }> {
  if (target.kind === 'pglite') {
    await mkdir(target.dataDir, { recursive: true })
    await restorePgliteSnapshot(
      join(target.dataDir, 'pgdata'),
      findMigrations(),
      pgliteStartParams(),
    )
    return { label: pgliteLabel(target) }
  }
  const database = await openDatabase(target)
  await database.close()
  return { label: database.label }
}

/** Removes a temporary PGlite directory. */
export async function removeTemporaryData(target: DatabaseTarget): Promise<void> {
  if (target.kind === 'pglite' && target.temporary) {
    await rm(target.dataDir, { recursive: true, force: true })
  }
}

function pgliteStartParams(): string[] {
  return [...PGlite.defaultStartParams, ...pgliteSettings]
}

function pgliteLabel(target: { dataDir: string }): string {
  return `PGlite (embedded) in ${target.dataDir}`
}

function findMigrations(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  for (const candidate of [join(here, '../drizzle'), join(here, '../../drizzle')]) {
    if (existsSync(join(candidate, 'meta/_journal.json'))) return candidate
  }
  throw new Error(`drizzle migrations not found next to ${here}`)
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: string }).code
    if (code === 'ECONNREFUSED') return 'connection refused'
    if (code === 'CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'connection timed out'
    if (code === 'ENOTFOUND') return 'host not found'
    return error.message
  }
  return String(error)
}
