import { type SQL, sql } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import {
  type BatchProgress,
  bindParameterLimit,
  drizzleFailure,
  fixedBatches,
  isDataError,
  runBatches,
} from './batchRunner.js'
import { copyChunks, copyInto } from './copyInsert.js'
import { DbOptimizerError } from './dbOptimizerError.js'
import { instrument } from './instrumentation.js'
import { affectedRows, type TableInfo, tableInfo, toText } from './tableInfo.js'
import type { AnyPgDatabase } from './types.js'
import {
  checkNonNegative,
  checkOneOf,
  checkOptionalFunction,
  checkPositiveInteger,
  checkRowArray,
  checkRowObject,
} from './validate.js'
import {
  arrayLiteral,
  type CastTypes,
  encodingOf,
  isoText,
  isPlainDate,
  isSqlValue,
  NOT_PLAIN,
  parameterCount,
  plainText,
  qualifiedName,
  type WriteColumn,
  withCastTypes,
  writeColumns,
} from './writeColumns.js'

/** Upsert behaviour of {@link BatchInsertOptions.onConflict}. */
export interface OnConflictOptions<TKey extends string = string> {
  /** Column key(s) (or drizzle columns) of the unique constraint or primary key. */
  target: TKey | PgColumn | readonly (TKey | PgColumn)[]
  /**
   * `'update'` overwrites the existing row with the incoming values; `'nothing'` keeps it.
   * @default 'update'
   */
  action?: 'update' | 'nothing'
  /**
   * Column keys to overwrite on conflict (action `'update'`).
   * @default every inserted column that is not part of `target`
   */
  set?: readonly TKey[]
}

/** Options of `QueryOptimizer.batchInsert`. */
export interface BatchInsertOptions<TKey extends string = string> {
  /**
   * Rows per statement. On the `VALUES` path a batch is also cut wherever the next row would take
   * the statement past the driver's bind-parameter limit (65,533 on postgres.js, 65,535 on
   * PGlite), counting every value drizzle sends (defaults from `$defaultFn`/`$onUpdate` included).
   * @default 1000 on the VALUES path, 10000 on the unnest fast path, 100000 with COPY
   */
  batchSize?: number
  /**
   * `'values'`: multi-row `INSERT … VALUES` built by drizzle (handles SQL values, per-row shapes,
   * defaults). `'unnest'`: `INSERT … SELECT … FROM unnest($1::text[], …)`, one array parameter per
   * column (rows must share one set of keys and hold plain values; each value is converted by
   * the column's own type, exactly as drizzle's parameter would be). `'auto'` takes unnest when the
   * rows allow it and there are at least `fastPathThreshold` of them, else `'values'`. `'copy'`:
   * on postgres.js, `COPY … FROM STDIN` in text format (one statement per batch, inside the same
   * transaction), with every value converted exactly as on the unnest path and encoded before
   * anything is sent; the rows it writes and the errors it raises are the same. It falls back to
   * `'auto'` (from the first row on) where COPY cannot be used: on PGlite, with `onConflict`, when
   * rows do not share one set of keys or hold values that are not plain. When a COPY fails on the
   * data (any SQLSTATE but a lost connection, exhausted resources or an internal error), it is
   * rolled back and the rows go the unnest way, which raises drizzle's error (COPY checks a row
   * field by field, drizzle parses every value first). COPY ignores rewrite rules
   * (`CREATE RULE … ON INSERT`); tables with row-level security refuse it, and their rows are then
   * written the unnest way.
   * @default 'auto'
   */
  method?: 'auto' | 'values' | 'unnest' | 'copy'
  /**
   * Row count from which `'auto'` takes the unnest fast path.
   * @default 100
   */
  fastPathThreshold?: number
  /**
   * Upsert. Action `'update'`: on a conflict of `target`, overwrite the existing row; the input is
   * first de-duplicated by the conflict key (the last occurrence wins, at the first one's position),
   * since PostgreSQL refuses to update one row twice in a statement; row ranges in errors then refer
   * to the de-duplicated rows. Action `'nothing'`: rows whose key exists (in the table, or earlier in
   * the input) are skipped, as PostgreSQL does; the count returned is the rows actually inserted.
   * @default undefined (no ON CONFLICT clause: a duplicate fails the whole call)
   */
  onConflict?: OnConflictOptions<TKey>
  /**
   * Called after each batch, inside the transaction (a throw rolls everything back).
   * @default undefined
   */
  onProgress?: (progress: BatchProgress) => void | Promise<void>
}

