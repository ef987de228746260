import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks'
import { channel } from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import { DbOptimizerError } from './dbOptimizerError.js'
import type { Any } from './drivers/driver.js'
import { detectDriver } from './drivers/index.js'
import { redactError } from './redactError.js'
import { statementShape } from './statementShape.js'
import type {
  AnyPgDatabase,
  DriverName,
  QueryChannelMessage,
  QueryEvent,
  ReplicaTarget,
} from './types.js'

/** Name of the diagnostics channel every measured statement is published on. */
export const QUERY_CHANNEL = 'bookgen:db:query'

const queryChannel = channel(QUERY_CHANNEL)

/** A `timeQuery` span: its name and how often each statement shape ran inside it. @internal */
export interface Span {
  readonly name: string
  readonly parent: Span | undefined
  readonly shapes: Map<string, number>
  /** Shapes already reported as N+1 by this span or a span inside it. */
  readonly reported: Set<string>
  /** A `timeQuery` span (names its statements) rather than a `trackNPlusOne` scope. */
  readonly named: boolean
  /** Statements inside run in bulk on purpose (the package's own batches): not counted for N+1. */
  readonly exempt?: boolean
}

/** @internal */
export const spanStorage = new AsyncLocalStorage<Span>()

type Listener = (event: QueryEvent) => void

/** Counters kept by the driver wrapper for pool status. @internal */
export interface PoolCounters {
  inflight: Set<Any>
  backends: Set<number>
  closed: number
  peakInflight: number
  peakWaiting: number
}

/** The statements a driver sends by itself around a callback (see {@link Instrumentation.timeAround}). */
interface AroundStatements {
  /** Sent before the callback runs (`begin`, `savepoint s0`). */
  open: string
  /** Sent after the callback resolved (`commit`), if anything. */
  close: string | undefined
  /** Sent after the callback failed (`rollback`, `rollback to s0`). */
  undo: string
}

// BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE repeat once per transaction by nature: never N+1.
const TRANSACTION_CONTROL =
  /^\s*(?:begin|start\s+transaction|commit|end|rollback|abort|savepoint|release|prepare\s+transaction|set\s+transaction)\b/i

/** Per-database driver instrumentation, shared by every optimizer and logger of that db. @internal */
export class Instrumentation {
  readonly driver: DriverName
  readonly rawClient: Any
  readonly listeners = new Set<Listener>()
  /** Listeners (slow-query loggers) that must run in the caller's async context. */
  contextListeners = 0
  /** Which member of a `withReplicas` database this is, once such a database was seen. */
  target: ReplicaTarget | undefined
  readonly pool: PoolCounters = {
    inflight: new Set(),
    backends: new Set(),
    closed: 0,
    peakInflight: 0,
    peakWaiting: 0,
  }

  constructor(driver: DriverName, rawClient: Any) {
    this.driver = driver
    this.rawClient = rawClient
  }

  /** The span the current async context runs in. */
  currentSpan(): Span | undefined {
    return spanStorage.getStore()
  }

  /**
   * postgres.js settles a query from its socket handler, outside the caller's async context, so
   * subscribers that attribute messages through AsyncLocalStorage would see no store. The
   * caller's context is captured when the statement is sent, only while the channel has
   * subscribers or a slow-query logger is on.
   */
  captureScope(): AsyncResource | undefined {
    return queryChannel.hasSubscribers || this.contextListeners > 0
      ? new AsyncResource(QUERY_CHANNEL)
      : undefined
  }

  /** Marks a client wrapped by a driver as belonging to this instrumentation. */
  adopt(wrapped: object): void {
    wrappedClients.set(wrapped, this)
  }

