import { type SQL, sql } from 'drizzle-orm'
import type { PgTable } from 'drizzle-orm/pg-core'
import { type BatchProgress, MAX_BIND_PARAMETERS, quote } from './batchInsert.js'
import { checkPositiveInteger, runBatches } from './batchRunner.js'
import { DbOptimizerError } from './dbOptimizerError.js'
import { checkRowArray, checkRowObject } from './rowChecks.js'
import {
  type ColumnInfo,
  isSql,
  resultRows,
  type TableInfo,
  tableInfo,
  toText,
} from './tableInfo.js'
import type { AnyPgDatabase } from './types.js'

/** Options of `QueryOptimizer.batchUpdate`. */
export interface BatchUpdateOptions<TKey extends string = string> {
  /**
   * Updates per statement (also cut so a statement stays under 65,535 bind parameters).
   * @default 1000
   */
  batchSize?: number
  /**
   * Column key that identifies the row each update targets; every update must carry it.
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

const DEFAULT_BATCH = 1000

interface Batch {
  columns: ColumnInfo[]
  rows: Record<string, unknown>[]
  keys: (string | null)[]
  inputs: unknown[]
  unnest: boolean
}

/** @internal */
export async function batchUpdate(
  db: AnyPgDatabase,
  table: PgTable,
  updates: readonly Record<string, unknown>[],
  options: BatchUpdateOptions = {},
): Promise<number> {
  const info = tableInfo(table)
  checkRowArray('updates', updates)
  const batchSize = options.batchSize ?? DEFAULT_BATCH
  checkPositiveInteger('options.batchSize', batchSize)
  const key = resolveKey(info, options.key)
  if (updates.length === 0) return 0

  const groups = new Map<
    string,
    {
      columns: ColumnInfo[]
      byKey: Map<string | null, number>
      rows: Record<string, unknown>[]
      first: number[]
      sql: boolean
    }
  >()
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
    const set: string[] = []
    let hasSql = false
    for (const k in update) {
      if (!info.columns.has(k)) {
        throw new DbOptimizerError(
          'UNKNOWN_COLUMN',
          `updates[${i}] has key ${JSON.stringify(k)}, which is not a column of the table`,
        )
      }
      const value = update[k]
      if (k === key.key || value === undefined) continue
      set.push(k)
      if (typeof value === 'object' && value !== null && isSql(value)) hasSql = true
    }
    if (set.length === 0) {
      throw new DbOptimizerError(
        'INVALID_ROWS',
        `updates[${i}] sets no column besides the key ${JSON.stringify(key.key)}`,
      )
    }
    for (const c of info.columns.values()) {
      if (c.column.onUpdateFn !== undefined && update[c.key] === undefined && c.key !== key.key)
        set.push(c.key)
    }
    set.sort()
    const signature = set.join('\u0000')
    let group = groups.get(signature)
    if (group === undefined) {
      group = {
        columns: set.map((k) => info.columns.get(k) as ColumnInfo),
        byKey: new Map(),
        rows: [],
        first: [],
        sql: false,
      }
      groups.set(signature, group)
    }
    if (hasSql) group.sql = true
    const keyText = toText(key.column, keyValue)
    const at = group.byKey.get(keyText)
    if (at === undefined) {
      group.byKey.set(keyText, group.rows.length)
      group.rows.push(update)
      group.first.push(i)
    } else {
      group.rows[at] = update
    }
  }

  const batches: Batch[] = []
  const bounds: [number, number][] = []
  for (const group of groups.values()) {
    const unnest =
      !group.sql &&
      key.castType !== undefined &&
      group.columns.every((c) => c.castType !== undefined)
    const size = unnest
      ? batchSize
      : Math.min(batchSize, Math.floor(MAX_BIND_PARAMETERS / (group.columns.length + 1)))
    for (let s = 0; s < group.rows.length; s += size) {
      const rows = group.rows.slice(s, s + size)
      const first = group.first.slice(s, s + size)
      batches.push({
        columns: group.columns,
        rows,
        keys: rows.map((r) => toText(key.column, r[key.key])),
        inputs: rows.map((r) => r[key.key]),
        unnest,
      })
      bounds.push([Math.min(...first), Math.max(...first) + 1])
    }
  }