const DEFAULTS = {
  method: 'auto',
  fastPathThreshold: 100,
  valuesBatchSize: 1000,
  unnestBatchSize: 10_000,
  copyBatchSize: 100_000,
} as const
const METHODS = ['auto', 'values', 'unnest', 'copy'] as const

/** @internal */
export async function batchInsert(
  db: AnyPgDatabase,
  table: PgTable,
  rows: readonly Record<string, unknown>[],
  options: BatchInsertOptions = {},
): Promise<number> {
  const info = tableInfo(table)
  checkRowArray('rows', rows)
  if (options.batchSize !== undefined) checkPositiveInteger('options.batchSize', options.batchSize)
  const method = options.method ?? DEFAULTS.method
  checkOneOf('options.method', method, METHODS)
  const threshold = options.fastPathThreshold ?? DEFAULTS.fastPathThreshold
  checkNonNegative('options.fastPathThreshold', threshold)
  checkOptionalFunction('options.onProgress', options.onProgress)

  const columns = writeColumns(db, info)
  const prepared = prepareRows(columns, rows)
  const conflict =
    options.onConflict === undefined
      ? undefined
      : resolveConflict(info, columns, options.onConflict, prepared.keys)
  const input =
    conflict?.action === 'update' ? dedupe(prepared.rows, conflict.target) : prepared.rows
  if (input.length === 0) return 0

  const driver = instrument(db).driver
  const wantFast =
    method === 'unnest' || method === 'copy' || (method === 'auto' && input.length >= threshold)
  const values = () => {
    if (method === 'unnest') {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        "options.method 'unnest' needs rows that share one set of keys (at least one) and hold plain values (no SQL expressions, no values drizzle sends with a type of their own)",
      )
    }
    return valuesInsert(db, info, columns, input, conflict, options)
  }
  if (!wantFast || !prepared.uniform || prepared.keys.length === 0) return values()

  // drizzle's order (the table's columns): drizzle binds (and so parses) a row's values in it
  const order = new Map([...columns.keys()].map((k, i) => [k, i]))
  const sent = prepared.keys
    .map((k) => columns.get(k) as WriteColumn)
    .sort((a, b) => (order.get(a.key) as number) - (order.get(b.key) as number))
  // rows [s, e) through drizzle's own statements, in the running transaction: a batch of the fast
  // path that holds a value drizzle must send. Writing it in place, rather than rolling back and
  // redoing everything through drizzle, keeps the rows' order of evaluation, and so the values a
  // sequence (serial, identity) hands out: nextval() is not rolled back.
  const viaValues = async (tx: AnyPgDatabase, s: number, e: number) => {
    const batch = input.slice(s, e)
    const limit = bindParameterLimit(driver)
    let written = 0
    for (const [from, to] of valuesBatches(db, columns, batch, DEFAULTS.valuesBatchSize, limit))
      written += await valuesStatement(tx, info, conflict, batch.slice(from, to))
    return written
  }
  return withCastTypes(db, info.table, async (types, cached) => {
    const casts = types === undefined ? undefined : castsOf(types, sent)
    if (casts === undefined) return values()
    if (method === 'copy' && driver === 'postgres-js' && conflict === undefined) {
      const bounds = fixedBatches(input.length, options.batchSize ?? DEFAULTS.copyBatchSize)
      const statement = `copy ${qualifiedName(info.table)} (${sent.map((c) => c.quoted).join(', ')}) from stdin`
      try {
        return await runBatches(
          db,
          bounds,
          'batchInsert',
          options.onProgress,
          async (tx, [start, end]) => {
            // a row with a value COPY text cannot carry: the rows before it by COPY, the rest of
            // the batch through drizzle (in order, so sequences hand out what drizzle's would)
            const stop = { at: end }
            await copyInto(tx, statement, copyChunks(sent, casts, input, start, end, stop))
            if (stop.at < end) await viaValues(tx, stop.at, end)
            return end - start
          },
        )
      } catch (error) {
        // A database error: COPY checks a row field by field, each value parsed and fitted to its
        // column's modifier at once, where drizzle's statement parses every value (at bind time)
        // before it fits any or checks a constraint; the COPY was rolled back, and the unnest
        // path below reports the error drizzle reports (or writes the rows, where only COPY
        // was refused).
        if (!(error instanceof DbOptimizerError) || !isDataError(error)) throw error
      }
    }
    const size = options.batchSize ?? DEFAULTS.unnestBatchSize
    const bounds = fixedBatches(input.length, size)
    // each batch's values are converted while the previous batch runs on the server; the first
    // batch's before anything is sent (a value that must go through drizzle there: the VALUES
    // path at once; in a later batch: that batch through drizzle, in the same transaction, or
    // with method 'unnest', everything rolled back and INVALID_ARGUMENT)
    const literalsOf = (range: readonly [number, number] | undefined) => {
      if (range === undefined) return undefined
      const bare: boolean[] = []
      const arrays = textArrays(sent, casts, input.slice(range[0], range[1]), bare)
      return arrays === undefined
        ? NOT_PLAIN
        : arrays.map((a, c) => arrayLiteral(a, 0, a.length, bare[c]))
    }
    let ready = literalsOf(bounds[0])
    if (ready === NOT_PLAIN || ready === undefined) return values()
    const guard = cached ? types?.guard : undefined
    // a modifier to apply (varchar(n), numeric(p,s), …): parse every value of a row first
    const fenced = sent.some((c) => types?.columns.get(c.name)?.modified === true)
    const statement = unnestInsert(info, sent, casts, conflict, guard, fenced)
    try {
      return await runBatches(
        db,
        bounds,
        'batchInsert',
        options.onProgress,
        async (tx, range, b) => {
          const literals = ready
          if (literals === undefined || (literals === NOT_PLAIN && method === 'unnest'))
            throw new NotPlain()
          if (literals === NOT_PLAIN) {
            const written = await viaValues(tx, range[0], range[1])
            ready = literalsOf(bounds[b + 1])
            return written
          }
          const running = tx.execute(statement(literals)).then(affectedRows)
          running.catch(() => {})
          // once the statement is on its way (drizzle and the driver send it in microtasks)
          await new Promise((resolve) => setImmediate(resolve))
          ready = literalsOf(bounds[b + 1])
          return await running
        },
      )
    } catch (error) {
      if (error instanceof DbOptimizerError && error.cause instanceof NotPlain) return values()
      // a stale cached type (the guard's 22012) is withCastTypes' to handle
      if (guard !== undefined && error instanceof DbOptimizerError && error.sqlState === '22012')
        throw error
      throw await drizzleFailure(db, error, 'batchInsert', bounds.length, async (tx, [s, e]) => {
        const limit = bindParameterLimit(instrument(db).driver)
        const batch = input.slice(s, e)
        for (const [from, to] of valuesBatches(db, columns, batch, DEFAULTS.valuesBatchSize, limit))
          await valuesStatement(tx, info, conflict, batch.slice(from, to))
      })
    }
  })
}

