import { sql } from 'drizzle-orm'
import { DbOptimizerError } from './dbOptimizerError.js'
import { driverNamed } from './drivers/index.js'
import { instrument, instrumentMembers } from './instrumentation.js'
import type { AnyPgDatabase, DriverName } from './types.js'
import { checkPositiveInteger } from './validate.js'

/** A snapshot of a database's connections, as instrumented by this package. */
export interface PoolStatus {
  driver: DriverName
  /** Configured maximum of connections (postgres.js `max`; PGlite: 1). */
  max: number
  /** Connections open now (postgres.js opens them lazily). */
  open: number
  /** Connections running a statement now. */
  inUse: number
  /** Open connections with nothing to do. */
  idle: number
  /** Statements handed to the driver that no connection has taken yet. */
  waiting: number
  /** Most statements in flight at once since instrumentation started. */
  peakInFlight: number
  /**
   * Each replica's status, in `$replicas` order, when `db` is a drizzle `withReplicas` database
   * (the fields above are then the primary's).
   */
  replicas?: PoolStatus[]
}

/** Options of {@link ConnectionPool.getServerStatus}. */
export interface ServerStatusOptions {
  /**
   * URL of PgBouncer's admin console (`postgres://user@host:port/pgbouncer`) to read `SHOW POOLS`
   * from; the user must be in the pooler's `admin_users` or `stats_users`. Needs postgres.js.
   * @default undefined (no pooler asked)
   */
  pgbouncerAdminUrl?: string
}

/** Server connections of one database, as `pg_stat_activity` reports them (every client of it). */
export interface ServerBackends {
  /** Backends connected to the current database, of every client and process. */
  total: number
  /** Running a statement now. */
  active: number
  /** Connected with nothing to do. */
  idle: number
  /** Inside a transaction, between statements. */
  idleInTransaction: number
  /** Waiting for a lock or another event. */
  waiting: number
  /** Backends of this application (`application_name` of the asking connection). */
  thisApplication: number
  /** The server's `max_connections`. */
  maxConnections: number
}

/** One row of PgBouncer's `SHOW POOLS` (a database/user pair). */
export interface PgBouncerPool {
  database: string
  user: string
  /** Client connections linked to a server connection or idle with no query. */
  clientsActive: number
  /** Client connections waiting for a server connection. */
  clientsWaiting: number
  /** Server connections linked to a client. */
  serversActive: number
  /** Server connections idle, ready for a client. */
  serversIdle: number
  /** Server connections idle for a while, to be tested before reuse. */
  serversUsed: number
  /** How long the oldest waiting client has waited, seconds. */
  maxWaitSeconds: number
  /** `session`, `transaction` or `statement`. */
  poolMode: string
}

/** The server side of a pool: what the server (and the pooler, when asked) sees. */
export interface ServerStatus {
  /** The client side, as {@link ConnectionPool.getPoolStatus} reports it. */
  client: PoolStatus
  /** `pg_stat_activity` of the current database (PGlite: its one embedded backend). */
  server: ServerBackends
  /** `SHOW POOLS` of the pooler, when `pgbouncerAdminUrl` was given. */
  pooler?: PgBouncerPool[]
}

/** Options of {@link ConnectionPool.optimizePoolSize}. */
export interface OptimizePoolSizeOptions {
  /**
   * How many statements the application wants to run at the same time.
   * @default 10
   */
  targetConcurrency?: number
  /**
   * Connections the server can give this application (PostgreSQL's default `max_connections` is
   * 100, 3 of which are reserved for superusers). Behind PgBouncer, the pooler's
   * `max_client_conn` is the client-side budget instead.
   * @default 97
   */
  serverLimit?: number
  /**
   * How many processes (instances, workers) open a pool like this one against the same server;
   * the budget is shared between them, so each gets `floor(serverLimit / instances)`.
   * @default 1
   */
  instances?: number
}

/** What {@link ConnectionPool.optimizePoolSize} recommends, and why. */
export interface PoolRecommendation {
  driver: DriverName
  currentMax: number
  recommendedMax: number
  action: 'increase' | 'decrease' | 'keep'
  /** Plain-language reasons, in order. */
  reasons: string[]
  /** postgres.js options to apply (`postgres(url, { ...options })`). */
  options: { max: number }
}

