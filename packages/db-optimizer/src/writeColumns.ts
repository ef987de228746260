import { Column, is, Param, SQL, sql } from 'drizzle-orm'
import {
  getTableConfig,
  type PgColumn,
  type PgTable,
  pgTable,
  timestamp,
} from 'drizzle-orm/pg-core'
import { DbOptimizerError } from './dbOptimizerError.js'
import type { TableInfo } from './tableInfo.js'
import type { AnyPgDatabase } from './types.js'
import { quote } from './validate.js'

/** One column as a batch write sends it. @internal */
export interface WriteColumn {
  /** Property name in the drizzle table (the key rows use). */
  readonly key: string
  /** Column name in the database, after the database's `casing` option. */
  readonly name: string
  /** `name`, quoted. */
  readonly quoted: string
  readonly column: PgColumn
  /** False for generated columns and `generatedAlwaysAsIdentity` (drizzle leaves them out of INSERT). */
  readonly insertable: boolean
}

/** Marks a value that cannot travel as plain text in a `text[]` parameter. @internal */
export const NOT_PLAIN: unique symbol = Symbol('not plain')

// biome-ignore lint/suspicious/noExplicitAny: drizzle keeps the dialect and its casing internal
type Any = any

/**
 * The table's columns as drizzle would name them on `db`: drizzle's `casing` option
 * (`'snake_case'`, `'camelCase'`) turns keys of columns declared without a name into column names.
 * @internal
 */
export function writeColumns(db: AnyPgDatabase, info: TableInfo): ReadonlyMap<string, WriteColumn> {
  const casing = (db as Any).dialect?.casing
  const out = new Map<string, WriteColumn>()
  for (const c of info.columns.values()) {
    const name: string =
      typeof casing?.getColumnCasing === 'function' ? casing.getColumnCasing(c.column) : c.name
    out.set(c.key, {
      key: c.key,
      name,
      quoted: quote(name),
      column: c.column,
      insertable: !(c.column as Any).shouldDisableInsert(),
    })
  }
  return out
}

/** The table's name as `regclass` text: schema-qualified when drizzle qualifies it. @internal */
export function qualifiedName(table: PgTable): string {
  const config = getTableConfig(table)
  return config.schema === undefined
    ? quote(config.name)
    : `${quote(config.schema)}.${quote(config.name)}`
}

/** A column's type as PostgreSQL reports it. @internal */
export interface ColumnType {
  /** The type without its modifier, for casts (`character varying`, `bpchar`, `"bit"`, …). */
  readonly cast: string
  /**
   * An expression (over `value`, a text expression) that converts to the column's type the way an
   * assignment does, modifier included: over-long strings raise 22001 (never truncated), numerics
   * and timestamps are rounded. Undefined for arrays of a length-limited type (`varchar(n)[]`):
   * SQL offers no call that checks their elements as an assignment does (a cast truncates them).
   */
  readonly assign: ((value: string) => string) | undefined
  /** Whether the column has a type modifier (`varchar(5)`, `numeric(8,2)`, `timestamp(3)`, …). */
  readonly modified: boolean
  /**
   * The column's position in the table (`attnum`): PostgreSQL applies the modifiers of an
   * INSERT's single row and of an UPDATE's SET list in this order.
   */
  readonly position: number
}

/** Length coercions whose explicit form truncates: call them as an assignment would (isExplicit false). */
const LENGTH_COERCIONS = new Set(['varchar', 'bpchar', 'bit', 'varbit'])

/** The column types of one table, as {@link loadCastTypes} found them. @internal */
export interface CastTypes {
  /** By column name. */
  readonly columns: ReadonlyMap<string, ColumnType>
  /**
   * A condition, true while the table still has exactly the columns and types these were read
   * from (same relation, names, type oids and modifiers), else false. Statements built from cached
   * types carry `1 / (guard)::int = 1` as a one-time filter: a changed table makes them fail
   * (22012) before any row is converted, instead of converting with a stale type.
   */
  readonly guard: string
  /** What the guard compares: one text for the whole column list. */
  readonly fingerprint: string
}

/**
 * Asks PostgreSQL for the type of every column of `table`, written so that a cast to it applies no
 * type modifier: `character varying`, `bpchar`, `"bit"`, `numeric`, `timestamp with time zone`,
 * enums quoted and schema-qualified where the search path does not reach them. A value cast to
 * such a type is converted exactly as an untyped parameter would be, and the assignment to the
 * column then applies its modifier (raising 22001 where a value is too long, rounding numerics and
 * timestamps), which is what a plain INSERT/UPDATE does. Returns undefined when the table is not
 * found (the plain statement will then report that).
 * @internal
 */
