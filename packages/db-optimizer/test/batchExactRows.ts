// Generated tables over the column types drizzle pg-core offers, and rows for them: shared by the
// property tests that compare batchInsert/batchUpdate with plain drizzle.
import { type SQL, sql } from 'drizzle-orm'
import type { PgDatabase } from 'drizzle-orm/pg-core'
import {
  bigint,
  boolean,
  char,
  customType,
  date,
  doublePrecision,
  integer,
  interval,
  json,
  jsonb,
  numeric,
  type PgColumnBuilderBase,
  pgEnum,
  pgSchema,
  pgTable,
  real,
  smallint,
  text,
  time,
  timestamp,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import fc from 'fast-check'
import type { Database } from '../src/index.js'
import { type DriverCase, suffix } from './drivers.js'

export const OTHER_SCHEMA = 'dbo_exact_s'

/** A column kind: its DDL, its drizzle builder and the values rows give it. */
export interface ColumnSpec {
  kind: string
  /** DDL type (after the column name). */
  ddl: string
  /** The drizzle builder; `name` undefined: the key is the name (drizzle's `casing` applies). */
  build(name: string | undefined): PgColumnBuilderBase
  /** Values a row may hold (undefined: key left out). */
  value: fc.Arbitrary<unknown>
  /** DDL to run before the table (types). */
  before?: string[]
  /** Whether rows may leave the column out (it has some default) . */
  optional: boolean
  /** Whether the column is written by updates. */
  updatable: boolean
}

const counters = new Map<string, number>()
/** A deterministic `$defaultFn`/`$onUpdate` value: both sides of a comparison see the same sequence. */
function counter(name: string): () => string {
  return () => {
    const n = counters.get(name) ?? 0
    counters.set(name, n + 1)
    return `${name}-${n}`
  }
}
export function resetCounters(): void {
  counters.clear()
}

// COPY's text format gives \t, \n, \r, backslash and \N a meaning: each must arrive as written
const nasty = fc.constantFrom(
  'NULL',
  'null',
  '"',
  '\\',
  '{}',
  '{a,b}',
  ',',
  ' a ',
  '',
  "'",
  'é€😀',
  'a\tb',
  'a\nb\r',
  '\\N',
  '\\.',
  '\\x41',
)
const str = (maxLength = 12) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength, unit: 'grapheme' }) },
    { weight: 2, arbitrary: nasty },
    { weight: 1, arbitrary: fc.string({ maxLength: 4, unit: 'binary' }) },
  )
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 8 })
const date1900 = fc.date({
  min: new Date('1900-01-01T00:00:00Z'),
  max: new Date('2200-12-31T00:00:00Z'),
  noInvalidDate: true,
})
const pad = (n: number, w = 2) => String(n).padStart(w, '0')

const byteaType = customType<{ data: Uint8Array; driverData: Buffer }>({
  dataType: () => 'bytea',
  toDriver: (v) => Buffer.from(v),
})
const wrappedText = customType<{ data: string; driverData: string }>({
  dataType: () => 'text',
  toDriver: (v) => `<${v}>`,
})
const upperText = customType<{ data: string; driverData: SQL }>({
  dataType: () => 'text',
  toDriver: (v) => sql`upper(${v})`,
})