  const missing: unknown[] = []
  const updated = await runBatches(
    db,
    bounds,
    'batchUpdate',
    options.onProgress,
    async (tx, _range, b) => {
      const batch = batches[b] as Batch
      const result = await tx.execute(
        batch.unnest ? unnestUpdate(info, key, batch) : valuesUpdate(info, key, batch),
      )
      const found = new Set(resultRows<{ __key: string }>(result).map((r) => r.__key))
      const lost: unknown[] = []
      for (let i = 0; i < batch.keys.length; i++) {
        if (!found.has(batch.keys[i] as string)) lost.push(batch.inputs[i])
      }
      if (lost.length > 0 && options.requireAll === true) {
        throw new DbOptimizerError(
          'ROWS_NOT_FOUND',
          `batchUpdate: ${lost.length} key(s) match no row (${lost.slice(0, 10).map(String).join(', ')}${lost.length > 10 ? ', …' : ''}); nothing was written`,
          { missing: lost, batch: b, rowRange: bounds[b] },
        )
      }
      missing.push(...lost)
      return found.size
    },
    (found) => found as number,
  )
  if (missing.length > 0 && options.onMissing !== undefined) options.onMissing(missing)
  return updated
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

function setClause(columns: ColumnInfo[]): SQL {
  return sql.raw(columns.map((c) => `${quote(c.name)} = v.${quote(c.name)}`).join(', '))
}

function unnestUpdate(info: TableInfo, key: ColumnInfo, batch: Batch): SQL {
  const columns = [key, ...batch.columns]
  const arrays = columns.map((c, ci) =>
    ci === 0
      ? batch.keys
      : batch.rows.map((r) =>
          toText(
            c.column,
            r[c.key] === undefined && c.column.onUpdateFn ? c.column.onUpdateFn() : r[c.key],
          ),
        ),
  )
  const names = sql.raw(columns.map((c) => quote(c.name)).join(', '))
  const casts = sql.raw(
    columns.map((c) => `${quote(c.name)}::${c.castType} as ${quote(c.name)}`).join(', '),
  )
  const params = sql.join(
    arrays.map((a) => sql`${sql.param(a)}::text[]`),
    sql`, `,
  )
  const keyName = sql.raw(quote(key.name))
  return sql`update ${info.table} set ${setClause(batch.columns)} from (select ${casts} from unnest(${params}) as u(${names})) as v where ${info.table}.${keyName} = v.${keyName} returning v.${keyName}::text as "__key"`
}

function valuesUpdate(info: TableInfo, key: ColumnInfo, batch: Batch): SQL {
  const columns = [key, ...batch.columns]
  const types = columns.map((c) => {
    const type = c.column.getSQLType()
    return (
      (
        { serial: 'integer', bigserial: 'bigint', smallserial: 'smallint' } as Record<
          string,
          string
        >
      )[type] ?? type
    )
  })
  const rows = batch.rows.map(
    (r) =>
      sql`(${sql.join(
        columns.map((c, ci) => {
          const raw =
            r[c.key] === undefined && c.column.onUpdateFn ? c.column.onUpdateFn() : r[c.key]
          if (typeof raw === 'object' && raw !== null && isSql(raw))
            return sql`(${raw})::${sql.raw(types[ci] as string)}`
          return sql`cast(${sql.param(raw, c.column)} as ${sql.raw(types[ci] as string)})`
        }),
        sql`, `,
      )})`,
  )
  const names = sql.raw(columns.map((c) => quote(c.name)).join(', '))
  const keyName = sql.raw(quote(key.name))
  return sql`update ${info.table} set ${setClause(batch.columns)} from (values ${sql.join(rows, sql`, `)}) as v(${names}) where ${info.table}.${keyName} = v.${keyName} returning v.${keyName}::text as "__key"`
}