  /**
   * Times the statements a driver sends by itself around `body` (`start(body)` runs it): the
   * opening statement from the call until the body starts, the closing one from the body's end
   * until the driver settles. Both include waiting (for a connection, a lock): time the caller
   * spent, as for any statement.
   */
  timeAround<T>(
    statements: AroundStatements,
    start: (body: (arg: Any) => Promise<unknown>) => Promise<T>,
    body: (arg: Any) => unknown,
  ): Promise<T> {
    const span = this.currentSpan()
    const scope = this.captureScope()
    let from = performance.now()
    let phase: 'open' | 'body' | 'done' | 'failed' = 'open'
    const wrapped = (arg: Any): Promise<unknown> => {
      this.record(statements.open, [], from, undefined, undefined, span, scope)
      phase = 'body'
      let result: unknown
      try {
        result = body(arg)
      } catch (error) {
        phase = 'failed'
        from = performance.now()
        return Promise.reject(error)
      }
      return Promise.resolve(Array.isArray(result) ? Promise.all(result) : result).then(
        (value) => {
          phase = 'done'
          from = performance.now()
          return value
        },
        (error: unknown) => {
          phase = 'failed'
          from = performance.now()
          throw error
        },
      )
    }
    return start(wrapped).then(
      (value) => {
        if (phase === 'done' && statements.close !== undefined) {
          this.record(statements.close, [], from, undefined, undefined, span, scope)
        }
        return value
      },
      (error: unknown) => {
        if (phase === 'open') this.record(statements.open, [], from, undefined, error, span, scope)
        else if (phase === 'done' && statements.close !== undefined) {
          this.record(statements.close, [], from, undefined, error, span, scope)
        } else if (phase === 'failed') {
          this.record(statements.undo, [], from, undefined, undefined, span, scope)
        }
        throw error
      },
    )
  }

  record(
    sql: string,
    params: readonly unknown[],
    start: number,
    rows: number | undefined,
    error: unknown,
    span: Span | undefined,
    scope?: AsyncResource,
  ): void {
    const durationMs = performance.now() - start
    const listening = this.listeners.size > 0
    const publishing = queryChannel.hasSubscribers
    if (span === undefined && !listening && !publishing) return
    const shape = statementShape(sql)
    if (span !== undefined && !TRANSACTION_CONTROL.test(sql) && !exempt(span)) {
      for (let s: Span | undefined = span; s !== undefined; s = s.parent)
        s.shapes.set(shape, (s.shapes.get(shape) ?? 0) + 1)
    }
    if (publishing) {
      const message: QueryChannelMessage = { sql, durationMs }
      const name = spanName(span)
      if (name !== undefined) message.name = name
      if (rows !== undefined) message.rows = rows
      if (error !== undefined) message.error = redactError(error)
      if (this.target !== undefined) message.target = this.target
      if (scope === undefined) queryChannel.publish(message)
      else scope.runInAsyncScope(publish, undefined, message)
    }
    if (listening) {
      const event: QueryEvent = { sql, shape, durationMs, params }
      const name = spanName(span)
      if (name !== undefined) event.name = name
      if (rows !== undefined) event.rows = rows
      if (error !== undefined) event.error = error
      if (this.target !== undefined) event.target = this.target
      if (scope === undefined) dispatch(this.listeners, event)
      else scope.runInAsyncScope(dispatch, undefined, this.listeners, event)
    }
  }
}

/**
 * Runs `fn` with its statements left out of N+1 counting (the package's own batches, which
 * repeat one shape per chunk on purpose). Statistics and the channel still see them. @internal
 */
export function runExempt<T>(fn: () => Promise<T>): Promise<T> {
  const parent = spanStorage.getStore()
  if (parent === undefined) return fn()
  const span: Span = {
    name: parent.name,
    parent,
    shapes: new Map(),
    reported: new Set(),
    named: false,
    exempt: true,
  }
  return spanStorage.run(span, fn)
}

function exempt(span: Span): boolean {
  for (let s: Span | undefined = span; s !== undefined; s = s.parent) if (s.exempt) return true
  return false
}

function spanName(span: Span | undefined): string | undefined {
  let s = span
  while (s !== undefined && !s.named) s = s.parent
  return s?.name
}

