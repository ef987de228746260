import { eq, getTableColumns, getTableName, inArray, type SQL, sql } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import { DbOptimizerError } from './dbOptimizerError.js'
import { instrumentMembers, replicasOf } from './instrumentation.js'
import {
  jsonDecoder,
  jsonExact,
  ordersOwnColumns,
  ownColumnsOnly,
  type RelationalRequest,
  relationalLoad,
} from './relationalLoad.js'
import { type ColumnInfo, resultRows, tableInfo, toText } from './tableInfo.js'
import type { AnyPgDatabase, ReplicaTarget } from './types.js'

type OrderBy = SQL | PgColumn | SQL.Aliased

/** How children hang off their parent. */
export interface ChildRelation<TChild extends PgTable, TAs extends string> {
  /** The child table. */
  child: TChild
  /** Column of the child table that holds the parent's key. */
  foreignKey: PgColumn
  /** Property of each parent that receives its children (an array, empty when none). */
  as: TAs
  /**
   * Order of the children inside each parent.
   * @default undefined (database order)
   */
  orderChildrenBy?: OrderBy | readonly OrderBy[]
  /**
   * On a drizzle `withReplicas` database, which member runs every statement of the load:
   * `'replica'` (one replica, picked the way drizzle picks one for a select) or `'primary'`.
   * All statements go to that one member, so parents and children come from one server; on a
   * replica, select-in loading's two statements also share one snapshot (a read-only
   * repeatable-read transaction), even while the replica replays. Other databases accept
   * `'primary'` (the database itself).
   * @default where drizzle sends a select: a replica on a `withReplicas` database
   */
  target?: ReplicaTarget
}

/**
 * Which columns of a table to load, as in drizzle's relational queries: `{ content: false }` loads
 * every column but `content`; `{ id: true, title: true }` loads only those (when any value is
 * `true`, only the `true` ones are loaded).
 */
export type ColumnSelection<TTable extends PgTable> = {
  [K in keyof TTable['$inferSelect']]?: boolean
}

/** The row type a {@link ColumnSelection} leaves (the whole row when there is no selection). */
export type SelectedRow<TTable extends PgTable, TSelection> = [TSelection] extends [undefined]
  ? TTable['$inferSelect']
  : [KeysWith<TSelection, true>] extends [never]
    ? Omit<TTable['$inferSelect'], KeysWith<TSelection, false>>
    : Pick<TTable['$inferSelect'], KeysWith<TSelection, true> & keyof TTable['$inferSelect']>

type KeysWith<T, V> = { [K in keyof T]-?: T[K] extends V ? K : never }[keyof T]

/** Options of {@link eagerLoad} and {@link selectinLoad}. */
export interface LoadOptions<
  TParent extends PgTable,
  TChild extends PgTable,
  TAs extends string,
  TParentColumns extends ColumnSelection<TParent> | undefined = undefined,
  TChildColumns extends ColumnSelection<TChild> | undefined = undefined,
> extends ChildRelation<TChild, TAs> {
  /** The parent table. */
  parent: TParent
  /**
   * Columns to load for parents and children, e.g. `{ child: { content: false } }` to keep a heavy
   * column out of the statement (load it later, lazily). The parent key and the child foreign key
   * are read whenever needed for grouping, but returned only when selected.
   * @default undefined (every column of both tables)
   */
  columns?: { parent?: TParentColumns; child?: TChildColumns }
  /**
   * Parent column the foreign key points to.
   * @default the parent table's primary key
   */
  references?: PgColumn
  /**
   * Filter on the parents.
   * @default undefined (all parents)
   */
  where?: SQL
  /**
   * Order of the parents.
   * @default undefined (database order)
   */
  orderBy?: OrderBy | readonly OrderBy[]
  /**
   * At most this many parents (applied to parents, not to joined rows).
   * @default undefined (no limit)
   */
  limit?: number
}

