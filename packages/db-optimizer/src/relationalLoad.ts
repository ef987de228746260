import {
  Column,
  getTableName,
  getTableUniqueName,
  is,
  Many,
  normalizeRelation,
  Param,
  Placeholder,
  type Relation,
  SQL,
  StringChunk,
  type TableRelationalConfig,
} from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import { type ColumnInfo, tableInfo } from './tableInfo.js'
import type { AnyPgDatabase } from './types.js'

type OrderBy = SQL | PgColumn | SQL.Aliased

/** Column types whose JSON value needs no decoding at all (a JSON number, string or boolean). */
const JSON_IDENTITY = new Set([
  'PgSerial',
  'PgSmallSerial',
  'PgInteger',
  'PgSmallInt',
  'PgText',
  'PgVarchar',
  'PgBoolean',
])

/**
 * drizzle column types whose values come back from a JSON document (how drizzle's relational
 * query returns nested rows) exactly as the driver returns them for a plain select: the identity
 * types, and two whose decoder reads the JSON value as it reads the driver's. Everything else
 * (numeric, bigint, json/jsonb, timestamp strings, custom types…) can decode differently, so a
 * load that selects such a child column is not delegated (or not aggregated).
 */
const JSON_EXACT = new Set([...JSON_IDENTITY, 'PgDoublePrecision', 'PgTimestamp'])

/** Whether every column decodes the same from JSON as from the driver. @internal */
export function jsonExact(columns: readonly ColumnInfo[]): boolean {
  for (const c of columns) if (!JSON_EXACT.has(c.column.columnType)) return false
  return true
}

/** The decoder of a JSON value of this column, or undefined when the value is used as it is. @internal */
export function jsonDecoder(info: ColumnInfo): ((value: unknown) => unknown) | undefined {
  if (JSON_IDENTITY.has(info.column.columnType)) return undefined
  const column = info.column
  return (value) => column.mapFromDriverValue(value)
}

/** What a load asks for, in the terms both paths understand. @internal */
export interface RelationalRequest {
  parent: PgTable
  child: PgTable
  reference: ColumnInfo
  foreignKey: PgColumn
  as: string
  parentColumns: readonly ColumnInfo[]
  childColumns: readonly ColumnInfo[]
  where: SQL | undefined
  orderBy: OrderBy | readonly OrderBy[] | undefined
  orderChildrenBy: OrderBy | readonly OrderBy[] | undefined
  limit: number | undefined
}

interface DrizzleInternals {
  _?: {
    schema?: Record<string, TableRelationalConfig>
    tableNamesMap?: Record<string, string>
  }
  query?: Record<string, { findMany(config: unknown): Promise<Record<string, unknown>[]> }>
}

/**
 * The load as ONE drizzle relational query (`db.query.parent.findMany({ with })`), when `db` was
 * made with a schema whose `relations()` declare this parent → children relation, and drizzle
 * returns exactly what the plain path returns: every child column decodes the same from JSON,
 * `where` and the orders name only columns of their own table (drizzle re-aliases them), and
 * `as` is not a parent column. Otherwise undefined (the caller uses its own path). @internal
 */
