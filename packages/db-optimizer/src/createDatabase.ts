import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { DbOptimizerError } from './dbOptimizerError.js'
import { driverNamed } from './drivers/index.js'
import { instrument } from './instrumentation.js'
import type { PostgresJsOptions } from './poolPresets.js'
import type { DriverName } from './types.js'

/** Options of {@link createDatabase}. */
export interface CreateDatabaseOptions<TSchema extends Record<string, unknown>> {
  /**
   * drizzle schema (tables and relations) for `db.query.*`.
   * @default undefined
   */
  schema?: TSchema
  /**
   * postgres.js options (for example `optimizeForReadHeavy().options`). On PGlite only
   * `connection` applies: each setting is run as `SET name = value` once at start.
   * @default {} (postgres.js defaults: max 10, no timeouts)
   */
  postgres?: Partial<PostgresJsOptions> | Record<string, unknown>
  /**
   * PGlite options (`extensions`, `debug`, …), used when the URL selects PGlite.
   * @default {}
   */
  pglite?: Record<string, unknown>
}

/** A drizzle database with its driver, ready to use; `close()` releases it. */
export interface Database<TSchema extends Record<string, unknown> = Record<string, never>> {
  /** The drizzle database. */
  db: PgDatabase<PgQueryResultHKT, TSchema>
  /** Which driver runs it. */
  driver: DriverName
  /** The driver's client: the postgres.js `sql` function or the `PGlite` instance. */
  client: unknown
  /** Closes the connections (postgres.js) or the embedded database (PGlite). Idempotent. */
  close(): Promise<void>
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * Opens a drizzle database for a URL:
 * - `postgres://…` / `postgresql://…` → drizzle over postgres.js;
 * - nothing, `''`, `pglite:` or `memory://` → drizzle over PGlite in memory;
 * - `pglite:<dir>`, `file://<dir>` or a plain directory path → PGlite stored in that directory.
 * Drivers are imported only when chosen; a missing one fails with code `DRIVER_MISSING`.
 * The database is instrumented from the start (see {@link instrumentDatabase}).
 */
export async function createDatabase<
  TSchema extends Record<string, unknown> = Record<string, never>,
>(url?: string, options: CreateDatabaseOptions<TSchema> = {}): Promise<Database<TSchema>> {
  const target = parseDatabaseUrl(url)
  const driver = driverNamed(target.driver)
  const opened = await driver.open(
    target.driver === 'postgres-js' ? target.url : target.dataDir,
    options as CreateDatabaseOptions<Record<string, unknown>>,
  )
  instrument(opened.db)
  return {
    db: opened.db as Database<TSchema>['db'],
    driver: target.driver,
    client: opened.client,
    close: opened.close,
    [Symbol.asyncDispose]: opened.close,
  }
}

/** Which driver a URL selects, and where (see {@link createDatabase}). */
export type DatabaseTarget =
  | { driver: 'postgres-js'; url: string }
  | { driver: 'pglite'; dataDir: string | undefined }

/**
 * Which driver {@link createDatabase} would use for a URL, without opening anything:
 * `{ driver: 'postgres-js', url }` or `{ driver: 'pglite', dataDir }` (`undefined` = in memory).
 * Throws `INVALID_URL` for URLs it does not understand.
 */
export function parseDatabaseUrl(url?: string): DatabaseTarget {
  if (url === undefined || url === '') return { driver: 'pglite', dataDir: undefined }
  if (typeof url !== 'string') {
    throw new DbOptimizerError('INVALID_URL', `url must be a string, got ${typeof url}`)
  }
  if (/^postgres(ql)?:\/\//i.test(url)) return { driver: 'postgres-js', url }
  if (/^(pglite:(\/\/)?|memory:\/\/)$/i.test(url)) return { driver: 'pglite', dataDir: undefined }
  const pglite = /^pglite:(?:\/\/)?(.+)$/i.exec(url)
  if (pglite !== null) return { driver: 'pglite', dataDir: pglite[1] }
  if (/^file:\/\//i.test(url)) return { driver: 'pglite', dataDir: url.slice('file://'.length) }
  if (/^idb:\/\//i.test(url)) return { driver: 'pglite', dataDir: url }
  if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) return { driver: 'pglite', dataDir: url }
  throw new DbOptimizerError(
    'INVALID_URL',
    `url must be postgres://…, postgresql://…, pglite:[dir], memory://, file://dir or a directory path, got ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))}`,
  )
}
