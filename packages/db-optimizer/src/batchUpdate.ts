import { eq, type SQL, sql } from 'drizzle-orm'
import type { PgTable } from 'drizzle-orm/pg-core'
import { type BatchProgress, drizzleFailure, runBatches } from './batchRunner.js'
import { DbOptimizerError } from './dbOptimizerError.js'
import {
  affectedRows,
  type ColumnInfo,
  resultRows,
  type TableInfo,
  tableInfo,
  toText,
} from './tableInfo.js'
import type { AnyPgDatabase } from './types.js'
import {
  checkOptionalFunction,
  checkPositiveInteger,
  checkRowArray,
  checkRowObject,
} from './validate.js'
import {
  arrayLiteral,
  type ColumnType,
  driverText,
  encodingOf,
  isSqlValue,
  NOT_PLAIN,
  plainText,
  type WriteColumn,
  withCastTypes,
  writeColumns,
} from './writeColumns.js'

/** Options of `QueryOptimizer.batchUpdate`. */
export interface BatchUpdateOptions<TKey extends string = string> {
  /**
   * Updates per statement. Any size works: the fast path sends one array parameter per column,
   * whatever the number of rows.
   * @default 1000
   */
  batchSize?: number
  /**
   * Column key that identifies the row(s) each update targets; every update must carry it. Keys
   * are compared by PostgreSQL (a UUID in upper case matches its row); a key that is not unique
   * updates every row that has it.
   * @default the table's primary key (when it has exactly one primary-key column)
   */
  key?: TKey
  /**
   * Throw `ROWS_NOT_FOUND` (and roll everything back) when some keys match no row.
   * @default false
   */
  requireAll?: boolean
  /**
   * Called once, after the commit, with the keys that matched no row (when there are any).
   * @default undefined
   */
  onMissing?: (keys: unknown[]) => void
  /**
   * Called after each batch, inside the transaction (a throw rolls everything back).
   * @default undefined
   */
  onProgress?: (progress: BatchProgress) => void | Promise<void>
}

const DEFAULTS = { batchSize: 1000, requireAll: false } as const

/** One update: its key, the columns it sets and which update of its key it is. */
interface Entry {
  /** Input index. */
  first: number
  key: unknown
  set: Record<string, unknown>
  /** 0 for the first update of its key, 1 for the second, … */
  round: number
}

interface Batch {
  entries: Entry[]
  columns: WriteColumn[]
  /** Text arrays (key first) for the unnest statement, or undefined: one drizzle UPDATE per entry. */
  arrays: (string | null)[][] | undefined
  casts: string[]
  /** The unnest statement's select list (c0 the key, c1… the SET values), in drizzle's order. */
  select: string[]
}

/**
 * Updates rows the way `db.update(table).set(values).where(eq(key, value))` would, one update at
 * a time, but in one statement per batch: the n-th updates of all keys share statements (so
 * updates of one key apply in input order), `$onUpdate` columns get their function's value, keys
 * are compared by PostgreSQL and the counts come from what the statements returned (rows changed,
 * each counted once). Updates holding SQL
 * expressions (or values drizzle sends with a type of their own) run as drizzle's own UPDATE.
 * @internal
 */