/** Options of {@link loadChildren}. */
export interface LoadChildrenOptions<
  TChild extends PgTable,
  TAs extends string,
  TChildColumns extends ColumnSelection<TChild> | undefined = undefined,
> extends ChildRelation<TChild, TAs> {
  /** Column of the parents' table the foreign key points to (its property is read on each parent). */
  references: PgColumn
  /**
   * Columns to load for the children, e.g. `{ child: { content: false } }`. The foreign key is
   * read for grouping, but returned only when selected.
   * @default undefined (every column of the child table)
   */
  columns?: { child?: TChildColumns }
}

/** A parent row with its children under `TAs`. */
export type WithChildren<
  TParentRow,
  TChild extends PgTable,
  TAs extends string,
  TChildRow = TChild['$inferSelect'],
> = TParentRow & {
  [K in TAs]: TChildRow[]
}

/**
 * Eager loading: parents and their children in ONE statement. Built on drizzle's relational query
 * (`db.query.parent.findMany({ with })`, run on the chosen member) when `db`'s schema declares this
 * relation with `relations()` and drizzle returns the same rows (see the README); otherwise
 * `SELECT … FROM parent LEFT JOIN child ON child.fk = parent.key`, grouped back into
 * `parent[as] = children[]` (parent columns repeated per child: {@link selectinLoad} moves less
 * data when parents have many children).
 */
export async function eagerLoad<
  TParent extends PgTable,
  TChild extends PgTable,
  TAs extends string,
  TParentColumns extends ColumnSelection<TParent> | undefined = undefined,
  TChildColumns extends ColumnSelection<TChild> | undefined = undefined,
>(
  db: AnyPgDatabase,
  options: LoadOptions<TParent, TChild, TAs, TParentColumns, TChildColumns>,
): Promise<
  WithChildren<
    SelectedRow<TParent, TParentColumns>,
    TChild,
    TAs,
    SelectedRow<TChild, TChildColumns>
  >[]
> {
  return (await joined(db, options as LoadOptions<PgTable, PgTable, string>, true)) as never
}

