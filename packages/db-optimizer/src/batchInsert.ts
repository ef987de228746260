import { type SQL, sql } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import { checkNonNegative, checkPositiveInteger, runBatches } from './batchRunner.js'
import { DbOptimizerError } from './dbOptimizerError.js'
import { checkRowArray, checkRowObject } from './rowChecks.js'
import { type ColumnInfo, isSql, type TableInfo, tableInfo, toText } from './tableInfo.js'
import type { AnyPgDatabase } from './types.js'

/** PostgreSQL's limit of bind parameters in one statement (a 16-bit count in the protocol). */
export const MAX_BIND_PARAMETERS = 65_535

/** Progress of a batch operation, reported after each batch (inside the transaction). */
export interface BatchProgress {
  /** Zero-based index of the batch that just finished. */
  batch: number
  /** How many batches there are. */
  batches: number
  /** `[start, end)` indexes of the rows the batch held. */
  rowRange: readonly [number, number]
  /** Rows written so far (inside the still-open transaction). */
  done: number
}

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
   * the statement past 65,535 bind parameters (counted from each row's real shape).
   * @default 1000 on the VALUES path, 10000 on the unnest fast path
   */
  batchSize?: number
  /**
   * `'values'`: multi-row `INSERT … VALUES` built by drizzle (handles SQL values, per-row shapes,
   * defaults). `'unnest'`: `INSERT … SELECT * FROM unnest($1::text[], …)`, one array parameter per
   * column (rows must share one set of keys and hold plain values). `'auto'` takes unnest when
   * the rows allow it and there are at least `fastPathThreshold` of them.
   * @default 'auto'
   */
  method?: 'auto' | 'values' | 'unnest'
  /**
   * Row count from which `'auto'` takes the unnest fast path.
   * @default 100
   */
  fastPathThreshold?: number
  /**
   * Upsert: on a conflict of `target`, update (or keep) the existing row. The input is first
   * de-duplicated by the conflict key (the last occurrence wins, at the first one's position), since
   * PostgreSQL refuses to update one row twice in a statement. Row ranges in errors then refer to
   * the de-duplicated rows.
   * @default undefined (no ON CONFLICT clause: a duplicate fails the whole call)
   */
  onConflict?: OnConflictOptions<TKey>
  /**
   * Called after each batch, inside the transaction (a throw rolls everything back).
   * @default undefined
   */
  onProgress?: (progress: BatchProgress) => void | Promise<void>
}

const DEFAULT_VALUES_BATCH = 1000
const DEFAULT_UNNEST_BATCH = 10_000
const DEFAULTS = { method: 'auto', fastPathThreshold: 100 } as const

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
  if (method !== 'auto' && method !== 'values' && method !== 'unnest') {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `options.method must be 'auto', 'values' or 'unnest', got ${String(method)}`,
    )
  }
  const threshold = options.fastPathThreshold ?? DEFAULTS.fastPathThreshold
  checkNonNegative('options.fastPathThreshold', threshold)

  const shape = inspectRows(info, rows)
  const conflict =
    options.onConflict === undefined
      ? undefined
      : resolveConflict(info, options.onConflict, shape.keys)
  const input = conflict === undefined ? rows : dedupe(rows, conflict.target)
  if (input.length === 0) return 0

  const unnestable =
    shape.uniform && !shape.hasSql && shape.columns.every((c) => c.castType !== undefined)
  if (method === 'unnest' && !unnestable) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      "options.method 'unnest' needs rows that share one set of keys, hold no SQL expressions and no array columns",
    )
  }
  const useUnnest =
    unnestable && (method === 'unnest' || (method === 'auto' && input.length >= threshold))

  if (useUnnest) {
    const size = options.batchSize ?? DEFAULT_UNNEST_BATCH
    const bounds: [number, number][] = []
    for (let start = 0; start < input.length; start += size) {
      bounds.push([start, Math.min(input.length, start + size)])
    }
    const defaulted = defaultFnColumns(info, shape.keys)
    const columns = [...shape.columns, ...defaulted]
    return runBatches(db, bounds, 'batchInsert', options.onProgress, (tx, [start, end]) =>
      tx.execute(unnestInsert(info, columns, input, start, end, defaulted.length, conflict)),
    )
  }

  const size = options.batchSize ?? DEFAULT_VALUES_BATCH
  const bounds = valuesBatches(info, input, size)
  return runBatches(db, bounds, 'batchInsert', options.onProgress, (tx, [start, end]) => {
    const query = tx.insert(info.table).values(input.slice(start, end) as never)
    if (conflict === undefined) return query
    if (conflict.action === 'nothing')
      return query.onConflictDoNothing({ target: conflict.target.map((c) => c.column) })
    return query.onConflictDoUpdate({
      target: conflict.target.map((c) => c.column),
      set: Object.fromEntries(
        conflict.set.map((c) => [c.key, sql.raw(`excluded.${quote(c.name)}`)]),
      ),
    })
  })
}

interface RowShape {
  keys: Set<string>
  columns: ColumnInfo[]
  uniform: boolean
  hasSql: boolean
}

