// The setup most suites share: a database on one driver with its own freshly created tables.
import { type Database, QueryOptimizer } from '../src/index.js'
import { createTables, type DriverCase, dropTables, makeTables, type Tables } from './drivers.js'

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