export async function batchUpdate(
  db: AnyPgDatabase,
  table: PgTable,
  updates: readonly Record<string, unknown>[],
  options: BatchUpdateOptions = {},
): Promise<number> {
  const info = tableInfo(table)
  checkRowArray('updates', updates)
  const batchSize = options.batchSize ?? DEFAULTS.batchSize
  checkPositiveInteger('options.batchSize', batchSize)
  const requireAll = options.requireAll ?? DEFAULTS.requireAll
  if (typeof requireAll !== 'boolean') {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `options.requireAll must be a boolean, got ${typeof requireAll}`,
    )
  }
  checkOptionalFunction('options.onMissing', options.onMissing)
  checkOptionalFunction('options.onProgress', options.onProgress)
  const key = resolveKey(info, options.key)
  if (updates.length === 0) return 0
  const columns = writeColumns(db, info)
  const keyColumn = columns.get(key.key) as WriteColumn

  const occurrences = new Map<string, number>()
  const entries: Entry[] = []
  for (let i = 0; i < updates.length; i++) {
    const update = updates[i]
    checkRowObject('updates', i, update)
    const keyValue = update[key.key]
    if (keyValue === undefined || keyValue === null) {
      throw new DbOptimizerError(
        'MISSING_KEY',
        `updates[${i}] has no value for the key column ${JSON.stringify(key.key)}`,
      )
    }
    let sets = 0
    for (const k in update) {
      if (!columns.has(k)) {
        throw new DbOptimizerError(
          'UNKNOWN_COLUMN',
          `updates[${i}] has key ${JSON.stringify(k)}, which is not a column of the table`,
        )
      }
      if (k !== key.key && update[k] !== undefined) sets++
    }
    if (sets === 0) {
      throw new DbOptimizerError(
        'INVALID_ROWS',
        `updates[${i}] sets no column besides the key ${JSON.stringify(key.key)}`,
      )
    }
    const text = isSqlValue(keyValue) ? `\u0000${i}` : (toText(key.column, keyValue) as string)
    const round = occurrences.get(text) ?? 0
    occurrences.set(text, round + 1)
    const set: Record<string, unknown> = {}
    for (const k in update) {
      const value = update[k]
      if (k !== key.key && value !== undefined) set[k] = value
    }
    entries.push({ first: i, key: keyValue, set, round })
  }

  const onUpdate = [...columns.values()].filter((c) => c.column.onUpdateFn !== undefined)
  const order = new Map([...columns.keys()].map((k, i) => [k, i]))
  return withCastTypes(db, info.table, async (types, cached) => {
    // Round r holds the r-th update of each key: rounds run in order, so updates of one key apply in
    // input order (each checked by PostgreSQL, as one UPDATE each would be), and updates of
    // different keys, which touch different rows, share statements.
    entries.sort((a, b) => a.round - b.round || a.first - b.first)
    const groups = new Map<string, Entry[]>()
    for (const entry of entries) {
      const signature = `${entry.round}\u0000${Object.keys(entry.set).sort().join('\u0000')}`
      let group = groups.get(signature)
      if (group === undefined) {
        group = []
        groups.set(signature, group)
      }
      group.push(entry)
    }

    const batches: Batch[] = []
    const bounds: [number, number][] = []
    for (const group of groups.values()) {
      const setKeys = Object.keys((group[0] as Entry).set)
      const extra = onUpdate.filter((c) => !setKeys.includes(c.key) && c.key !== key.key)
      // drizzle's SET list: the table's columns in order (its parameters are parsed in that order)
      const sent = [...setKeys.map((k) => columns.get(k) as WriteColumn), ...extra].sort(
        (a, b) => (order.get(a.key) as number) - (order.get(b.key) as number),
      )
      for (let s = 0; s < group.length; s += batchSize) {
        const part = group.slice(s, s + batchSize)
        let low = Number.POSITIVE_INFINITY
        let high = 0
        for (const e of part) {
          if (e.first < low) low = e.first
          if (e.first + 1 > high) high = e.first + 1
        }
        bounds.push([low, high])
        batches.push(plan(part, keyColumn, sent, extra, types?.columns))
      }
    }

    const missing: { first: number; key: unknown }[] = []
    const guard = cached ? types?.guard : undefined
    const updated = await runBatches(
      db,
      bounds,
      'batchUpdate',
      options.onProgress,
      async (tx, range, b) => {
        const batch = batches[b] as Batch
        const result =
          batch.arrays === undefined
            ? await oneByOne(tx, info, keyColumn, batch)
            : await unnestUpdate(tx, info, keyColumn, batch, guard)
        if (result.missing.length > 0 && requireAll) {
          throw new DbOptimizerError(
            'ROWS_NOT_FOUND',
            `batchUpdate: ${result.missing.length} key(s) of batch ${b + 1} match no row (see error.missing); nothing was written`,
            { missing: result.missing.map((e) => e.key), batch: b, rowRange: range },
          )
        }
        // later rounds touch rows the first round already counted (or found missing)
        if (batch.entries[0]?.round !== 0) return 0
        missing.push(...result.missing)
        return result.changed
      },
    ).catch(async (error: unknown) => {
      // drizzle's UPDATEs of the batch, one by one, name the update and the error drizzle
      // reports; not for a stale cached type (the guard's 22012, withCastTypes' to handle) nor
      // for a batch that ran as drizzle's UPDATEs already
      const b = error instanceof DbOptimizerError ? error.batch : undefined
      if (b === undefined || batches[b]?.arrays === undefined) throw error
      if (guard !== undefined && (error as DbOptimizerError).sqlState === '22012') throw error
      throw await drizzleFailure(db, error, 'batchUpdate', bounds.length, async (tx) => {
        for (const entry of (batches[b] as Batch).entries)
          await tx
            .update(info.table)
            .set(entry.set as never)
            .where(eq(keyColumn.column, entry.key))
      })
    })
    if (missing.length > 0 && options.onMissing !== undefined) {
      missing.sort((a, b) => a.first - b.first)
      options.onMissing(missing.map((e) => e.key))
    }
    return updated
  })
}