/** Every column kind, with parameters drawn by fast-check. `tag` keeps type names unique. */
export function columnSpec(tag: string): fc.Arbitrary<ColumnSpec> {
  const n = (b: PgColumnBuilderBase) => b
  const plain = (
    kind: string,
    ddl: string,
    build: (name: string | undefined) => PgColumnBuilderBase,
    value: fc.Arbitrary<unknown>,
  ): ColumnSpec => ({ kind, ddl, build, value: nullable(value), optional: true, updatable: true })
  const printable = (spec: ColumnSpec): ColumnSpec =>
    Object.assign(spec, { [fc.toStringMethod]: () => `${spec.kind} (${spec.ddl})` })
  const on = <A extends unknown[]>(
    f: (...a: A) => ColumnSpec,
    ...args: { [K in keyof A]: fc.Arbitrary<A[K]> }
  ) => fc.tuple(...(args as fc.Arbitrary<unknown>[])).map((a) => f(...(a as A)))
  return fc
    .oneof(
      fc.constant(plain('text', 'text', (nm) => n(nm ? text(nm) : text()), str())),
      on(
        (k: number) =>
          plain(
            `varchar(${k})`,
            `varchar(${k})`,
            (nm) => (nm ? varchar(nm, { length: k }) : varchar({ length: k })),
            str(k + 2),
          ),
        fc.integer({ min: 1, max: 8 }),
      ),
      on(
        (k: number) =>
          plain(
            `char(${k})`,
            `char(${k})`,
            (nm) => (nm ? char(nm, { length: k }) : char({ length: k })),
            fc.oneof(str(k + 2), fc.constantFrom('a ', '  ', 'ab  ')),
          ),
        fc.integer({ min: 1, max: 5 }),
      ),
      on(
        (p: number, s: number) =>
          plain(
            `numeric(${p},${s})`,
            `numeric(${p},${s})`,
            (nm) =>
              nm ? numeric(nm, { precision: p, scale: s }) : numeric({ precision: p, scale: s }),
            fc
              .tuple(fc.integer({ min: -(10 ** 7), max: 10 ** 7 }), fc.nat(99_999))
              .map(([i, f]) => `${i}.${f}`),
          ),
        fc.integer({ min: 4, max: 12 }),
        fc.integer({ min: 0, max: 3 }),
      ),
      fc.constant(
        plain('integer', 'integer', (nm) => (nm ? integer(nm) : integer()), fc.integer()),
      ),
      fc.constant(
        plain(
          'smallint',
          'smallint',
          (nm) => (nm ? smallint(nm) : smallint()),
          fc.integer({ min: -40_000, max: 40_000 }),
        ),
      ),
      fc.constant(
        plain(
          'bigint53',
          'bigint',
          (nm) => (nm ? bigint(nm, { mode: 'number' }) : bigint({ mode: 'number' })),
          fc.maxSafeInteger(),
        ),
      ),
      fc.constant(
        plain(
          'bigint64',
          'bigint',
          (nm) => (nm ? bigint(nm, { mode: 'bigint' }) : bigint({ mode: 'bigint' })),
          fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        ),
      ),
      fc.constant(
        plain('boolean', 'boolean', (nm) => (nm ? boolean(nm) : boolean()), fc.boolean()),
      ),
      fc.constant(
        plain(
          'double',
          'double precision',
          (nm) => (nm ? doublePrecision(nm) : doublePrecision()),
          fc.double(),
        ),
      ),
      fc.constant(plain('real', 'real', (nm) => (nm ? real(nm) : real()), fc.float())),
      fc.constant(
        plain('json', 'json', (nm) => (nm ? json(nm) : json()), fc.jsonValue({ maxDepth: 2 })),
      ),
      fc.constant(
        plain('jsonb', 'jsonb', (nm) => (nm ? jsonb(nm) : jsonb()), fc.jsonValue({ maxDepth: 2 })),
      ),
      fc.constant(
        plain(
          'integer[]',
          'integer[]',
          (nm) => (nm ? integer(nm).array() : integer().array()),
          fc.array(fc.option(fc.integer(), { nil: null }), { maxLength: 4 }),
        ),
      ),
      fc.constant(
        plain(
          'text[]',
          'text[]',
          (nm) => (nm ? text(nm).array() : text().array()),
          fc.array(fc.option(str(5), { nil: null }), { maxLength: 3 }),
        ),
      ),
      on(
        (p: number | null, tz: boolean, mode: 'date' | 'string') =>
          plain(
            `timestamp(${p})${tz ? 'tz' : ''}:${mode}`,
            `timestamp${p === null ? '' : `(${p})`}${tz ? ' with time zone' : ''}`,
            (nm) => {
              const config = {
                mode,
                withTimezone: tz,
                ...(p === null ? {} : { precision: p as 0 }),
              }
              return nm ? timestamp(nm, config) : timestamp(config)
            },
            mode === 'date'
              ? date1900
              : fc
                  .tuple(date1900, fc.nat(999))
                  .map(
                    ([d, micro]) =>
                      `${d.toISOString().slice(0, 23).replace('T', ' ')}${pad(micro, 3)}${tz ? '+02' : ''}`,
                  ),
          ),
        fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }),
        fc.boolean(),
        fc.constantFrom('date' as const, 'string' as const),
      ),
      on(
        (mode: 'date' | 'string') =>
          plain(
            `date:${mode}`,
            'date',
            (nm) => (nm ? date(nm, { mode }) : date({ mode })),
            mode === 'date' ? date1900 : date1900.map((d) => d.toISOString().slice(0, 10)),
          ),
        fc.constantFrom('date' as const, 'string' as const),
      ),
      on(
        (p: number | null) =>
          plain(
            `time(${p})`,
            `time${p === null ? '' : `(${p})`}`,
            (nm) => {
              const config = p === null ? {} : { precision: p as 0 }
              return nm ? time(nm, config) : time(config)
            },
            fc
              .tuple(fc.integer({ min: 0, max: 24 }), fc.nat(59), fc.nat(59), fc.nat(999_999))
              .map(([h, m, s, f]) => `${pad(h)}:${pad(m)}:${pad(s)}.${pad(f, 6)}`),
          ),
        fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }),
      ),
      fc.constant(
        plain(
          'interval',
          'interval',
          (nm) => (nm ? interval(nm) : interval()),
          fc.constantFrom(
            '1 day',
            '2 hours 3 minutes',
            '-1 year',
            'P1Y2M',
            '1.5 seconds',
            '00:00:01.1234567',
            'nonsense',
          ),
        ),
      ),
      fc.constant(
        plain(
          'uuid',
          'uuid',
          (nm) => (nm ? uuid(nm) : uuid()),
          fc.tuple(fc.uuid(), fc.boolean()).map(([u, upper]) => (upper ? u.toUpperCase() : u)),
        ),
      ),
      on((other: boolean) => {
        const name = other ? `Mood_${tag}` : `moodE_${tag}`
        const values = ['sad', 'ok', 'Happy'] as const
        const e = other ? pgSchema(OTHER_SCHEMA).enum(name, values) : pgEnum(name, values)
        const qualified = other ? `${OTHER_SCHEMA}."${name}"` : `"${name}"`
        return {
          ...plain(
            `enum:${other ? 'schema' : 'public'}`,
            qualified,
            (nm) => (nm ? e(nm) : e()),
            fc.constantFrom('sad', 'ok', 'Happy', 'happy'),
          ),
          before: [`create type ${qualified} as enum ('sad', 'ok', 'Happy')`],
        }
      }, fc.boolean()),
      fc.constant({
        kind: 'identity always',
        ddl: 'integer generated always as identity',
        build: (nm: string | undefined) =>
          (nm ? integer(nm) : integer()).generatedAlwaysAsIdentity(),
        value: fc.constant(undefined),
        optional: true,
        updatable: false,
      }),
      fc.constant({
        kind: 'identity by default',
        ddl: 'integer generated by default as identity',
        build: (nm: string | undefined) =>
          (nm ? integer(nm) : integer()).generatedByDefaultAsIdentity(),
        value: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
        optional: true,
        updatable: true,
      }),
      fc.constant({
        kind: 'generated',
        ddl: "text generated always as ('g' || 'x') stored",
        build: (nm: string | undefined) =>
          (nm ? text(nm) : text()).generatedAlwaysAs(sql`'g' || 'x'`),
        value: fc.option(str(), { nil: undefined }),
        optional: true,
        updatable: false,
      }),
      fc.constant(
        plain('custom text', 'text', (nm) => (nm ? wrappedText(nm) : wrappedText()), str()),
      ),
      fc.constant(plain('custom sql', 'text', (nm) => (nm ? upperText(nm) : upperText()), str())),
      fc.constant(
        plain(
          'bytea',
          'bytea',
          (nm) => (nm ? byteaType(nm) : byteaType()),
          fc.uint8Array({ maxLength: 6 }),
        ),
      ),
      fc.constant({
        ...plain(
          '$defaultFn value',
          'text',
          (nm) => (nm ? text(nm) : text()).$defaultFn(counter(`d${tag}`)),
          str(),
        ),
        value: fc.option(str(), { nil: undefined }),
      }),
      fc.constant({
        ...plain(
          '$defaultFn sql',
          'text',
          (nm) => (nm ? text(nm) : text()).$defaultFn(() => sql`'d' || 'sql'`),
          str(),
        ),
        value: fc.option(str(), { nil: undefined }),
      }),
      fc.constant({
        ...plain(
          '$onUpdate value',
          'text',
          (nm) => (nm ? text(nm) : text()).$onUpdate(() => 'touched'),
          str(),
        ),
        value: fc.option(str(), { nil: undefined }),
      }),
      fc.constant({
        ...plain(
          '$onUpdate sql',
          'text',
          (nm) => (nm ? text(nm) : text()).$onUpdate(() => sql`'touched' || '!'`),
          str(),
        ),
        value: fc.option(str(), { nil: undefined }),
      }),
      fc.constant({
        ...plain(
          'db default',
          "text default 'draft'",
          (nm) => (nm ? text(nm) : text()).default('draft'),
          str(),
        ),
        value: fc.option(str(), { nil: undefined }),
      }),
    )
    .map((spec) => printable(spec as ColumnSpec))
}