async function joined(
  db: AnyPgDatabase,
  options: LoadOptions<PgTable, PgTable, string>,
  fast: boolean,
): Promise<Record<string, unknown>[]> {
  const { parent, reference, relation } = resolve(options)
  db = member(db, options.target).db
  const parentColumns = selectColumns(parent, options.columns?.parent, 'options.columns.parent')
  if (fast) {
    const load = relationalLoad(db, request(options, parent, reference, relation, parentColumns))
    if (load !== undefined) return await load()
    if (
      parent !== relation.child &&
      reference === tableInfo(parent).primaryKey &&
      relation.columns.length > 0 &&
      relation.columns.length <= 100 &&
      jsonExact(relation.columns) &&
      (options.where === undefined || ownColumnsOnly(options.where, parent)) &&
      ordersOwnColumns(options.orderBy, parent) &&
      ordersOwnColumns(relation.orderChildrenBy, relation.child)
    ) {
      return await nested(db, options, parent, reference, relation, parentColumns)
    }
  }
  let where = options.where
  if (options.limit !== undefined) {
    let ids = db
      .select({ key: reference.column })
      .from(parent as PgTable)
      .$dynamic()
    if (options.where !== undefined) ids = ids.where(options.where)
    if (options.orderBy !== undefined) ids = ids.orderBy(...list(options.orderBy))
    where = inArray(reference.column, ids.limit(options.limit))
  }
  // Selected by position and decoded with each column's own mapFromDriverValue (what drizzle's
  // select does), without drizzle's generic nested-row mapper, which costs more than the query.
  const childColumns = relation.columns
  const fkIndex = childColumns.indexOf(relation.fk)
  const refIndex = parentColumns.indexOf(reference)
  const fkAlias = fkIndex < 0 ? 'fk' : `c${fkIndex}`
  const refAlias = refIndex < 0 ? 'pk' : `p${refIndex}`
  const fields = sql.join(
    [
      ...parentColumns.map((c, i) => sql`${c.column} as ${sql.identifier(`p${i}`)}`),
      ...(refIndex < 0 ? [sql`${reference.column} as ${sql.identifier('pk')}`] : []),
      ...childColumns.map((c, i) => sql`${c.column} as ${sql.identifier(`c${i}`)}`),
      ...(fkIndex < 0 ? [sql`${relation.foreignKey} as ${sql.identifier('fk')}`] : []),
    ],
    sql`, `,
  )
  let query = sql`select ${fields} from ${parent} left join ${relation.child} on ${eq(relation.foreignKey, reference.column)}`
  if (where !== undefined) query = sql`${query} where ${where}`
  const order = [...list(options.orderBy ?? []), ...list(relation.orderChildrenBy ?? [])]
  if (order.length > 0) query = sql`${query} order by ${sql.join(order, sql`, `)}`
  const rows = resultRows<Record<string, unknown>>(await db.execute(query))
  const byKey = new Map<string | null, Record<string, unknown>>()
  const out: Record<string, unknown>[] = []
  for (const row of rows) {
    const key = toText(reference.column, decode(reference, row[refAlias]))
    let entry = byKey.get(key)
    if (entry === undefined) {
      entry = {}
      for (let i = 0; i < parentColumns.length; i++) {
        const c = parentColumns[i] as ColumnInfo
        entry[c.key] = decode(c, row[`p${i}`])
      }
      entry[relation.as] = []
      byKey.set(key, entry)
      out.push(entry)
    }
    if (row[fkAlias] === null || row[fkAlias] === undefined) continue
    const child: Record<string, unknown> = {}
    for (let i = 0; i < childColumns.length; i++) {
      const c = childColumns[i] as ColumnInfo
      child[c.key] = decode(c, row[`c${i}`])
    }
    ;(entry[relation.as] as unknown[]).push(child)
  }
  return out
}

/**
 * Select-in loading: the parents in one statement, then all their children in ONE more
 * (`WHERE child.fk = ANY($1)`), grouped into `parent[as]`. Two statements whatever the count; one
 * (drizzle's relational query, as for {@link eagerLoad}) when `relations()` declare the relation.
 */
export async function selectinLoad<
  TParent extends PgTable,
  TChild extends PgTable,
  TAs extends string,
  TParentColumns extends ColumnSelection<TParent> | undefined = undefined,
  TChildColumns extends ColumnSelection<TChild> | undefined = undefined,
>(
  db: AnyPgDatabase,
  options: LoadOptions<TParent, TChild, TAs, TParentColumns, TChildColumns>,
): Promise<
  WithChildren<
    SelectedRow<TParent, TParentColumns>,
    TChild,
    TAs,
    SelectedRow<TChild, TChildColumns>
  >[]
> {
  return (await selectin(db, options as LoadOptions<PgTable, PgTable, string>, true)) as never
}

async function selectin(
  db: AnyPgDatabase,
  options: LoadOptions<PgTable, PgTable, string>,
  fast: boolean,
): Promise<Record<string, unknown>[]> {
  const { parent, reference, relation } = resolve(options)
  const chosen = member(db, options.target)
  if (fast) {
    const parentColumns = selectColumns(parent, options.columns?.parent, 'options.columns.parent')
    const load = relationalLoad(
      chosen.db,
      request(options, parent, reference, relation, parentColumns),
    )
    // one statement: one server, one snapshot, on whichever member
    if (load !== undefined) return await load()
  }
  if (chosen.replica) {
    // two statements, one snapshot: replay cannot move between the parents and the children
    return await chosen.db.transaction(
      (tx) => selectin(tx as unknown as AnyPgDatabase, { ...options, target: undefined }, fast),
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    )
  }
  db = chosen.db
  const selected =
    options.columns?.parent === undefined
      ? undefined
      : selectColumns(parent, options.columns.parent, 'options.columns.parent')
  const keyOmitted = selected !== undefined && !selected.includes(reference)
  const fields =
    selected === undefined
      ? undefined
      : Object.fromEntries(
          [...selected, ...(keyOmitted ? [reference] : [])].map((c) => [c.key, c.column]),
        )
  let query = (fields === undefined ? db.select() : db.select(fields))
    .from(parent as PgTable)
    .$dynamic()
  if (options.where !== undefined) query = query.where(options.where)
  if (options.orderBy !== undefined) query = query.orderBy(...list(options.orderBy))
  if (options.limit !== undefined) query = query.limit(options.limit)
  const parents = (await query) as Record<string, unknown>[]
  const loaded = await loadRelation(db, parents, relation, reference, fast)
  if (keyOmitted) for (const p of loaded) delete p[reference.key]
  return loaded
}

