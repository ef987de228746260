import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks'
import { channel } from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import { DbOptimizerError } from './dbOptimizerError.js'
import { statementShape } from './statementShape.js'
import type { AnyPgDatabase, DriverName, QueryChannelMessage, QueryEvent } from './types.js'

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
}

/** @internal */
export const spanStorage = new AsyncLocalStorage<Span>()

type Listener = (event: QueryEvent) => void

// biome-ignore lint/suspicious/noExplicitAny: driver clients are untyped here on purpose
type Any = any

/** Counters kept by the driver wrapper for pool status. @internal */
export interface PoolCounters {
  inflight: Set<Any>
  backends: Set<number>
  closed: number
  peakInflight: number
  peakWaiting: number
}

/** Per-database driver instrumentation, shared by every optimizer and logger of that db. @internal */
export class Instrumentation {
  readonly driver: DriverName
  readonly rawClient: Any
  readonly listeners = new Set<Listener>()
  /** Listeners (slow-query loggers) that must run in the caller's async context. */
  contextListeners = 0
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
    for (let s = span; s !== undefined; s = s.parent)
      s.shapes.set(shape, (s.shapes.get(shape) ?? 0) + 1)
    if (publishing) {
      const message: QueryChannelMessage = { sql, durationMs }
      const name = spanName(span)
      if (name !== undefined) message.name = name
      if (rows !== undefined) message.rows = rows
      if (error !== undefined) message.error = error
      if (scope === undefined) queryChannel.publish(message)
      else scope.runInAsyncScope(publish, undefined, message)
    }
    if (listening) {
      const event: QueryEvent = { sql, shape, durationMs, params }
      const name = spanName(span)
      if (name !== undefined) event.name = name
      if (rows !== undefined) event.rows = rows
      if (error !== undefined) event.error = error
      if (scope === undefined) dispatch(this.listeners, event)
      else scope.runInAsyncScope(dispatch, undefined, this.listeners, event)
    }
  }
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

/**
 * postgres.js settles a query from its socket handler, outside the caller's async context, so
 * subscribers that attribute messages through AsyncLocalStorage would see no store. The caller's
 * context is captured when the statement is sent, only while the channel has subscribers or a
 * slow-query logger is on.
 */
function captureScope(inst: Instrumentation): AsyncResource | undefined {
  return queryChannel.hasSubscribers || inst.contextListeners > 0
    ? new AsyncResource(QUERY_CHANNEL)
    : undefined
}

const installed = new WeakMap<object, Instrumentation>()
const wrappedClients = new WeakMap<object, Instrumentation>()

/**
 * Wraps the driver client under a drizzle database so that every statement is timed from the
 * moment drizzle hands it to the driver until the driver settles it. Idempotent.
 * @internal
 */
export function instrument(db: AnyPgDatabase): Instrumentation {
  const session = sessionOf(db)
  const existing = installed.get(session) ?? installed.get(db)
  if (existing !== undefined) return existing
  const client = session.client
  const wrapped = wrappedClients.get(client)
  if (wrapped !== undefined) return wrapped
  let inst: Instrumentation
  if (isPostgresJs(client)) {
    inst = new Instrumentation('postgres-js', client)
    session.client = wrapPostgresJs(client, inst)
    const options = client.options
    if (options !== undefined) {
      const previous = options.onclose
      options.onclose = (id: number) => {
        inst.pool.closed++
        if (typeof previous === 'function') previous(id)
      }
    }
  } else if (isPglite(client)) {
    inst = new Instrumentation('pglite', client)
    session.client = wrapPglite(client, inst)
  } else {
    throw new DbOptimizerError(
      'UNSUPPORTED_DATABASE',
      `db must be a drizzle database over postgres.js (drizzle-orm/postgres-js) or PGlite (drizzle-orm/pglite), got a driver client of type ${describe(client)}`,
    )
  }
  installed.set(session, inst)
  installed.set(db, inst)
  return inst
}