function valuesInsert(
  db: AnyPgDatabase,
  info: TableInfo,
  columns: ReadonlyMap<string, WriteColumn>,
  input: readonly Record<string, unknown>[],
  conflict: Conflict | undefined,
  options: BatchInsertOptions,
): Promise<number> {
  const size = options.batchSize ?? DEFAULTS.valuesBatchSize
  const limit = bindParameterLimit(instrument(db).driver)
  const bounds = valuesBatches(db, columns, input, size, limit)
  return runBatches(db, bounds, 'batchInsert', options.onProgress, (tx, [start, end]) =>
    valuesStatement(tx, info, conflict, input.slice(start, end)),
  )
}

/** drizzle's own multi-row INSERT of `rows` (with the conflict clause), on `tx`. */
async function valuesStatement(
  tx: AnyPgDatabase,
  info: TableInfo,
  conflict: Conflict | undefined,
  rows: readonly Record<string, unknown>[],
): Promise<number> {
  const query = tx.insert(info.table).values(rows as never)
  if (conflict === undefined) return affectedRows(await query)
  if (conflict.action === 'nothing')
    return affectedRows(
      await query.onConflictDoNothing({ target: conflict.target.map((c) => c.column) }),
    )
  return affectedRows(
    await query.onConflictDoUpdate({
      target: conflict.target.map((c) => c.column),
      set: Object.fromEntries(conflict.set.map((c) => [c.key, sql.raw(`excluded.${c.quoted}`)])),
    }),
  )
}

