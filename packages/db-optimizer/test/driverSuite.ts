// The setup most suites share: a database on one driver with its own freshly created tables.
import { afterAll, beforeAll } from 'vitest'
import { type Database, QueryOptimizer } from '../src/index.js'
import {
  createTables,
  type DriverCase,
  dropTables,
  makeTables,
  sourceRows,
  type Tables,
} from './drivers.js'

/** A suite's database, the tables created in it and a QueryOptimizer watching it. */
export interface DriverSuite {
  database: Database
  tables: Tables
  optimizer: QueryOptimizer
}

/**
 * Opens a database on `driver`, creates a fresh set of uniquely named tables in it and puts a new
 * QueryOptimizer on it.
 */
export async function openDriverSuite(driver: DriverCase): Promise<DriverSuite> {
  const database = await driver.open()
  const tables = makeTables()
  await createTables(database, tables)
  return { database, tables, optimizer: new QueryOptimizer(database.db) }
}

/** Drops the suite's tables and closes its database. */
export async function closeDriverSuite(database: Database, tables: Tables): Promise<void> {
  await dropTables(database, tables)
  await database.close()
}

/** What {@link seededDriverSuite} hands its tests (readable once its beforeAll has run). */
export interface SeededDriverSuite {
  readonly database: Database
  readonly tables: Tables
}

/**
 * Registers the hooks of a suite that reads seeded data: before all tests, a database on `driver`
 * with fresh tables and `n` rows of `sourceRows` in `sources` (written by batchInsert, whose
 * optimizer is closed again); after all tests, the tables dropped and the database closed.
 */
export function seededDriverSuite(driver: DriverCase, n: number): SeededDriverSuite {
  let suite: DriverSuite | undefined
  beforeAll(async () => {
    const opened = await openDriverSuite(driver)
    await opened.optimizer.batchInsert(opened.tables.sources, sourceRows(n))
    opened.optimizer.close()
    suite = opened
  })
  afterAll(async () => {
    if (suite !== undefined) await closeDriverSuite(suite.database, suite.tables)
  })
  const opened = (): DriverSuite => {
    if (suite === undefined) throw new Error('seededDriverSuite: read before its beforeAll ran')
    return suite
  }
  return {
    get database() {
      return opened().database
    },
    get tables() {
      return opened().tables
    },
  }
}