/** A generated table: its columns (keys `c0Kind…`, names `c0_kind…` in snake case). */
export interface TableSpec {
  columns: { key: string; name: string; spec: ColumnSpec }[]
  otherSchema: boolean
  /** No SQL-valued kinds and no rows that leave out some keys only: the fast path can take it. */
  uniform: boolean
  /**
   * The order of `columns` in the DDL (a permutation of their indexes): the table's column order
   * may differ from drizzle's, and PostgreSQL applies some checks in one, some in the other.
   */
  ddlOrder: number[]
}

const SQL_KINDS = new Set(['custom sql', '$defaultFn sql', '$onUpdate sql'])

export function tableSpec(tag: string): fc.Arbitrary<TableSpec> {
  return fc
    .record({
      specs: fc.array(columnSpec(tag), { minLength: 1, maxLength: 6 }),
      otherSchema: fc.boolean(),
      uniform: fc.boolean(),
    })
    .chain(({ specs, otherSchema, uniform }) => {
      const columns = (uniform ? specs.filter((s) => !SQL_KINDS.has(s.kind)) : specs).map(
        (spec, i) => ({ key: `c${i}Col`, name: `c${i}_col`, spec }),
      )
      const indexes = columns.map((_, i) => i)
      return fc
        .oneof(
          fc.constant(indexes),
          fc.shuffledSubarray(indexes, { minLength: indexes.length, maxLength: indexes.length }),
        )
        .map((ddlOrder) => ({ otherSchema, uniform, columns, ddlOrder }))
    })
}

