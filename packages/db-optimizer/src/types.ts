/** Which driver a database runs on. */
export type DriverName = 'postgres-js' | 'pglite'

/** A member of a drizzle `withReplicas` database: where a statement is sent. */
export type ReplicaTarget = 'primary' | 'replica'

/**
 * Any drizzle PostgreSQL database (or transaction) over postgres.js or PGlite: what
 * `drizzle-orm/postgres-js` and `drizzle-orm/pglite` return, or the `tx` of `db.transaction()`.
 */
// biome-ignore lint/suspicious/noExplicitAny: accepts every schema type of a drizzle database
export type AnyPgDatabase = import('drizzle-orm/pg-core').PgDatabase<any, any, any>

/** One statement as measured at the driver. */
export interface QueryEvent {
  /** Name of the innermost `timeQuery` span the statement ran in, if any. */
  name?: string
  /** The statement text with `$n` placeholders (parameter values are never part of it). */
  sql: string
  /** The statement's shape (literals and value lists collapsed), used to group statistics. */
  shape: string
  /** Time from handing the statement to the driver until its result or error, milliseconds. */
  durationMs: number
  /** Rows returned or affected, when known. */
  rows?: number
  /** The error, when the statement failed. */
  error?: unknown
  /** The parameter values: given to in-process listeners only, never published. */
  params: readonly unknown[]
  /** Which member of a `withReplicas` database ran it (absent on other databases). */
  target?: ReplicaTarget
}

/**
 * Message published on the `bookgen:db:query` diagnostics channel for every statement
 * (only while the channel has subscribers).
 */
export interface QueryChannelMessage {
  /** Name of the innermost `timeQuery` span, if any. */
  name?: string
  /** Statement text; parameters are never included. */
  sql: string
  /** Execution time at the driver, milliseconds. */
  durationMs: number
  /** Rows returned or affected, when known. */
  rows?: number
  /** The error, when the statement failed. */
  error?: unknown
  /** Which member of a drizzle `withReplicas` database ran it (absent on other databases). */
  target?: ReplicaTarget
}
