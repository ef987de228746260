/**
 * The postgres.js options a preset sets (a subset of `postgres.Options`, so the object can be
 * passed to `postgres(url, options)` or `createDatabase(url, { postgres: options })` as is).
 */
export interface PostgresJsOptions {
  /** Maximum connections in the pool. */
  max: number
  /** Seconds an idle connection stays open. */
  idle_timeout: number
  /** Seconds a connection lives at most (then it is replaced, spreading load after failovers). */
  max_lifetime: number
  /** Seconds to wait for a connection to open. */
  connect_timeout: number
  /**
   * Use named prepared statements for `sql\`\`` queries. Set it to `false` behind PgBouncer in
   * transaction mode before 1.21 (prepared statements do not survive a change of server
   * connection).
   */
  prepare: boolean
  /**
   * Startup parameters sent when each connection opens. The presets send only
   * `application_name`, which PgBouncer accepts; it rejects others (`08P01 unsupported startup
   * parameter`). Timeouts are in {@link PoolPreset.settings}.
   */
  connection: Record<string, string | number | boolean>
}

/** A ready-to-use driver configuration and the reasons behind it. */
export interface PoolPreset {
  /** Pass to `postgres(url, preset.options)` or `createDatabase(url, { postgres: preset.options })`. */
  options: PostgresJsOptions
  /**
   * Server settings the preset recommends (`statement_timeout` and friends, in milliseconds).
   * They are not startup parameters, so they pass PgBouncer: apply them as role settings once
   * ({@link PoolPreset.roleSql}), so every server connection starts with them, including those a
   * pooler hands out; or, connecting straight to PostgreSQL, add them to `options.connection`.
   * Inside one transaction, `SET LOCAL` overrides them (and survives transaction pooling).
   */
  settings: Record<string, number>
  /**
   * `ALTER ROLE CURRENT_USER SET …` statements that store {@link PoolPreset.settings} for the role
   * the application connects as (run once, e.g. in a migration; new sessions pick them up).
   */
  roleSql: string[]
  /** Why each value was chosen, and what to watch. */
  notes: string[]
}

/**
 * Driver options for read-heavy work: a larger pool, short statement timeouts so a bad query
 * cannot hold a connection, longer-lived idle connections.
 */
export function optimizeForReadHeavy(overrides: Partial<PostgresJsOptions> = {}): PoolPreset {
  return preset(
    {
      max: 20,
      idle_timeout: 60,
      max_lifetime: 30 * 60,
      connect_timeout: 10,
      prepare: true,
      ...overrides,
      connection: { application_name: 'bookgen-read-heavy', ...overrides.connection },
    },
    { statement_timeout: 5000, idle_in_transaction_session_timeout: 10_000 },
    [
      'max 20: reads are short and many; postgres.js opens connections lazily, so an idle app holds few.',
      'statement_timeout 5 s: a runaway read fails fast instead of holding a connection; raise it per transaction for reports (SET LOCAL statement_timeout).',
      'idle_in_transaction_session_timeout 10 s: a forgotten transaction cannot pin a connection and block vacuum.',
      'idle_timeout 60 s, max_lifetime 30 min: keep warm connections, but recycle them so a replica failover rebalances.',
      'prepare true: postgres.js prepares its own sql`` queries; drizzle prepares only queries built with .prepare(name). Behind PgBouncer in transaction mode (before 1.21) pass { prepare: false }.',
      'Timeouts are role settings (roleSql), not startup parameters: PgBouncer refuses startup parameters other than application_name and a few more. Without a pooler you may send them at connect: connection: { ...options.connection, ...settings }.',
    ],
  )
}

/**
 * Driver options for write-heavy work: a smaller pool (writes contend on locks and WAL), longer
 * statement timeouts for batches, a lock timeout so writers do not queue forever.
 */
export function optimizeForWriteHeavy(overrides: Partial<PostgresJsOptions> = {}): PoolPreset {
  return preset(
    {
      max: 10,
      idle_timeout: 30,
      max_lifetime: 30 * 60,
      connect_timeout: 10,
      prepare: true,
      ...overrides,
      connection: { application_name: 'bookgen-write-heavy', ...overrides.connection },
    },
    { statement_timeout: 60_000, lock_timeout: 5000, idle_in_transaction_session_timeout: 60_000 },
    [
      'max 10: more concurrent writers mostly add lock and WAL contention; batch instead (batchInsert/batchUpdate).',
      'statement_timeout 60 s: big batches need time; lock_timeout 5 s: a writer blocked behind a lock fails fast instead of piling up.',
      'idle_in_transaction_session_timeout 60 s: long batch transactions are fine, abandoned ones are not.',
      'Not set on purpose: synchronous_commit=off would be faster but can lose the last commits on a crash; set it per transaction only where that is acceptable.',
      'Timeouts are role settings (roleSql), not startup parameters, so they pass PgBouncer; a role has one set, so give read-heavy and write-heavy work a role each.',
    ],
  )
}

function preset(
  options: PostgresJsOptions,
  settings: Record<string, number>,
  notes: string[],
): PoolPreset {
  return {
    options,
    settings,
    roleSql: Object.entries(settings).map(
      ([name, value]) => `alter role current_user set ${name} = ${value}`,
    ),
    notes,
  }
}