/** The drizzle table and its DDL under `name`; with `casing` the columns carry no names. */
export function buildTable(t: TableSpec, name: string, casing: boolean) {
  const columns: Record<string, PgColumnBuilderBase> = {}
  for (const c of t.columns) columns[c.key] = c.spec.build(casing ? undefined : c.name)
  const table = t.otherSchema ? pgSchema(OTHER_SCHEMA).table(name, columns) : pgTable(name, columns)
  const qualified = t.otherSchema ? `${OTHER_SCHEMA}."${name}"` : `"${name}"`
  const ddl = `create table ${qualified} (${t.ddlOrder
    .map((i) => t.columns[i] as TableSpec['columns'][number])
    .map((c) => `"${c.name}" ${c.spec.ddl}`)
    .join(', ')})`
  return { table, qualified, ddl }
}

/** Rows for a table: each column is always present, never present, or present at random. */
export function rowsFor(t: TableSpec, maxLength = 30): fc.Arbitrary<Record<string, unknown>[]> {
  return fc
    .tuple(
      ...t.columns.map((c) =>
        !t.uniform
          ? fc.constantFrom('always', 'never', 'mixed')
          : !c.spec.updatable || c.spec.kind.startsWith('identity')
            ? fc.constant('never')
            : fc.constantFrom('always', 'always', 'never'),
      ),
    )
    .chain((presence) =>
      fc.array(
        fc
          .tuple(...t.columns.map((c) => c.spec.value), ...t.columns.map(() => fc.boolean()))
          .map((vs) => {
            const row: Record<string, unknown> = {}
            t.columns.forEach((c, i) => {
              const p = presence[i]
              const keep = p === 'always' || (p === 'mixed' && vs[t.columns.length + i])
              const v = vs[i] === undefined && t.uniform ? null : vs[i]
              if (keep && v !== undefined) row[c.key] = v
            })
            return row
          }),
        { minLength: 1, maxLength },
      ),
    )
}

