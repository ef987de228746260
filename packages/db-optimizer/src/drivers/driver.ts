import type { PoolStatus } from '../connectionPool.js'
import type { CreateDatabaseOptions } from '../createDatabase.js'
import { DbOptimizerError } from '../dbOptimizerError.js'
import type { Instrumentation } from '../instrumentation.js'
import type { AnyPgDatabase, DriverName } from '../types.js'

// biome-ignore lint/suspicious/noExplicitAny: driver clients are untyped here on purpose
export type Any = any

/** A database a driver opened: the drizzle db, the driver's own client, and how to close it. @internal */
export interface OpenedDatabase {
  db: AnyPgDatabase
  client: unknown
  close(): Promise<void>
}

/**
 * Everything driver-specific, one object per driver of the same shape (see `postgresJs.ts`,
 * `pglite.ts`): knowing one, you can read the other, and a third driver is a copied file.
 * @internal
 */
export interface Driver {
  readonly name: DriverName
  /** Whether `client` (the `session.client` of a drizzle database) belongs to this driver. */
  detect(client: unknown): boolean
  /**
   * Returns the client drizzle uses from now on: every statement, transaction and savepoint
   * timed through `inst`. Called once per client.
   */
  wrap(client: Any, inst: Instrumentation): Any
  /** Opens a drizzle database over this driver (`location` is a URL or a PGlite data directory). */
  open(
    location: string | undefined,
    options: CreateDatabaseOptions<Record<string, unknown>>,
  ): Promise<OpenedDatabase>
  /** What the client side of the pool looks like right now. */
  poolStatus(inst: Instrumentation): PoolStatus
}

/**
 * Imports an optional peer dependency; a missing one fails with `DRIVER_MISSING` naming the
 * package to install. @internal
 */
export async function loadModule<T>(specifier: string, url: string | undefined): Promise<T> {
  try {
    return (await import(specifier)) as T
  } catch (error) {
    const code = (error as { code?: string } | null)?.code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      const pkg = specifier.startsWith('drizzle-orm') ? 'drizzle-orm' : specifier
      throw new DbOptimizerError(
        'DRIVER_MISSING',
        `${url === undefined || url === '' ? 'an embedded database' : 'this URL'} needs the "${pkg}" package, which is not installed: npm install ${pkg}`,
        { cause: error },
      )
    }
    throw error
  }
}
