import { performance } from 'node:perf_hooks'
import type { PoolStatus } from '../connectionPool.js'
import { DbOptimizerError } from '../dbOptimizerError.js'
import type { Instrumentation } from '../instrumentation.js'
import type { AnyPgDatabase } from '../types.js'
import { type Any, type Driver, loadModule } from './driver.js'

/** drizzle over PGlite (`drizzle-orm/pglite`), the embedded PostgreSQL. @internal */
export const pglite: Driver = {
  name: 'pglite',

  detect(client) {
    return (
      client !== null &&
      typeof client === 'object' &&
      typeof (client as Any).query === 'function' &&
      typeof (client as Any).transaction === 'function'
    )
  },

  wrap(client, inst) {
    return wrapClient(client, inst)
  },

  async open(dataDir, options) {
    const { PGlite } = await loadModule<{
      PGlite: new (dataDir?: string, options?: object) => Any
    }>('@electric-sql/pglite', dataDir)
    const { drizzle } = await loadModule<{ drizzle: (client: unknown, config?: object) => Any }>(
      'drizzle-orm/pglite',
      dataDir,
    )
    const client = new PGlite(dataDir, options.pglite ?? {})
    await client.waitReady
    const settings = (options.postgres?.connection ?? {}) as Record<string, unknown>
    for (const [name, value] of Object.entries(settings)) {
      if (!/^[a-z_][a-z0-9_.]*$/i.test(name)) {
        throw new DbOptimizerError(
          'INVALID_ARGUMENT',
          `options.postgres.connection has an invalid setting name ${JSON.stringify(name)}`,
        )
      }
      await client.query(`select set_config($1, $2, false)`, [name, String(value)])
    }
    const db = drizzle(
      client,
      options.schema === undefined ? {} : { schema: options.schema },
    ) as AnyPgDatabase
    let closing: Promise<void> | undefined
    const close = () => {
      closing ??= client.closed ? Promise.resolve() : (client.close() as Promise<void>)
      return closing
    }
    return { db, client, close }
  },

  poolStatus(inst) {
    const pool = inst.pool
    const closed = inst.rawClient.closed === true
    const inUse = pool.inflight.size > 0 ? 1 : 0
    const status: PoolStatus = {
      driver: 'pglite',
      max: 1,
      open: closed ? 0 : 1,
      inUse,
      idle: closed ? 0 : 1 - inUse,
      waiting: Math.max(0, pool.inflight.size - 1),
      peakInFlight: pool.peakInflight,
    }
    return status
  },
}

/**
 * The client drizzle sees: `query` (every statement drizzle sends, savepoints included) timed;
 * `transaction` timed around the callback, because PGlite runs BEGIN and COMMIT/ROLLBACK itself.
 */
function wrapClient(client: Any, inst: Instrumentation): Any {
  const query = (text: string, params?: Any, options?: Any) => {
    const span = inst.currentSpan()
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
  const transaction = (fn: Any) =>
    inst.timeAround(
      { open: 'begin', close: 'commit', undo: 'rollback' },
      (body) => client.transaction(body),
      (tx: Any) => fn(wrapClient(tx, inst)),
    )
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
  inst.adopt(proxy)
  return proxy
}