/**
 * The second half of select-in loading, for parents you already have: ONE statement
 * (`WHERE child.fk = ANY($1)`, one `json_agg` row per key when every child column comes back
 * from JSON exactly) loads every child, returned as new parent objects with `as` set, in the
 * parents' order. The input parents are not modified.
 */
export async function loadChildren<
  TParentRow extends Record<string, unknown>,
  TChild extends PgTable,
  TAs extends string,
  TChildColumns extends ColumnSelection<TChild> | undefined = undefined,
>(
  db: AnyPgDatabase,
  parents: readonly TParentRow[],
  options: LoadChildrenOptions<TChild, TAs, TChildColumns>,
): Promise<WithChildren<TParentRow, TChild, TAs, SelectedRow<TChild, TChildColumns>>[]> {
  if (!Array.isArray(parents)) {
    throw new DbOptimizerError('INVALID_ROWS', `parents must be an array, got ${typeof parents}`)
  }
  return (await children(
    db,
    parents,
    options as LoadChildrenOptions<PgTable, string>,
    true,
  )) as never
}

async function children(
  db: AnyPgDatabase,
  parents: readonly Record<string, unknown>[],
  options: LoadChildrenOptions<PgTable, string>,
  fast: boolean,
): Promise<Record<string, unknown>[]> {
  const relation = resolveRelation(options)
  const reference = columnKey(options.references, 'options.references')
  return await loadRelation(member(db, options.target).db, parents, relation, reference, fast)
}

/**
 * The loaders without their fast paths (no delegation to drizzle's relational query, no JSON
 * aggregation): the reference the property tests compare the fast paths with. @internal
 */
export const plainLoaders = {
  /** {@link eagerLoad} on its LEFT JOIN path. */
  eagerLoad: (db: AnyPgDatabase, options: LoadOptions<PgTable, PgTable, string>) =>
    joined(db, options, false),
  /** {@link selectinLoad} on its two-statement, row-by-row path. */
  selectinLoad: (db: AnyPgDatabase, options: LoadOptions<PgTable, PgTable, string>) =>
    selectin(db, options, false),
  /** {@link loadChildren} on its row-by-row path. */
  loadChildren: (
    db: AnyPgDatabase,
    parents: readonly Record<string, unknown>[],
    options: LoadChildrenOptions<PgTable, string>,
  ) => children(db, parents, options, false),
}

function request(
  options: LoadOptions<PgTable, PgTable, string>,
  parent: PgTable,
  reference: ColumnInfo,
  relation: Relation,
  parentColumns: readonly ColumnInfo[],
): RelationalRequest {
  return {
    parent,
    child: relation.child,
    reference,
    foreignKey: relation.foreignKey,
    as: relation.as,
    parentColumns,
    childColumns: relation.columns,
    where: options.where,
    orderBy: options.orderBy,
    orderChildrenBy: relation.orderChildrenBy,
    limit: options.limit,
  }
}

