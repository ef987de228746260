import { getTableColumns, is } from 'drizzle-orm'
import { type PgColumn, PgTable } from 'drizzle-orm/pg-core'
import { DbOptimizerError } from './dbOptimizerError.js'

/** What batch operations need to know about one column. @internal */
export interface ColumnInfo {
  /** Property name in the drizzle table (the key rows use). */
  readonly key: string
  /** Column name in the database. */
  readonly name: string
  readonly column: PgColumn
  /** Type to cast a text value to, or undefined when the column cannot travel as text[] (arrays). */
  readonly castType: string | undefined
}

/** @internal */
export interface TableInfo {
  readonly table: PgTable
  readonly columns: ReadonlyMap<string, ColumnInfo>
  readonly primaryKey: ColumnInfo | undefined
}

const infos = new WeakMap<PgTable, TableInfo>()
const SAFE_TYPE =
  /^[a-z_][a-z0-9_]*(?: [a-z_][a-z0-9_]*)*(?:\(\s*\d+(?:\s*,\s*\d+)?\s*\))?(?: with(?:out)? time zone)?$/i
const SERIALS: Record<string, string> = {
  serial: 'integer',
  bigserial: 'bigint',
  smallserial: 'smallint',
}

/** Validates a drizzle table and describes its columns. @internal */
export function tableInfo(table: unknown, argument = 'table'): TableInfo {
  if (!is(table, PgTable)) {
    throw new DbOptimizerError(
      'INVALID_TABLE',
      `${argument} must be a drizzle pgTable, got ${table === null ? 'null' : typeof table}`,
    )
  }
  let info = infos.get(table)
  if (info !== undefined) return info
  const columns = new Map<string, ColumnInfo>()
  let primaryKey: ColumnInfo | undefined
  let primaries = 0
  for (const [key, column] of Object.entries(getTableColumns(table) as Record<string, PgColumn>)) {
    const sqlType = column.getSQLType()
    const type = SERIALS[sqlType] ?? sqlType
    const entry: ColumnInfo = {
      key,
      name: column.name,
      column,
      castType: SAFE_TYPE.test(type) ? type : undefined,
    }
    columns.set(key, entry)
    if (column.primary) {
      primaryKey = entry
      primaries++
    }
  }
  info = { table, columns, primaryKey: primaries === 1 ? primaryKey : undefined }
  infos.set(table, info)
  return info
}

/** The driver value of a column value, as the text PostgreSQL would parse. @internal */
export function toText(column: PgColumn, value: unknown): string | null {
  if (value === null || value === undefined) return null
  const v = column.mapToDriverValue(value)
  if (v === null || v === undefined) return null
  switch (typeof v) {
    case 'string':
      return v
    case 'number':
    case 'bigint':
      return String(v)
    case 'boolean':
      return v ? 'true' : 'false'
    default:
      if (v instanceof Date) return v.toISOString()
      if (v instanceof Uint8Array)
        return `\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`
      return JSON.stringify(v)
  }
}

/** Rows affected by a statement, from either driver's result. @internal */
export function affectedRows(result: unknown): number {
  // biome-ignore lint/suspicious/noExplicitAny: both drivers' result shapes
  const r = result as any
  if (typeof r?.count === 'number') return r.count
  if (typeof r?.affectedRows === 'number') return r.affectedRows
  return Array.isArray(r?.rows) ? r.rows.length : 0
}

/** Rows of either driver's result. @internal */
export function resultRows<T>(result: unknown): T[] {
  // biome-ignore lint/suspicious/noExplicitAny: both drivers' result shapes
  const r = result as any
  return (Array.isArray(r) ? r : (r?.rows ?? [])) as T[]
}