export async function loadCastTypes(
  db: AnyPgDatabase,
  table: PgTable,
): Promise<CastTypes | undefined> {
  const name = qualifiedName(table)
  const result: Any = await db.execute(
    sql`select a.attname as name, a.attnum as position, format_type(a.atttypid, -1) as type, format_type(a.atttypid, a.atttypmod) as full, a.atttypmod as typmod, t.typname as base, (select e.typname from pg_type e where e.oid = t.typelem and t.typcategory = 'A') as elem, ${sql.raw(fingerprintOf(quoteLiteral(name)))} as fingerprint from pg_attribute a join pg_type t on t.oid = a.atttypid where a.attrelid = to_regclass(${name}) and a.attnum > 0 and not a.attisdropped`,
  )
  const rows: {
    name: string
    position: number
    type: string
    full: string
    typmod: number
    base: string
    elem: string | null
    fingerprint: string
  }[] = Array.isArray(result) ? result : result.rows
  if (rows.length === 0) return undefined
  const fingerprint = String(rows[0]?.fingerprint)
  const columns = new Map(
    rows.map((r) => {
      const typmod = Number(r.typmod)
      const cast = r.type
      let assign: ((value: string) => string) | undefined
      if (typmod < 0) assign = (v) => `${v}::${cast}`
      else if (LENGTH_COERCIONS.has(r.base))
        assign = (v) => `pg_catalog.${quote(r.base)}(${v}::${cast}, ${typmod}, false)`
      else if (r.elem !== null && LENGTH_COERCIONS.has(r.elem)) assign = undefined
      else assign = (v) => `${v}::${r.full}`
      const type: ColumnType = { cast, assign, modified: typmod >= 0, position: Number(r.position) }
      return [r.name, type] as const
    }),
  )
  const guard = `coalesce(${fingerprintOf(quoteLiteral(name))} = ${quoteLiteral(fingerprint)}, false)`
  return { columns, guard, fingerprint }
}