/**
 * Starts timing a drizzle database you built yourself (over postgres.js or PGlite): from now on
 * every statement is published on `bookgen:db:query` (while it has subscribers) and counted for
 * pool status. Databases from `createDatabase` are instrumented already, and `QueryOptimizer`,
 * `enableQueryLogging` and `ConnectionPool` instrument the database they are given. Idempotent;
 * returns `db`. Throws `UNSUPPORTED_DATABASE` for anything else.
 */
export function instrumentDatabase<TDb extends AnyPgDatabase>(db: TDb): TDb {
  instrument(db)
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

function isPostgresJs(client: Any): boolean {
  return typeof client === 'function' && typeof client.unsafe === 'function'
}

function isPglite(client: Any): boolean {
  return (
    client !== null &&
    typeof client === 'object' &&
    typeof client.query === 'function' &&
    typeof client.transaction === 'function'
  )
}

function wrapPostgresJs(sql: Any, inst: Instrumentation): Any {
  const pool = inst.pool
  const unsafe = (text: string, args?: Any, options?: Any) => {
    const span = spanStorage.getStore()
    const scope = captureScope(inst)
    const start = performance.now()
    const query = args === undefined ? sql.unsafe(text) : sql.unsafe(text, args, options)
    const params: readonly unknown[] = Array.isArray(args) ? args : []
    const resolve = query.resolve
    const reject = query.reject
    pool.inflight.add(query)
    if (pool.inflight.size > pool.peakInflight) pool.peakInflight = pool.inflight.size
    query.resolve = (result: Any) => {
      pool.inflight.delete(query)
      const pid = query.state?.pid
      if (typeof pid === 'number') pool.backends.add(pid)
      inst.record(
        text,
        params,
        start,
        typeof result?.count === 'number' ? result.count : undefined,
        undefined,
        span,
        scope,
      )
      return resolve(result)
    }
    query.reject = (error: unknown) => {
      pool.inflight.delete(query)
      inst.record(text, params, start, undefined, error, span, scope)
      return reject(error)
    }
    return query
  }
  const begin = (...args: Any[]) => {
    const fn = args[args.length - 1]
    const rest = args.slice(0, -1)
    return sql.begin(...rest, (tx: Any) => fn(wrapPostgresJs(tx, inst)))
  }
  const savepoint = (...args: Any[]) => {
    const fn = args[args.length - 1]
    const rest = args.slice(0, -1)
    return sql.savepoint(...rest, (tx: Any) => fn(wrapPostgresJs(tx, inst)))
  }
  const proxy = new Proxy(sql, {
    get(target, property) {
      if (property === 'unsafe') return unsafe
      if (property === 'begin') return begin
      if (property === 'savepoint' && typeof target.savepoint === 'function') return savepoint
      return Reflect.get(target, property)
    },
  })
  wrappedClients.set(proxy, inst)
  return proxy
}

function wrapPglite(client: Any, inst: Instrumentation): Any {
  const query = (text: string, params?: Any, options?: Any) => {
    const span = spanStorage.getStore()
    const start = performance.now()
    const values: readonly unknown[] = Array.isArray(params) ? params : []
    const token = {}
    const pool = inst.pool
    pool.inflight.add(token)
    if (pool.inflight.size > pool.peakInflight) pool.peakInflight = pool.inflight.size
    return client.query(text, params, options).then(
      (result: Any) => {
        pool.inflight.delete(token)
        const count = result?.rows?.length
        inst.record(
          text,
          values,
          start,
          count > 0 ? count : (result?.affectedRows ?? count),
          undefined,
          span,
        )
        return result
      },
      (error: unknown) => {
        pool.inflight.delete(token)
        inst.record(text, values, start, undefined, error, span)
        throw error
      },
    )
  }
  const transaction = (fn: Any) => client.transaction((tx: Any) => fn(wrapPglite(tx, inst)))
  const bound = new Map<PropertyKey, unknown>()
  const proxy = new Proxy(client, {
    get(target, property) {
      if (property === 'query') return query
      if (property === 'transaction') return transaction
      const value = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      let fn = bound.get(property)
      if (fn === undefined) {
        fn = value.bind(target)
        bound.set(property, fn)
      }
      return fn
    },
  })
  wrappedClients.set(proxy, inst)
  return proxy
}