function resolveKey(info: TableInfo, key: string | undefined): ColumnInfo {
  if (key === undefined) {
    if (info.primaryKey === undefined) {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        'options.key is required: the table has no single-column primary key',
      )
    }
    return info.primaryKey
  }
  const column = info.columns.get(key)
  if (column === undefined) {
    throw new DbOptimizerError(
      'UNKNOWN_COLUMN',
      `options.key ${JSON.stringify(key)} is not a column of the table`,
    )
  }
  return column
}

/** Decides how a batch travels: text arrays for unnest when every value is plain. */
function plan(
  entries: Entry[],
  key: WriteColumn,
  sent: WriteColumn[],
  extra: WriteColumn[],
  types: ReadonlyMap<string, ColumnType> | undefined,
): Batch {
  const oneByOne: Batch = { entries, columns: sent, arrays: undefined, casts: [], select: [] }
  if (types === undefined) return oneByOne
  const casts: string[] = []
  const assigns: ColumnType[] = []
  for (const c of [key, ...sent]) {
    const t = types.get(c.name)
    if (t === undefined || t.assign === undefined) return oneByOne
    casts.push(t.cast)
    assigns.push(t)
  }
  // drizzle calls each $onUpdate function once per UPDATE statement it builds, i.e. once per update
  const values = entries.map((e) => {
    if (extra.length === 0) return e.set
    const row = { ...e.set }
    for (const c of extra) row[c.key] = (c.column.onUpdateFn as () => unknown)()
    return row
  })
  const arrays: (string | null)[][] = [new Array(entries.length)]
  for (let i = 0; i < entries.length; i++) {
    const text = plainText(key.column, casts[0] as string, (entries[i] as Entry).key)
    if (text === NOT_PLAIN || text === null)
      return { ...oneByOne, entries: withValues(entries, values) }
    ;(arrays[0] as (string | null)[])[i] = text
  }
  for (let c = 0; c < sent.length; c++) {
    const col = sent[c] as WriteColumn
    const array: (string | null)[] = new Array(entries.length)
    const encoding = encodingOf(col.column)
    const cast = casts[c + 1] as string
    for (let i = 0; i < entries.length; i++) {
      const value = (values[i] as Record<string, unknown>)[col.key]
      const text = driverText(encoding, col.column, cast, value)
      if (text === NOT_PLAIN) return { ...oneByOne, entries: withValues(entries, values) }
      array[i] = text
    }
    arrays.push(array)
  }
  // Every value is converted as drizzle's UPDATE converts it, matched row or not, and in its
  // order: the parameters are parsed at bind time (the SET values in the table's column order,
  // then the key), then the planner applies the modifiers (in the table's column order, attnum)
  // while it folds the SET list, whether a row matches or not. A modified column is parsed first
  // as `p<i>` (unused), then fitted to its modifier as `c<i>`.
  const select: string[] = []
  for (let i = 0; i < sent.length; i++) {
    const t = assigns[i + 1] as ColumnType
    select.push(`u.c${i + 1}::${t.cast} as ${t.modified ? 'p' : 'c'}${i + 1}`)
  }
  select.push(`u.c0::${casts[0]} as c0`)
  const modified = sent
    .map((_, i) => i + 1)
    .filter((i) => (assigns[i] as ColumnType).modified)
    .sort((a, b) => (assigns[a] as ColumnType).position - (assigns[b] as ColumnType).position)
  for (const i of modified) {
    const assign = (assigns[i] as ColumnType).assign as (value: string) => string
    select.push(`${assign(`u.c${i}`)} as c${i}`)
  }
  return { entries, columns: sent, arrays, casts, select }
}

