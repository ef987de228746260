import { checkPositiveInteger } from './batchRunner.js'
import { instrument } from './instrumentation.js'
import type { AnyPgDatabase, DriverName } from './types.js'

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
   * 100, 3 of which are reserved for superusers).
   * @default 97
   */
  serverLimit?: number
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

const DEFAULTS = { targetConcurrency: 10, serverLimit: 97 } as const

/** Pool status and sizing advice for postgres.js (which has no public pool API) and PGlite. */
export class ConnectionPool {
  private constructor() {}

  /** Connections configured, open, in use and idle, and statements waiting, right now. */
  static getPoolStatus(db: AnyPgDatabase): PoolStatus {
    const inst = instrument(db)
    const pool = inst.pool
    if (inst.driver === 'pglite') {
      const closed = inst.rawClient.closed === true
      const inUse = pool.inflight.size > 0 ? 1 : 0
      return {
        driver: 'pglite',
        max: 1,
        open: closed ? 0 : 1,
        inUse,
        idle: closed ? 0 : 1 - inUse,
        waiting: Math.max(0, pool.inflight.size - 1),
        peakInFlight: pool.peakInflight,
      }
    }
    const max = Number(inst.rawClient.options?.max ?? 10)
    const busy = new Set<number>()
    let waiting = 0
    for (const query of pool.inflight) {
      const pid = query.state?.pid
      if (typeof pid === 'number') {
        busy.add(pid)
        pool.backends.add(pid)
      } else waiting++
    }
    const open = Math.min(max, Math.max(busy.size, pool.backends.size - pool.closed))
    return {
      driver: 'postgres-js',
      max,
      open,
      inUse: busy.size,
      idle: open - busy.size,
      waiting,
      peakInFlight: pool.peakInflight,
    }
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
    const serverLimit = options.serverLimit ?? DEFAULTS.serverLimit
    checkPositiveInteger('options.serverLimit', serverLimit)
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
        `Capped at the server's budget of ${serverLimit} connections; beyond it, queue in the application or add a pooler (PgBouncer).`,
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