/** The cast type of each column, or undefined when the database does not know one of them. */
function castsOf(types: CastTypes, sent: readonly WriteColumn[]): string[] | undefined {
  const casts: string[] = []
  for (const c of sent) {
    const type = types.columns.get(c.name)
    if (type === undefined) return undefined
    casts.push(type.cast)
  }
  return casts
}

/** @internal */
export interface PreparedRows {
  /** Rows with every `$defaultFn` / `$onUpdate` value drizzle would compute filled in, once. */
  rows: Record<string, unknown>[]
  /** Keys present (defined) in the rows; in every row when `uniform`. */
  keys: string[]
  uniform: boolean
}

/**
 * Checks every row and computes what drizzle computes for a missing value: `$defaultFn()`, or
 * `$onUpdate()` for a column without a default. Each function runs once per row, whichever path
 * then writes the row. Values of columns drizzle never inserts (generated, identity always) are
 * dropped, as drizzle drops them.
 * @internal
 */
export function prepareRows(
  columns: ReadonlyMap<string, WriteColumn>,
  rows: readonly Record<string, unknown>[],
): PreparedRows {
  const fill = [...columns.values()].filter(
    (c) =>
      c.insertable &&
      (c.column.defaultFn !== undefined ||
        (!c.column.default && c.column.onUpdateFn !== undefined)),
  )
  const out: Record<string, unknown>[] = new Array(rows.length)
  let firstKeys: Set<string> | undefined
  let firstOrder: string[] = []
  let uniform = true
  // the keys of every row, kept only once the rows stop sharing one set of keys (until then they
  // are `firstKeys`)
  let all: Set<string> | undefined
  const lose = (keys: Iterable<string>) => {
    uniform = false
    all = new Set(firstKeys)
    for (const key of keys) all.add(key)
  }
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]
    checkRowObject('rows', i, row)
    let changed = fill.length > 0
    // one pass over the keys: each is a column, and the row keeps the first row's keys
    let present = 0
    let foreign = false
    for (const key in row) {
      // a key at the first row's position is a column that is inserted (checked on that row)
      if (firstOrder[present] === key) {
        if (row[key] === undefined) changed = true
        present++
        continue
      }
      const column = columns.get(key)
      if (column === undefined) {
        throw new DbOptimizerError(
          'UNKNOWN_COLUMN',
          `rows[${i}] has key ${JSON.stringify(key)}, which is not a column of the table`,
        )
      }
      if (row[key] === undefined || !column.insertable) changed = true
      // rows built alike list their keys in one order: a comparison, the set only when it differs
      if (firstKeys !== undefined && firstOrder[present] !== key && !firstKeys.has(key))
        foreign = true
      present++
    }
    if (!changed) {
      // nothing to fill or drop: the row itself, uncopied
      if (firstKeys === undefined) {
        firstOrder = Object.keys(row)
        firstKeys = new Set(firstOrder)
      } else if (uniform && (foreign || present !== firstKeys.size)) lose(Object.keys(row))
      else if (!uniform) for (const key in row) (all as Set<string>).add(key)
      out[i] = row
      continue
    }
    const copy: Record<string, unknown> = {}
    for (const key in row) {
      const column = columns.get(key) as WriteColumn
      const value = row[key]
      if (value === undefined || !column.insertable) continue
      copy[key] = value
    }
    for (const c of fill) {
      if (copy[c.key] !== undefined) continue
      copy[c.key] =
        c.column.defaultFn !== undefined
          ? c.column.defaultFn()
          : (c.column.onUpdateFn as () => unknown)()
    }
    present = 0
    foreign = false
    for (const key in copy) {
      if (copy[key] === undefined) {
        delete copy[key]
        continue
      }
      present++
      if (firstKeys !== undefined && !firstKeys.has(key)) foreign = true
    }
    if (firstKeys === undefined) {
      firstOrder = Object.keys(copy)
      firstKeys = new Set(firstOrder)
    } else if (uniform && (foreign || present !== firstKeys.size)) lose(Object.keys(copy))
    else if (!uniform) for (const key in copy) (all as Set<string>).add(key)
    out[i] = copy
  }
  return {
    rows: out,
    keys: [...((uniform ? firstKeys : all) ?? [])],
    uniform,
  }
}