async function loadRelation(
  db: AnyPgDatabase,
  parents: readonly Record<string, unknown>[],
  relation: Relation,
  reference: ColumnInfo,
  fast: boolean,
): Promise<Record<string, unknown>[]> {
  const keys = new Set<string>()
  for (const p of parents) {
    const key = toText(reference.column, p[reference.key])
    if (key !== null) keys.add(key)
  }
  const children = new Map<string, Record<string, unknown>[]>()
  if (
    keys.size > 0 &&
    fast &&
    relation.columns.length <= 99 &&
    jsonExact([relation.fk, ...relation.columns])
  ) {
    await aggregated(db, [...keys], relation, children)
  } else if (keys.size > 0) {
    const type = castType(relation.fk)
    const childColumns = relation.columns
    const fkIndex = childColumns.indexOf(relation.fk)
    const fkAlias = fkIndex < 0 ? 'fk' : `c${fkIndex}`
    const fields = sql.join(
      [
        ...childColumns.map((c, i) => sql`${c.column} as ${sql.identifier(`c${i}`)}`),
        ...(fkIndex < 0 ? [sql`${relation.foreignKey} as ${sql.identifier('fk')}`] : []),
      ],
      sql`, `,
    )
    let query = sql`select ${fields} from ${relation.child} where ${relation.foreignKey} = any(cast(${sql.param([...keys])}::text[] as ${sql.raw(type)}[]))`
    if (relation.orderChildrenBy !== undefined) {
      query = sql`${query} order by ${sql.join(list(relation.orderChildrenBy), sql`, `)}`
    }
    for (const row of resultRows<Record<string, unknown>>(await db.execute(query))) {
      const child: Record<string, unknown> = {}
      for (let i = 0; i < childColumns.length; i++) {
        const c = childColumns[i] as ColumnInfo
        child[c.key] = decode(c, row[`c${i}`])
      }
      const key = toText(relation.foreignKey, decode(relation.fk, row[fkAlias])) as string
      let bucket = children.get(key)
      if (bucket === undefined) {
        bucket = []
        children.set(key, bucket)
      }
      bucket.push(child)
    }
  }
  return parents.map((p) => ({
    ...p,
    [relation.as]: children.get(toText(reference.column, p[reference.key]) as string) ?? [],
  }))
}

/**
 * Eager loading without `relations()` in one statement shaped like drizzle's relational query: each
 * parent row carries its children as one correlated `json_agg` subquery, so parent columns are not
 * repeated per child and the limit applies to parents directly.
 */
async function nested(
  db: AnyPgDatabase,
  options: LoadOptions<PgTable, PgTable, string>,
  parent: PgTable,
  reference: ColumnInfo,
  relation: Relation,
  parentColumns: readonly ColumnInfo[],
): Promise<Record<string, unknown>[]> {
  const order =
    relation.orderChildrenBy === undefined
      ? sql``
      : sql` order by ${sql.join(list(relation.orderChildrenBy), sql`, `)}`
  const children = sql`(select coalesce(json_agg(json_build_array(${sql.join(
    relation.columns.map((c) => c.column),
    sql`, `,
  )})${order}), '[]')::text from ${relation.child} where ${eq(relation.foreignKey, reference.column)})`
  const fields = sql.join(
    [
      ...parentColumns.map((c, i) => sql`${c.column} as ${sql.identifier(`p${i}`)}`),
      sql`${children} as ${sql.identifier('j')}`,
    ],
    sql`, `,
  )
  let query = sql`select ${fields} from ${parent}`
  if (options.where !== undefined) query = sql`${query} where ${options.where}`
  if (options.orderBy !== undefined) {
    query = sql`${query} order by ${sql.join(list(options.orderBy), sql`, `)}`
  }
  if (options.limit !== undefined) query = sql`${query} limit ${options.limit}`
  const names = relation.columns.map((c) => c.key)
  const decoders = relation.columns.map(jsonDecoder)
  const rows = resultRows<Record<string, unknown>>(await db.execute(query))
  const out = new Array<Record<string, unknown>>(rows.length)
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as Record<string, unknown>
    const entry: Record<string, unknown> = {}
    for (let i = 0; i < parentColumns.length; i++) {
      const c = parentColumns[i] as ColumnInfo
      entry[c.key] = decode(c, row[`p${i}`])
    }
    entry[relation.as] = childRows(JSON.parse(row.j as string) as unknown[][], names, decoders)
    out[r] = entry
  }
  return out
}