function publish(message: QueryChannelMessage): void {
  queryChannel.publish(message)
}

function dispatch(listeners: ReadonlySet<Listener>, event: QueryEvent): void {
  for (const listener of listeners) listener(event)
}

const installed = new WeakMap<object, Instrumentation>()
const wrappedClients = new WeakMap<object, Instrumentation>()

/**
 * Wraps the driver client under a drizzle database so that every statement is timed from the
 * moment drizzle hands it to the driver until the driver settles it. Idempotent. For a
 * `withReplicas` database this is the primary's; see {@link instrumentMembers}.
 * @internal
 */
export function instrument(db: AnyPgDatabase): Instrumentation {
  const replicas = replicasOf(db)
  if (replicas !== undefined) {
    const [primary] = instrumentMembers(db)
    return primary as Instrumentation
  }
  return instrumentOne(db)
}

/**
 * Every member of a database instrumented: `[primary, ...replicas]` for a drizzle `withReplicas`
 * database (labelled `'primary'` / `'replica'`), `[it]` for any other. @internal
 */
export function instrumentMembers(db: AnyPgDatabase): Instrumentation[] {
  const replicas = replicasOf(db)
  if (replicas === undefined) return [instrumentOne(db)]
  const primary = instrumentOne((db as Any).$primary)
  primary.target = 'primary'
  const out = [primary]
  for (const replica of replicas) {
    const inst = instrumentOne(replica)
    inst.target = 'replica'
    out.push(inst)
  }
  return out
}

/** The replicas of a drizzle `withReplicas` database, or undefined for any other database. @internal */
export function replicasOf(db: AnyPgDatabase): AnyPgDatabase[] | undefined {
  const replicas = (db as Any)?.$replicas
  return Array.isArray(replicas) && (db as Any).$primary !== undefined ? replicas : undefined
}

function instrumentOne(db: AnyPgDatabase): Instrumentation {
  const session = sessionOf(db)
  const existing = installed.get(session) ?? installed.get(db)
  if (existing !== undefined) return existing
  const client = session.client
  const wrapped = wrappedClients.get(client)
  if (wrapped !== undefined) return wrapped
  const driver = detectDriver(client)
  if (driver === undefined) {
    throw new DbOptimizerError(
      'UNSUPPORTED_DATABASE',
      `db must be a drizzle database over postgres.js (drizzle-orm/postgres-js) or PGlite (drizzle-orm/pglite), got a driver client of type ${describe(client)}`,
    )
  }
  const inst = new Instrumentation(driver.name, client)
  session.client = driver.wrap(client, inst)
  installed.set(session, inst)
  installed.set(db, inst)
  return inst
}

/**
 * Starts timing a drizzle database you built yourself (over postgres.js or PGlite, or a drizzle
 * `withReplicas` database of them): from now on every statement is published on
 * `bookgen:db:query` (while it has subscribers) and counted for pool status; on a `withReplicas`
 * database every member's statements are, labelled `target: 'primary' | 'replica'`. Databases
 * from `createDatabase` are instrumented already, and `QueryOptimizer`, `enableQueryLogging` and
 * `ConnectionPool` instrument the database they are given. Idempotent; returns `db`. Throws
 * `UNSUPPORTED_DATABASE` for anything else.
 */
export function instrumentDatabase<TDb extends AnyPgDatabase>(db: TDb): TDb {
  instrumentMembers(db)
  return db
}

/** Which driver a drizzle database runs on. @internal */
export function driverOf(db: AnyPgDatabase): DriverName {
  return instrument(db).driver
}

function sessionOf(db: AnyPgDatabase): Any {
  const session = (db as Any)?.session
  if (session === undefined || session === null || session.client === undefined) {
    throw new DbOptimizerError(
      'UNSUPPORTED_DATABASE',
      `db must be a drizzle PostgreSQL database over postgres.js or PGlite, got ${describe(db)}`,
    )
  }
  return session
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value)
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value
}