const DEFAULTS = { targetConcurrency: 10, serverLimit: 97, instances: 1 } as const

/** Pool status and sizing advice for postgres.js (which has no public pool API) and PGlite. */
export class ConnectionPool {
  private constructor() {}

  /**
   * Connections configured, open, in use and idle, and statements waiting, right now, as this
   * process sees them (client side; behind a pooler these are connections to the pooler). For a
   * `withReplicas` database, the primary's with each replica's under `replicas`. What the server
   * sees: {@link ConnectionPool.getServerStatus}.
   */
  static getPoolStatus(db: AnyPgDatabase): PoolStatus {
    const [primary, ...replicas] = instrumentMembers(db)
    const inst = primary as NonNullable<typeof primary>
    const status = driverNamed(inst.driver).poolStatus(inst)
    if (replicas.length > 0) {
      status.replicas = replicas.map((r) => driverNamed(r.driver).poolStatus(r))
    }
    return status
  }

  /**
   * The server side: backends of the current database by state from `pg_stat_activity` (every
   * process's, not only this one's), and PgBouncer's `SHOW POOLS` when `pgbouncerAdminUrl` is
   * given. Runs one statement on `db` (on a `withReplicas` database, the primary).
   */
  static async getServerStatus(
    db: AnyPgDatabase,
    options: ServerStatusOptions = {},
  ): Promise<ServerStatus> {
    if (options === null || typeof options !== 'object') {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        `options must be an object, got ${String(options)}`,
      )
    }
    const adminUrl = options.pgbouncerAdminUrl
    if (
      adminUrl !== undefined &&
      (typeof adminUrl !== 'string' || !/^postgres(ql)?:\/\//i.test(adminUrl))
    ) {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        `options.pgbouncerAdminUrl must be a postgres:// URL of the pooler's admin console, got ${typeof adminUrl === 'string' ? JSON.stringify(adminUrl.replace(/\/\/[^@/]*@/, '//***@')) : String(adminUrl)}`,
      )
    }
    const client = ConnectionPool.getPoolStatus(db)
    const target = (db as { $primary?: AnyPgDatabase }).$primary ?? db
    instrument(target)
    const result = (await target.execute(sql`select
        count(*)::int as total,
        count(*) filter (where state = 'active')::int as active,
        count(*) filter (where state = 'idle')::int as idle,
        count(*) filter (where state like 'idle in transaction%')::int as idle_in_transaction,
        count(*) filter (where wait_event_type in ('Lock', 'LWLock', 'IO', 'IPC') and state = 'active')::int as waiting,
        count(*) filter (where application_name = current_setting('application_name'))::int as this_application,
        current_setting('max_connections')::int as max_connections
      from pg_stat_activity
      where datname = current_database() and backend_type = 'client backend'`)) as unknown
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Record<
      string,
      number
    >[]
    const row = rows[0] ?? {}
    const status: ServerStatus = {
      client,
      server: {
        total: Number(row.total ?? 0),
        active: Number(row.active ?? 0),
        idle: Number(row.idle ?? 0),
        idleInTransaction: Number(row.idle_in_transaction ?? 0),
        waiting: Number(row.waiting ?? 0),
        thisApplication: Number(row.this_application ?? 0),
        maxConnections: Number(row.max_connections ?? 0),
      },
    }
    if (adminUrl !== undefined) status.pooler = await showPools(adminUrl)
    return status
  }

  /**
   * Recommends a pool size for a target concurrency, from the configured max, what was observed
   * (peak statements in flight, statements waiting) and the server's connection budget.
   */
  static optimizePoolSize(
    db: AnyPgDatabase,
    options: OptimizePoolSizeOptions = {},
  ): PoolRecommendation {
    const target = options.targetConcurrency ?? DEFAULTS.targetConcurrency
    checkPositiveInteger('options.targetConcurrency', target)
    const totalLimit = options.serverLimit ?? DEFAULTS.serverLimit
    checkPositiveInteger('options.serverLimit', totalLimit)
    const instances = options.instances ?? DEFAULTS.instances
    checkPositiveInteger('options.instances', instances)
    if (instances > totalLimit) {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        `options.instances must be at most options.serverLimit (${totalLimit}): each instance needs one connection, got ${instances}`,
      )
    }
    const serverLimit = Math.floor(totalLimit / instances)
    const status = ConnectionPool.getPoolStatus(db)
    if (status.driver === 'pglite') {
      return {
        driver: 'pglite',
        currentMax: 1,
        recommendedMax: 1,
        action: 'keep',
        reasons: [
          'PGlite is an embedded, single-connection PostgreSQL: statements run one after another whatever the pool size.',
          `For ${target} concurrent statements use a PostgreSQL server (postgres:// URL) with max=${Math.min(target, serverLimit)}.`,
        ],
        options: { max: 1 },
      }
    }
    const reasons: string[] = []
    let recommended = target
    reasons.push(
      `One connection per concurrent statement: ${target} for targetConcurrency ${target}.`,
    )
    if (status.peakInFlight > recommended) {
      recommended = status.peakInFlight
      reasons.push(
        `Up to ${status.peakInFlight} statements were in flight at once, above the target; sized for the observed peak.`,
      )
    }
    if (status.waiting > 0) {
      reasons.push(`${status.waiting} statement(s) are waiting for a connection right now.`)
    }
    if (recommended > serverLimit) {
      recommended = serverLimit
      reasons.push(
        instances === 1
          ? `Capped at the server's budget of ${serverLimit} connections; beyond it, queue in the application or add a pooler (PgBouncer).`
          : `Capped at this instance's share of the server's budget: ${totalLimit} connections / ${instances} instances = ${serverLimit}; beyond it, queue in the application or add a pooler (PgBouncer).`,
      )
    }
    let action: PoolRecommendation['action'] = 'keep'
    if (status.max < recommended) {
      action = 'increase'
      reasons.push(
        `max=${status.max} makes statements queue in postgres.js once ${status.max} run at once.`,
      )
    } else if (status.max > recommended * 2) {
      action = 'decrease'
      reasons.push(
        `max=${status.max} is more than twice what is needed; every idle server connection costs memory on the server (several MB each).`,
      )
    } else {
      reasons.push(`max=${status.max} already covers it.`)
    }
    return {
      driver: 'postgres-js',
      currentMax: status.max,
      recommendedMax: action === 'keep' ? status.max : recommended,
      action,
      reasons,
      options: { max: action === 'keep' ? status.max : recommended },
    }
  }
}