export function relationalLoad(
  db: AnyPgDatabase,
  request: RelationalRequest,
): (() => Promise<Record<string, unknown>[]>) | undefined {
  const internals = db as unknown as DrizzleInternals
  const schema = internals._?.schema
  const names = internals._?.tableNamesMap
  if (schema === undefined || names === undefined) return undefined
  const tsName = names[getTableUniqueName(request.parent)]
  const config = tsName === undefined ? undefined : schema[tsName]
  const findMany = tsName === undefined ? undefined : internals.query?.[tsName]
  if (config === undefined || findMany === undefined) return undefined
  if (config.columns[request.reference.key] !== request.reference.column) return undefined
  const relationName = findRelation(schema, names, config, request)
  if (relationName === undefined) return undefined
  if (request.parentColumns.length === 0 || request.childColumns.length === 0) return undefined
  if (request.parentColumns.some((c) => c.key === request.as)) return undefined
  if (!jsonExact(request.childColumns)) return undefined
  if (request.where !== undefined && !ownColumnsOnly(request.where, request.parent))
    return undefined
  if (!ordersOwnColumns(request.orderBy, request.parent)) return undefined
  if (!ordersOwnColumns(request.orderChildrenBy, request.child)) return undefined

  const childConfig: Record<string, unknown> = {}
  const childSelection = selection(request.childColumns, request.child)
  if (childSelection !== undefined) childConfig.columns = childSelection
  if (request.orderChildrenBy !== undefined) childConfig.orderBy = request.orderChildrenBy
  const query: Record<string, unknown> = {
    with: { [relationName]: Object.keys(childConfig).length === 0 ? true : childConfig },
  }
  const parentSelection = selection(request.parentColumns, request.parent)
  if (parentSelection !== undefined) query.columns = parentSelection
  if (request.where !== undefined) query.where = request.where
  if (request.orderBy !== undefined) query.orderBy = request.orderBy
  if (request.limit !== undefined) query.limit = request.limit

  if (relationName === request.as) return () => findMany.findMany(query)
  const keys = request.parentColumns.map((c) => c.key)
  const as = request.as
  return async () => {
    const rows = await findMany.findMany(query)
    const out = new Array<Record<string, unknown>>(rows.length)
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as Record<string, unknown>
      const o: Record<string, unknown> = {}
      for (const k of keys) o[k] = row[k]
      o[as] = row[relationName]
      out[r] = o
    }
    return out
  }
}

/** The name of the `many` relation of `config` whose keys are exactly (reference → foreignKey). */
function findRelation(
  schema: Record<string, TableRelationalConfig>,
  names: Record<string, string>,
  config: TableRelationalConfig,
  request: RelationalRequest,
): string | undefined {
  let found: string | undefined
  for (const [name, relation] of Object.entries(config.relations) as [string, Relation][]) {
    if (!is(relation, Many) || relation.referencedTable !== (request.child as unknown)) continue
    let keys: { fields: readonly unknown[]; references: readonly unknown[] }
    try {
      keys = normalizeRelation(schema, names, relation)
    } catch {
      continue
    }
    if (
      keys.fields.length !== 1 ||
      keys.fields[0] !== request.reference.column ||
      keys.references[0] !== request.foreignKey
    ) {
      continue
    }
    if (name === request.as) return name
    found ??= name
  }
  return found
}

/** drizzle's include-mode selection for these columns, undefined when they are all of them. */
function selection(
  columns: readonly ColumnInfo[],
  table: PgTable,
): Record<string, true> | undefined {
  if (tableInfo(table).columns.size === columns.length) return undefined
  return Object.fromEntries(columns.map((c) => [c.key, true] as const))
}

/** Whether every order item names only columns of `table` (see {@link ownColumnsOnly}). @internal */
export function ordersOwnColumns(order: OrderBy | readonly OrderBy[] | undefined, table: PgTable) {
  if (order === undefined) return true
  const items = Array.isArray(order) ? order : [order]
  for (const item of items) {
    if (is(item, Column)) {
      if ((item as PgColumn).table !== table) return false
    } else if (!is(item, SQL) || !ownColumnsOnly(item as SQL, table)) return false
  }
  return true
}

/**
 * Whether drizzle can re-alias `query` onto `table`: it maps every column chunk to the table's
 * alias, so a column of another table, a subquery, an identifier or raw text naming the table
 * would change meaning. @internal
 */
export function ownColumnsOnly(query: SQL, table: PgTable): boolean {
  const name = getTableName(table)
  const visit = (chunk: unknown): boolean => {
    if (chunk === null || chunk === undefined) return true
    switch (typeof chunk) {
      case 'string':
      case 'number':
      case 'boolean':
      case 'bigint':
        return true
      case 'object':
        break
      default:
        return false
    }
    if (is(chunk, Column)) return (chunk as PgColumn).table === table
    if (is(chunk, StringChunk)) {
      return !(chunk as StringChunk).value.some((v) => v.includes(name))
    }
    if (is(chunk, Param)) return !is((chunk as Param).value, SQL)
    if (is(chunk, Placeholder)) return true
    if (is(chunk, SQL)) return (chunk as SQL).queryChunks.every(visit)
    if (chunk instanceof Date) return true
    if (Array.isArray(chunk)) {
      return chunk.every((c) => !is(c, Column) && !is(c, SQL) && visit(c))
    }
    return false
  }
  return visit(query)
}