/** Thrown inside the transaction when a later batch holds a value that must go through drizzle. */
class NotPlain extends Error {
  constructor() {
    super('a value must go through drizzle; the unnest batches are rolled back')
    this.name = 'NotPlain'
  }
}

/**
 * Text arrays, one per column, or undefined when some value must go through drizzle: each value is
 * {@link driverText}'s, with its common cases done inline. When `bare` is given, `bare[c]` tells
 * whether every text of column `c` is a number's, a boolean's or an ISO time's (or NULL): texts
 * an array literal may hold unquoted ({@link arrayLiteral}).
 * @internal
 */
export function textArrays(
  columns: readonly WriteColumn[],
  casts: readonly string[],
  rows: readonly Record<string, unknown>[],
  bare?: boolean[],
): (string | null)[][] | undefined {
  const arrays: (string | null)[][] = new Array(columns.length)
  for (let c = 0; c < columns.length; c++) {
    const col = columns[c] as WriteColumn
    const cast = casts[c] as string
    const key = col.key
    const array: (string | null)[] = new Array(rows.length)
    const encoding = encodingOf(col.column)
    const asIs = encoding === 'as-is'
    const iso = encoding === 'iso'
    const booleans = asIs && cast === 'boolean'
    let unquoted = true
    for (let i = 0; i < rows.length; i++) {
      const value = (rows[i] as Record<string, unknown>)[key]
      if (asIs && typeof value === 'string') {
        array[i] = value
        unquoted = false
      } else if (asIs && typeof value === 'number') array[i] = String(value)
      else if (booleans && typeof value === 'boolean') array[i] = value ? 'true' : 'false'
      else if (iso && isPlainDate(value)) array[i] = isoText(value)
      else {
        const text = plainText(col.column, cast, value)
        if (text === NOT_PLAIN) return undefined
        if (text !== null) unquoted = false
        array[i] = text
      }
    }
    arrays[c] = array
    if (bare !== undefined) bare[c] = unquoted
  }
  return arrays
}

interface Conflict {
  target: WriteColumn[]
  action: 'update' | 'nothing'
  set: WriteColumn[]
}

function resolveConflict(
  info: TableInfo,
  columns: ReadonlyMap<string, WriteColumn>,
  options: OnConflictOptions,
  keys: readonly string[],
): Conflict {
  if (options === null || typeof options !== 'object') {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `options.onConflict must be an object, got ${options === null ? 'null' : typeof options}`,
    )
  }
  const raw = Array.isArray(options.target) ? options.target : [options.target]
  if (raw.length === 0) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      'options.onConflict.target must name at least one column',
    )
  }
  const target = raw.map((t) => columnRef(info, columns, t, 'options.onConflict.target'))
  const action = options.action ?? 'update'
  checkOneOf('options.onConflict.action', action, ['update', 'nothing'] as const)
  const set =
    options.set === undefined
      ? keys
          .filter((k) => !target.some((t) => t.key === k))
          .map((k) => columns.get(k) as WriteColumn)
      : options.set.map((k) => columnRef(info, columns, k, 'options.onConflict.set'))
  if (action === 'update' && set.length === 0) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      'options.onConflict has no column to update; use action: "nothing"',
    )
  }
  return { target, action, set }
}