// biome-ignore lint/suspicious/noExplicitAny: drizzle databases of either driver
export type AnyDb = PgDatabase<any, any, any>

/** A database of one driver, and a second drizzle db over the same client with `casing`. */
export interface ExactDatabase {
  database: Database
  /** The same client, `drizzle(client, { casing: 'snake_case' })`. */
  cased: AnyDb
  /** `cased` or the plain db. */
  db(casing: boolean): AnyDb
}

/** Opens `driver`'s database, with the other schema the generated tables may live in. */
export async function openExact(driver: DriverCase): Promise<ExactDatabase> {
  const database = await driver.open()
  await database.db.execute(sql.raw(`create schema if not exists ${OTHER_SCHEMA}`))
  const cased =
    driver.name === 'postgres-js'
      ? (drizzlePostgres(database.client as never, { casing: 'snake_case' }) as unknown as AnyDb)
      : (drizzlePglite(database.client as never, { casing: 'snake_case' }) as unknown as AnyDb)
  return { database, cased, db: (casing) => (casing ? cased : (database.db as AnyDb)) }
}

/** One generated case: a unique tag, a table spec, whether `casing` is on, a batch size. */
export interface ExactCase {
  tag: string
  table: TableSpec
  casing: boolean
  batchSize: number | undefined
}

/** Generated cases; `table` narrows the table specs (the update test needs a key and a column). */
export function exactCase(
  maxBatch: number,
  table: (t: fc.Arbitrary<TableSpec>) => fc.Arbitrary<TableSpec> = (t) => t,
): fc.Arbitrary<ExactCase> {
  return fc.constant(null).chain(() => {
    const tag = suffix()
    return fc.record({
      tag: fc.constant(tag),
      table: table(tableSpec(tag)),
      casing: fc.boolean(),
      batchSize: fc.option(fc.integer({ min: 1, max: maxBatch }), { nil: undefined }),
    })
  })
}

/**
 * Creates the types the spec needs and one table per side name, runs `body` with the tables, and
 * drops everything it created, whatever `body` did.
 */
export async function withTables<T>(
  db: AnyDb,
  spec: TableSpec,
  names: readonly string[],
  casing: boolean,
  body: (tables: ReturnType<typeof buildTable>[]) => Promise<T>,
): Promise<T> {
  const tables = names.map((n) => buildTable(spec, n, casing))
  const before = new Set(spec.columns.flatMap((col) => col.spec.before ?? []))
  for (const ddl of before) await db.execute(sql.raw(ddl))
  for (const t of tables) await db.execute(sql.raw(t.ddl))
  try {
    return await body(tables)
  } finally {
    for (const t of tables) await db.execute(sql.raw(`drop table if exists ${t.qualified}`))
    for (const ddl of before)
      await db.execute(
        sql.raw(ddl.replace(/^create type (.*) as enum.*$/, 'drop type if exists $1')),
      )
  }
}

function rowsOf(result: unknown): Record<string, unknown>[] {
  return (
    Array.isArray(result) ? result : (result as { rows: Record<string, unknown>[] }).rows
  ) as Record<string, unknown>[]
}

/** Every row of a table as to_jsonb, in physical order. */
export async function tableJson(db: AnyDb, qualified: string): Promise<unknown[]> {
  return rowsOf(
    await db.execute(sql.raw(`select to_jsonb(t) as j from ${qualified} t order by ctid`)),
  ).map((r) => r.j)
}

/** What a write did: the error's SQLSTATE (or 'js' for an error without one), or undefined. */
export function outcome(error: unknown): string | undefined {
  if (error === undefined) return undefined
  let e: unknown = error
  for (let i = 0; i < 5 && e instanceof Error; i++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
    e = e.cause
  }
  return 'js'
}
