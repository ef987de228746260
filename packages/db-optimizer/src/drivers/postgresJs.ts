import { performance } from 'node:perf_hooks'
import type { PoolStatus } from '../connectionPool.js'
import type { Instrumentation } from '../instrumentation.js'
import type { AnyPgDatabase } from '../types.js'
import { type Any, type Driver, loadModule } from './driver.js'

/** drizzle over postgres.js (`drizzle-orm/postgres-js`). @internal */
export const postgresJs: Driver = {
  name: 'postgres-js',

  detect(client) {
    return typeof client === 'function' && typeof (client as Any).unsafe === 'function'
  },

  wrap(client, inst) {
    const options = client.options
    if (options !== undefined) {
      const previous = options.onclose
      options.onclose = (id: number) => {
        inst.pool.closed++
        if (typeof previous === 'function') previous(id)
      }
    }
    return wrapSql(client, inst, { savepoints: 0 })
  },

  async open(url, options) {
    const postgres = (
      await loadModule<{ default: (url: string, options?: object) => Any }>('postgres', url)
    ).default
    const { drizzle } = await loadModule<{ drizzle: (client: unknown, config?: object) => Any }>(
      'drizzle-orm/postgres-js',
      url,
    )
    const client = postgres(url ?? '', { onnotice: () => {}, ...options.postgres })
    const db = drizzle(
      client,
      options.schema === undefined ? {} : { schema: options.schema },
    ) as AnyPgDatabase
    let closing: Promise<void> | undefined
    const close = () => {
      closing ??= client.end({ timeout: 5 }) as Promise<void>
      return closing
    }
    return { db, client, close }
  },

  poolStatus(inst) {
    const pool = inst.pool
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
    const status: PoolStatus = {
      driver: 'postgres-js',
      max,
      open,
      inUse: busy.size,
      idle: open - busy.size,
      waiting,
      peakInFlight: pool.peakInflight,
    }
    return status
  },
}

/**
 * The `sql` drizzle sees: `unsafe` (every statement drizzle sends) timed from hand-over to
 * settlement; `begin` and `savepoint` timed around the callback, because postgres.js sends
 * BEGIN, COMMIT, ROLLBACK and SAVEPOINT itself, out of reach of `unsafe`.
 */
function wrapSql(sql: Any, inst: Instrumentation, tx: { savepoints: number }): Any {
  const pool = inst.pool
  const unsafe = (text: string, args?: Any, options?: Any) => {
    const span = inst.currentSpan()
    const scope = inst.captureScope()
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
    const mode = typeof rest[0] === 'string' && rest[0] !== '' ? ` ${rest[0]}` : ''
    const inner = { savepoints: 0 }
    return inst.timeAround(
      { open: `begin${mode}`, close: 'commit', undo: 'rollback' },
      (body) => sql.begin(...rest, body),
      (txSql: Any) => fn(wrapSql(txSql, inst, inner)),
    )
  }
  const savepoint = (...args: Any[]) => {
    const fn = args[args.length - 1]
    const named = args.length > 1 && typeof args[0] === 'string' ? `_${args[0]}` : ''
    const name = `s${tx.savepoints++}${named}`
    return inst.timeAround(
      // postgres.js releases savepoints at COMMIT, never on their own
      { open: `savepoint ${name}`, close: undefined, undo: `rollback to ${name}` },
      (body) => sql.savepoint(...args.slice(0, -1), body),
      (txSql: Any) => fn(wrapSql(txSql, inst, tx)),
    )
  }
  const proxy = new Proxy(sql, {
    get(target, property) {
      if (property === 'unsafe') return unsafe
      if (property === 'begin') return begin
      if (property === 'savepoint' && typeof target.savepoint === 'function') return savepoint
      return Reflect.get(target, property)
    },
  })
  inst.adopt(proxy)
  return proxy
}