async function showPools(adminUrl: string): Promise<PgBouncerPool[]> {
  const postgres = (
    (await import('postgres').catch((error: unknown) => {
      throw new DbOptimizerError(
        'DRIVER_MISSING',
        'options.pgbouncerAdminUrl needs the "postgres" package, which is not installed: npm install postgres',
        { cause: error },
      )
    })) as { default: (url: string, options: object) => AdminClient }
  ).default
  // the admin console speaks only the simple query protocol and has no pg_type to fetch
  const admin = postgres(adminUrl, {
    max: 1,
    prepare: false,
    fetch_types: false,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 1,
  })
  try {
    const rows = await admin.unsafe('SHOW POOLS').simple()
    return rows
      .filter((r) => r.database !== 'pgbouncer')
      .map((r) => ({
        database: String(r.database),
        user: String(r.user),
        clientsActive: Number(r.cl_active ?? 0),
        clientsWaiting: Number(r.cl_waiting ?? 0),
        serversActive: Number(r.sv_active ?? 0),
        serversIdle: Number(r.sv_idle ?? 0),
        serversUsed: Number(r.sv_used ?? 0),
        maxWaitSeconds: Number(r.maxwait ?? 0) + Number(r.maxwait_us ?? 0) / 1e6,
        poolMode: String(r.pool_mode ?? ''),
      }))
  } finally {
    await admin.end({ timeout: 1 })
  }
}

interface AdminClient {
  unsafe(query: string): { simple(): Promise<Record<string, unknown>[]> }
  end(options?: { timeout?: number }): Promise<void>
}