/** Child objects from `json_build_array` rows, each value decoded as its column's. */
function childRows(
  list: unknown[][],
  names: readonly string[],
  decoders: readonly (((value: unknown) => unknown) | undefined)[],
): Record<string, unknown>[] {
  const width = names.length
  const out = new Array<Record<string, unknown>>(list.length)
  for (let r = 0; r < list.length; r++) {
    const values = list[r] as unknown[]
    const child: Record<string, unknown> = {}
    for (let i = 0; i < width; i++) {
      const value = values[i]
      const decoder = decoders[i]
      child[names[i] as string] =
        value === null || value === undefined || decoder === undefined
          ? (value ?? null)
          : decoder(value)
    }
    out[r] = child
  }
  return out
}

/**
 * The children of `keys` as one row per parent key (`json_agg` of `json_build_array` per child,
 * grouped on the server), parsed with JSON.parse instead of one protocol row per child.
 */
async function aggregated(
  db: AnyPgDatabase,
  keys: string[],
  relation: Relation,
  into: Map<string, Record<string, unknown>[]>,
): Promise<void> {
  const columns = relation.columns
  const type = castType(relation.fk)
  const order =
    relation.orderChildrenBy === undefined
      ? sql``
      : sql` order by ${sql.join(list(relation.orderChildrenBy), sql`, `)}`
  const query = sql`select ${relation.foreignKey} as k, json_agg(json_build_array(${sql.join(
    columns.map((c) => c.column),
    sql`, `,
  )})${order})::text as j from ${relation.child} where ${relation.foreignKey} = any(cast(${sql.param(keys)}::text[] as ${sql.raw(type)}[])) group by ${relation.foreignKey}`
  const names = columns.map((c) => c.key)
  const decoders = columns.map(jsonDecoder)
  for (const row of resultRows<{ k: unknown; j: string }>(await db.execute(query))) {
    const bucket = childRows(JSON.parse(row.j) as unknown[][], names, decoders)
    into.set(toText(relation.foreignKey, decode(relation.fk, row.k)) as string, bucket)
  }
}

/**
 * The member of `db` a load runs on: for a `withReplicas` database the primary or the replica
 * drizzle would pick for a select (read from the select builder it hands out), else `db`.
 */
function member(
  db: AnyPgDatabase,
  target: ReplicaTarget | undefined,
): { db: AnyPgDatabase; replica: boolean } {
  if (target !== undefined && target !== 'primary' && target !== 'replica') {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `options.target must be 'primary' or 'replica', got ${typeof target === 'string' ? JSON.stringify(target) : String(target)}`,
    )
  }
  const replicas = replicasOf(db)
  if (replicas === undefined) {
    if (target === 'replica') {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        `options.target is 'replica' but db is not a drizzle withReplicas database`,
      )
    }
    return { db, replica: false }
  }
  instrumentMembers(db)
  if (target === 'primary') {
    return { db: (db as unknown as { $primary: AnyPgDatabase }).$primary, replica: false }
  }
  const session = (db.select() as unknown as { session?: unknown }).session
  const picked = replicas.find((r) => (r as unknown as { session?: unknown }).session === session)
  return { db: picked ?? (replicas[0] as AnyPgDatabase), replica: true }
}

interface Relation {
  child: PgTable
  foreignKey: PgColumn
  fk: ColumnInfo
  columns: ColumnInfo[]
  as: string
  orderChildrenBy: OrderBy | readonly OrderBy[] | undefined
}