function inspectRows(info: TableInfo, rows: readonly Record<string, unknown>[]): RowShape {
  let first: string[] | undefined
  const firstSet = new Set<string>()
  const all = new Set<string>()
  let uniform = true
  let hasSql = false
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]
    checkRowObject('rows', i, row)
    let present = 0
    for (const key in row) {
      if (!info.columns.has(key)) {
        throw new DbOptimizerError(
          'UNKNOWN_COLUMN',
          `rows[${i}] has key ${JSON.stringify(key)}, which is not a column of the table`,
        )
      }
      const value = row[key]
      if (value === undefined) continue
      present++
      if (!hasSql && typeof value === 'object' && value !== null && isSql(value)) hasSql = true
      if (first === undefined) firstSet.add(key)
      else if (uniform && !firstSet.has(key)) uniform = false
      all.add(key)
    }
    if (first === undefined) first = [...firstSet]
    else if (present !== first.length) uniform = false
  }
  const keys = uniform ? firstSet : all
  return {
    keys,
    columns: [...keys].map((k) => info.columns.get(k) as ColumnInfo),
    uniform,
    hasSql,
  }
}

function defaultFnColumns(info: TableInfo, present: Set<string>): ColumnInfo[] {
  return [...info.columns.values()].filter(
    (c) => !present.has(c.key) && c.column.defaultFn !== undefined,
  )
}

interface Conflict {
  target: ColumnInfo[]
  action: 'update' | 'nothing'
  set: ColumnInfo[]
}

function resolveConflict(info: TableInfo, options: OnConflictOptions, keys: Set<string>): Conflict {
  const raw = Array.isArray(options.target) ? options.target : [options.target]
  if (raw.length === 0) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      'options.onConflict.target must name at least one column',
    )
  }
  const target = raw.map((t) => columnRef(info, t, 'options.onConflict.target'))
  const action = options.action ?? 'update'
  if (action !== 'update' && action !== 'nothing') {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `options.onConflict.action must be 'update' or 'nothing', got ${String(action)}`,
    )
  }
  const set =
    options.set === undefined
      ? [...keys]
          .filter((k) => !target.some((t) => t.key === k))
          .map((k) => info.columns.get(k) as ColumnInfo)
      : options.set.map((k) => columnRef(info, k, 'options.onConflict.set'))
  if (action === 'update' && set.length === 0) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      'options.onConflict has no column to update; use action: "nothing"',
    )
  }
  return { target, action, set }
}

function columnRef(info: TableInfo, ref: unknown, argument: string): ColumnInfo {
  if (typeof ref === 'string') {
    const column = info.columns.get(ref)
    if (column !== undefined) return column
  } else {
    for (const column of info.columns.values()) if (column.column === ref) return column
  }
  throw new DbOptimizerError(
    'UNKNOWN_COLUMN',
    `${argument}: ${typeof ref === 'string' ? JSON.stringify(ref) : 'that column'} is not a column of the table`,
  )
}

function dedupe(
  rows: readonly Record<string, unknown>[],
  target: ColumnInfo[],
): Record<string, unknown>[] {
  const byKey = new Map<unknown, number>()
  const out: Record<string, unknown>[] = []
  for (const row of rows) {
    let key: unknown
    let hasNull = false
    if (target.length === 1) {
      key = row[(target[0] as ColumnInfo).key]
      hasNull = key === null || key === undefined
      if (!hasNull) key = toText((target[0] as ColumnInfo).column, key)
    } else {
      const parts: (string | null)[] = []
      for (const t of target) {
        const v = row[t.key]
        if (v === null || v === undefined) hasNull = true
        parts.push(toText(t.column, v))
      }
      key = JSON.stringify(parts)
    }
    const at = hasNull ? undefined : byKey.get(key)
    if (at === undefined) {
      if (!hasNull) byKey.set(key, out.length)
      out.push(row)
    } else {
      out[at] = row
    }
  }
  return out
}

function valuesBatches(
  info: TableInfo,
  rows: readonly Record<string, unknown>[],
  size: number,
): [number, number][] {
  const fnColumns = [...info.columns.values()].filter((c) => c.column.defaultFn !== undefined)
  const bounds: [number, number][] = []
  let start = 0
  let params = 0
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Record<string, unknown>
    let count = 0
    for (const key in row) {
      const value = row[key]
      if (value !== undefined && !(typeof value === 'object' && value !== null && isSql(value)))
        count++
    }
    for (const c of fnColumns) if (row[c.key] === undefined) count++
    if (i > start && (i - start >= size || params + count > MAX_BIND_PARAMETERS)) {
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
  columns: ColumnInfo[],
  rows: readonly Record<string, unknown>[],
  start: number,
  end: number,
  defaulted: number,
  conflict: Conflict | undefined,
): SQL {
  const plain = columns.length - defaulted
  const arrays: (string | null)[][] = columns.map(() => new Array(end - start))
  for (let i = start; i < end; i++) {
    const row = rows[i] as Record<string, unknown>
    for (let c = 0; c < columns.length; c++) {
      const col = columns[c] as ColumnInfo
      const value = c < plain ? row[col.key] : (col.column.defaultFn as () => unknown)()
      ;(arrays[c] as (string | null)[])[i - start] = toText(col.column, value)
    }
  }
  const names = sql.raw(columns.map((c) => quote(c.name)).join(', '))
  const casts = sql.raw(columns.map((c) => `${quote(c.name)}::${c.castType}`).join(', '))
  const params = sql.join(
    arrays.map((a) => sql`${sql.param(a)}::text[]`),
    sql`, `,
  )
  const query = sql`insert into ${info.table} (${names}) select ${casts} from unnest(${params}) as u(${names})`
  if (conflict === undefined) return query
  const target = sql.raw(conflict.target.map((c) => quote(c.name)).join(', '))
  if (conflict.action === 'nothing') return sql`${query} on conflict (${target}) do nothing`
  const set = sql.raw(
    conflict.set.map((c) => `${quote(c.name)} = excluded.${quote(c.name)}`).join(', '),
  )
  return sql`${query} on conflict (${target}) do update set ${set}`
}

/** Quotes an identifier for PostgreSQL. @internal */
export function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}