function columnRef(
  info: TableInfo,
  columns: ReadonlyMap<string, WriteColumn>,
  ref: unknown,
  argument: string,
): WriteColumn {
  if (typeof ref === 'string') {
    const column = columns.get(ref)
    if (column !== undefined) return column
  } else {
    for (const column of info.columns.values())
      if (column.column === ref) return columns.get(column.key) as WriteColumn
  }
  throw new DbOptimizerError(
    'UNKNOWN_COLUMN',
    `${argument}: ${typeof ref === 'string' ? JSON.stringify(ref) : 'that column'} is not a column of the table`,
  )
}

function dedupe(
  rows: readonly Record<string, unknown>[],
  target: readonly WriteColumn[],
): Record<string, unknown>[] {
  const byKey = new Map<string, number>()
  const out: Record<string, unknown>[] = []
  for (const row of rows) {
    const parts: (string | null)[] = []
    let hasNull = false
    for (const t of target) {
      const v = row[t.key]
      if (v === null || v === undefined || isSqlValue(v)) hasNull = true
      else parts.push(toText(t.column, v))
    }
    const key = hasNull ? undefined : JSON.stringify(parts)
    const at = key === undefined ? undefined : byKey.get(key)
    if (at === undefined) {
      if (key !== undefined) byKey.set(key, out.length)
      out.push(row)
    } else {
      out[at] = row
    }
  }
  return out
}

function valuesBatches(
  db: AnyPgDatabase,
  columns: ReadonlyMap<string, WriteColumn>,
  rows: readonly Record<string, unknown>[],
  size: number,
  limit: number,
): [number, number][] {
  const bounds: [number, number][] = []
  let start = 0
  let params = 0
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Record<string, unknown>
    let count = 0
    for (const key in row)
      count += parameterCount(db, (columns.get(key) as WriteColumn).column, row[key])
    if (i > start && (i - start >= size || params + count > limit)) {
      bounds.push([start, i])
      start = i
      params = 0
    }
    params += count
  }
  bounds.push([start, rows.length])
  return bounds
}

function unnestInsert(
  info: TableInfo,
  columns: readonly WriteColumn[],
  casts: readonly string[],
  conflict: Conflict | undefined,
  guard: string | undefined,
  fenced: boolean,
): (arrays: readonly string[]) => SQL {
  const names = sql.raw(columns.map((c) => c.quoted).join(', '))
  const select = sql.raw(columns.map((_, i) => `u.c${i}::${casts[i]} as c${i}`).join(', '))
  const outer = sql.raw(columns.map((_, i) => `s.c${i}`).join(', '))
  // a one-time filter: fails (22012) before any value is cast when the cached types went stale
  const where = sql.raw(guard === undefined ? '' : ` where 1 / (${guard})::int = 1`)
  let tail: SQL | undefined
  if (conflict !== undefined) {
    const target = sql.raw(conflict.target.map((c) => c.quoted).join(', '))
    tail =
      conflict.action === 'nothing'
        ? sql` on conflict (${target}) do nothing`
        : sql` on conflict (${target}) do update set ${sql.raw(conflict.set.map((c) => `${c.quoted} = excluded.${c.quoted}`).join(', '))}`
  }
  return (arrays) => {
    // unnest() in a select list runs the arrays in step, element by element (cheaper than
    // unnest(a, b, …) in FROM, which first stores its rows)
    const unnests = sql.join(
      arrays.map((a, i) => sql`unnest(${sql.param(a)}::text[]) as ${sql.raw(`c${i}`)}`),
      sql`, `,
    )
    // offset 0 keeps the subquery apart: a row's values are all parsed (22P02, 22003, as drizzle's
    // parameters are at bind time) before the column modifiers are applied (22001, 22026); with
    // no modifier to apply, the casts go straight into the INSERT's select list (one node less)
    if (!fenced)
      return sql`insert into ${info.table} (${names}) select ${select} from (select ${unnests}) as u${where}${tail}`
    return sql`insert into ${info.table} (${names}) select ${outer} from (select ${select} from (select ${unnests}) as u${where} offset 0) as s${tail}`
  }
}