function resolve(options: LoadOptions<PgTable, PgTable, string>) {
  if (options === null || typeof options !== 'object') {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `options must be an object, got ${String(options)}`,
    )
  }
  const info = tableInfo(options.parent, 'options.parent')
  const relation = resolveRelation(options)
  let reference: ColumnInfo
  if (options.references === undefined) {
    if (info.primaryKey === undefined) {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        'options.references is required: the parent table has no single-column primary key',
      )
    }
    reference = info.primaryKey
  } else {
    reference = columnKey(options.references, 'options.references')
  }
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `options.limit must be an integer ≥ 0, got ${String(options.limit)}`,
    )
  }
  return { parent: options.parent, reference, relation }
}

function resolveRelation(
  options: ChildRelation<PgTable, string> & {
    columns?: { child?: ColumnSelection<PgTable> | undefined } | undefined
  },
): Relation {
  tableInfo(options.child, 'options.child')
  if (typeof options.as !== 'string' || options.as.length === 0) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `options.as must be a non-empty string, got ${String(options.as)}`,
    )
  }
  const fk = columnKey(options.foreignKey, 'options.foreignKey')
  if (fk.column.table !== (options.child as unknown)) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `options.foreignKey must be a column of options.child, got column "${fk.name}" of table "${getTableName(fk.column.table as PgTable)}"`,
    )
  }
  const columns = options.columns
  if (columns !== undefined && (columns === null || typeof columns !== 'object')) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `options.columns must be an object like { parent?, child? }, got ${String(columns)}`,
    )
  }
  return {
    child: options.child,
    foreignKey: options.foreignKey,
    fk,
    columns: selectColumns(options.child, columns?.child, 'options.columns.child'),
    as: options.as,
    orderChildrenBy: options.orderChildrenBy,
  }
}

function columnKey(column: PgColumn | undefined, argument: string): ColumnInfo {
  const table = (column as { table?: unknown } | undefined)?.table
  if (table !== undefined) {
    for (const [key, c] of Object.entries(getTableColumns(table as PgTable))) {
      if (c === column) return tableInfo(table, argument).columns.get(key) as ColumnInfo
    }
  }
  throw new DbOptimizerError(
    'INVALID_ARGUMENT',
    `${argument} must be a column of a drizzle pgTable, got ${column === null ? 'null' : typeof column}`,
  )
}

function selectColumns(
  table: PgTable,
  selection: Record<string, boolean | undefined> | undefined,
  argument: string,
): ColumnInfo[] {
  const all = tableInfo(table).columns
  if (selection === undefined) return [...all.values()]
  if (selection === null || typeof selection !== 'object' || Array.isArray(selection)) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `${argument} must be an object of column keys to booleans, got ${Array.isArray(selection) ? 'an array' : String(selection)}`,
    )
  }
  let only = false
  for (const [key, value] of Object.entries(selection)) {
    if (!all.has(key)) {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        `${argument} names "${key}", which is not a column of the table (columns: ${[...all.keys()].join(', ')})`,
      )
    }
    if (value !== undefined && typeof value !== 'boolean') {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        `${argument}.${key} must be a boolean, got ${String(value)}`,
      )
    }
    if (value === true) only = true
  }
  return [...all.values()].filter((c) =>
    only ? selection[c.key] === true : selection[c.key] !== false,
  )
}

function castType(info: ColumnInfo): string {
  if (info.castType === undefined) {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `column "${info.name}" (type ${info.column.getSQLType()}) cannot be used as a key for select-in loading`,
    )
  }
  return info.castType
}

function decode(info: ColumnInfo, value: unknown): unknown {
  return value === null || value === undefined ? null : info.column.mapFromDriverValue(value)
}

function list(value: OrderBy | readonly OrderBy[]): OrderBy[] {
  return Array.isArray(value) ? [...value] : [value as OrderBy]
}