/** SQL text: one text naming the relation's oid and every live column's name, type and modifier. */
function fingerprintOf(nameLiteral: string): string {
  return `(select to_regclass(${nameLiteral})::oid::text || ':' || string_agg(f.attname || ' ' || f.atttypid::text || ' ' || f.atttypmod::text, ',' order by f.attnum) from pg_catalog.pg_attribute f where f.attrelid = to_regclass(${nameLiteral}) and f.attnum > 0 and not f.attisdropped)`
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`
}

const castCache = new WeakMap<object, Map<string, CastTypes>>()

/**
 * Runs `write` with the table's column types, read from the catalog once per table and database
 * and cached. A cached entry is never trusted blindly: the statements built from it carry its
 * guard, and when a write that used a cached entry fails before its first batch committed
 * anything, the types are read again; if the table changed, the cache is replaced and the write
 * runs once more with the new types (the failed attempt was rolled back, nothing was written),
 * else the original error is thrown.
 * @internal
 */
export async function withCastTypes<T>(
  db: AnyPgDatabase,
  table: PgTable,
  write: (types: CastTypes | undefined, cached: boolean) => Promise<T>,
): Promise<T> {
  const owner = cacheOwner(db)
  const name = qualifiedName(table)
  let byName = castCache.get(owner)
  if (byName === undefined) {
    byName = new Map()
    castCache.set(owner, byName)
  }
  const cached = byName.get(name)
  if (cached === undefined) {
    const fresh = await loadCastTypes(db, table)
    if (fresh !== undefined) byName.set(name, fresh)
    return write(fresh, false)
  }
  try {
    return await write(cached, true)
  } catch (error) {
    if (!(error instanceof DbOptimizerError) || error.code !== 'BATCH_FAILED' || error.batch !== 0)
      throw error
    const fresh = await loadCastTypes(db, table).catch(() => undefined)
    if (fresh?.fingerprint === cached.fingerprint) throw error
    if (fresh === undefined) byName.delete(name)
    else byName.set(name, fresh)
    return write(fresh, false)
  }
}

/** The object the cache hangs on: the instrumented client (shared by every drizzle db over it). */
function cacheOwner(db: AnyPgDatabase): object {
  const client = (db as Any)?.session?.client
  return typeof client === 'object' || typeof client === 'function' ? client : db
}

/** True when a value is a drizzle SQL expression (written inline, never as a parameter). @internal */
export function isSqlValue(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  // the common values first: plain objects, arrays and dates are never drizzle entities
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === Array.prototype || proto === Date.prototype)
    return false
  return is(value, SQL) || is(value, Param)
}

/**
 * The text the driver would send for `value` in a column of PostgreSQL type `castType` (drizzle's
 * `mapToDriverValue` first), or {@link NOT_PLAIN} when the value must go through drizzle itself:
 * SQL expressions, custom types whose `toDriver` returns SQL, and driver values that postgres.js
 * or PGlite would send with a type of their own (booleans and bytes outside boolean and bytea
 * columns, objects, dates).
 * @internal
 */
export function plainText(
  column: PgColumn,
  castType: string,
  value: unknown,
): string | null | typeof NOT_PLAIN {
  if (value === null) return null
  if (isSqlValue(value)) return NOT_PLAIN
  const v = column.mapToDriverValue(value)
  if (v === null || v === undefined) return null
  switch (typeof v) {
    case 'string':
      return v
    case 'number':
      return String(v)
    case 'bigint':
      return castType === 'bigint' || castType === 'numeric' ? String(v) : NOT_PLAIN
    case 'boolean':
      return castType === 'boolean' ? (v ? 'true' : 'false') : NOT_PLAIN
    default:
      if (v instanceof Uint8Array && castType === 'bytea')
        return `\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`
      return NOT_PLAIN
  }
}

/**
 * How drizzle encodes a column's values: `'as-is'` when its `mapToDriverValue` is drizzle's own
 * identity (`Column.prototype.mapToDriverValue`: text, varchar, integer, boolean, double
 * precision, uuid, enums, …); `'iso'` when it is drizzle's timestamp encoder (`value =>
 * value.toISOString()`, recognised by its class and its source text); else `'drizzle'`.
 * @internal
 */
export type Encoding = 'as-is' | 'iso' | 'drizzle'

let isoReference: { type: unknown; source: string } | undefined

/** The {@link Encoding} of a column. @internal */
export function encodingOf(column: PgColumn): Encoding {
  if (column.mapToDriverValue === Column.prototype.mapToDriverValue) return 'as-is'
  if (isoReference === undefined) {
    const reference = pgTable('dbo_iso_reference', { t: timestamp({ mode: 'date' }) }).t
    isoReference = {
      type: reference.constructor,
      source: Function.prototype.toString.call(reference.mapToDriverValue),
    }
  }
  return column.constructor === isoReference.type &&
    Function.prototype.toString.call(column.mapToDriverValue) === isoReference.source
    ? 'iso'
    : 'drizzle'
}

/**
 * {@link plainText}, with the common values of the common encodings done inline: sent as is, a
 * string is itself, a number `String(number)`, a boolean in a boolean column `'true'`/`'false'`;
 * with drizzle's timestamp encoder, a plain `Date` is {@link isoText}. Anything else goes through
 * plainText.
 * @internal
 */
export function driverText(
  encoding: Encoding,
  column: PgColumn,
  castType: string,
  value: unknown,
): string | null | typeof NOT_PLAIN {
  if (encoding === 'as-is') {
    if (typeof value === 'string') return value
    if (typeof value === 'number') return String(value)
    if (typeof value === 'boolean' && castType === 'boolean') return value ? 'true' : 'false'
  } else if (encoding === 'iso' && isPlainDate(value)) return isoText(value)
  return plainText(column, castType, value)
}

const nativeToIso = Date.prototype.toISOString

/** A Date whose `toISOString` is the built-in one (no subclass, own property or patch). @internal */
export function isPlainDate(value: unknown): value is Date {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.getPrototypeOf(value) === Date.prototype &&
    Date.prototype.toISOString === nativeToIso &&
    !Object.hasOwn(value, 'toISOString')
  )
}

/** Milliseconds of 10000-01-01T00:00:00Z: below it (and from 1970 on), four-digit years. */
const YEAR_10000 = 253_402_300_800_000

/**
 * `date.toISOString()`, computed from the time value for the years 1970 to 9999 (days to civil
 * date by the proleptic Gregorian calendar, as the built-in does) in a third of its time, as one
 * string of 24 character codes; other times, and invalid dates (which throw), go to the built-in.
 * @internal
 */
export function isoText(date: Date): string {
  const t = date.getTime()
  if (!(t >= 0 && t < YEAR_10000)) return nativeToIso.call(date)
  const ms = t % 1000
  let rest = (t - ms) / 1000
  const second = rest % 60
  rest = (rest - second) / 60
  const minute = rest % 60
  rest = (rest - minute) / 60
  const hour = rest % 24
  // days since 1970-01-01, shifted to 0000-03-01 and split into 400-year eras
  const days = (rest - hour) / 24 + 719_468
  const era = Math.floor(days / 146_097)
  const dayOfEra = days - era * 146_097
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  )
  const dayOfYear =
    dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100))
  const m = Math.floor((5 * dayOfYear + 2) / 153)
  const day = dayOfYear - Math.floor((153 * m + 2) / 5) + 1
  const month = m < 10 ? m + 3 : m - 9
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
  // 48 is the code of the digit 0
  return String.fromCharCode(
    48 + Math.floor(year / 1000),
    48 + (Math.floor(year / 100) % 10),
    48 + (Math.floor(year / 10) % 10),
    48 + (year % 10),
    45, // -
    48 + Math.floor(month / 10),
    48 + (month % 10),
    45,
    48 + Math.floor(day / 10),
    48 + (day % 10),
    84, // T
    48 + Math.floor(hour / 10),
    48 + (hour % 10),
    58, // :
    48 + Math.floor(minute / 10),
    48 + (minute % 10),
    58,
    48 + Math.floor(second / 10),
    48 + (second % 10),
    46, // .
    48 + Math.floor(ms / 100),
    48 + (Math.floor(ms / 10) % 10),
    48 + (ms % 10),
    90, // Z
  )
}

/** Characters an element of an array literal escapes (inside its double quotes). */
const ARRAY_SPECIAL = /["\\]/
const ARRAY_SPECIALS = /["\\]/g
/** An escape JSON.stringify writes that an array literal would read differently (`\\n`, `\\u…`). */
const JSON_ONLY_ESCAPE = /\\[bfnrtu]/

/**
 * Elements `[start, end)` of `texts` as a PostgreSQL array literal, exactly as postgres.js and
 * PGlite write a JavaScript array of strings for a `text[]` parameter (every element quoted,
 * backslash and double quote escaped, NULL as `null`): the drivers pass a string through as it
 * is, so the statement gets the same bytes. With `bare` (every element is a text the array parser
 * reads unquoted as itself: see {@link textArrays}' `bare`) and no NULL, the elements are written
 * unquoted, which PostgreSQL reads as the same array with fewer bytes to encode and parse.
 * @internal
 */
export function arrayLiteral(
  texts: readonly (string | null)[],
  start: number,
  end: number,
  bare = false,
): string {
  if (end <= start) return '{}'
  const whole = start === 0 && end === texts.length
  let plain = true
  for (let i = start; i < end && plain; i++) {
    const t = texts[i] as string | null
    plain = t !== null && (bare || (t.indexOf('"') < 0 && t.indexOf('\\') < 0))
  }
  // nothing to escape and no NULL: one join, no string per element
  if (plain) {
    const part = whole ? texts : texts.slice(start, end)
    return bare ? `{${part.join(',')}}` : `{"${part.join('","')}"}`
  }
  if (!(whole ? texts : texts.slice(start, end)).includes(null)) {
    // JSON.stringify quotes a string and escapes its quotes and backslashes as the literal does,
    // natively; it also escapes control characters and lone surrogates, which the literal keeps
    // as they are (then: element by element)
    const quoted: string[] = new Array(end - start)
    for (let i = start; i < end; i++) quoted[i - start] = JSON.stringify(texts[i])
    const literal = `{${quoted.join(',')}}`
    if (!JSON_ONLY_ESCAPE.test(literal)) return literal
  }
  let out = '{'
  for (let i = start; i < end; i++) {
    const t = texts[i] as string | null
    if (i > start) out += ','
    if (t === null) out += 'null'
    else if (ARRAY_SPECIAL.test(t)) out += `"${t.replace(ARRAY_SPECIALS, '\\$&')}"`
    else out += `"${t}"`
  }
  return `${out}}`
}

/** How many bind parameters drizzle sends for one value. @internal */
export function parameterCount(db: AnyPgDatabase, column: PgColumn, value: unknown): number {
  if (value === undefined) return 0
  let v: unknown = value
  if (!isSqlValue(v) && v !== null) {
    const mapped = column.mapToDriverValue(v)
    if (!isSqlValue(mapped)) return 1
    v = mapped
  }
  if (is(v, Param)) return 1
  if (!is(v, SQL)) return 1
  const dialect = (db as Any).dialect
  return typeof dialect?.sqlToQuery === 'function' ? dialect.sqlToQuery(v).params.length : 1
}