function withValues(entries: Entry[], values: Record<string, unknown>[]): Entry[] {
  return entries.map((e, i) => ({ ...e, set: values[i] as Record<string, unknown> }))
}

interface BatchResult {
  changed: number
  missing: Entry[]
}

async function unnestUpdate(
  tx: AnyPgDatabase,
  info: TableInfo,
  key: WriteColumn,
  batch: Batch,
  guard: string | undefined,
): Promise<BatchResult> {
  const arrays = batch.arrays as (string | null)[][]
  const n = batch.columns.length
  const aliases = Array.from({ length: n + 1 }, (_, i) => `c${i}`)
  const select = sql.raw(batch.select.join(', '))
  const set = sql.raw(batch.columns.map((c, i) => `${c.quoted} = v.c${i + 1}`).join(', '))
  const params = sql.join(
    arrays.map((a) => sql`${sql.param(arrayLiteral(a, 0, a.length))}::text[]`),
    sql`, `,
  )
  const query: SQL = sql`with u as (select ${select}, (u.ord)::int as ord from unnest(${params}) with ordinality as u(${sql.raw(aliases.join(', '))}, ord)${sql.raw(guard === undefined ? '' : ` where 1 / (${guard})::int = 1`)}), v as (select distinct on (c0) * from u order by c0, ord desc), w as (update ${info.table} set ${set} from v where ${info.table}.${sql.raw(key.quoted)} = v.c0 returning v.c0) select (select count(*) from w)::int as changed, coalesce((select array_agg(u.ord) from u where not exists (select 1 from w where w.c0 = u.c0)), '{}') as missing`
  const [row] = resultRows<{ changed: number; missing: number[] | string }>(await tx.execute(query))
  const ords = parseIntArray(row?.missing)
  return {
    changed: Number(row?.changed ?? 0),
    missing: ords.map((o) => batch.entries[o - 1] as Entry),
  }
}

async function oneByOne(
  tx: AnyPgDatabase,
  info: TableInfo,
  key: WriteColumn,
  batch: Batch,
): Promise<BatchResult> {
  let changed = 0
  const missing: Entry[] = []
  for (const entry of batch.entries) {
    const set: Record<string, unknown> = {}
    for (const c of batch.columns) if (entry.set[c.key] !== undefined) set[c.key] = entry.set[c.key]
    const result = await tx
      .update(info.table)
      .set(set as never)
      .where(eq(key.column, entry.key))
    const n = affectedRows(result)
    changed += n
    if (n === 0) missing.push(entry)
  }
  return { changed, missing }
}

function parseIntArray(value: unknown): number[] {
  if (Array.isArray(value)) return value.map(Number)
  if (typeof value === 'string') {
    const inner = value.replace(/^\{|\}$/g, '')
    return inner === '' ? [] : inner.split(',').map(Number)
  }
  return []
}
