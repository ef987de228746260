// The column/type resolution both batch writes use: names after drizzle's casing, catalog types
// without modifiers (enums quoted and qualified), assignment expressions, plain text values.
import { sql } from 'drizzle-orm'
import {
  boolean,
  char,
  customType,
  doublePrecision,
  integer,
  jsonb,
  pgEnum,
  pgSchema,
  pgTable,
  text,
  timestamp,
  varchar,
} from 'drizzle-orm/pg-core'
import { drizzle } from 'drizzle-orm/pglite'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { textArrays } from '../src/batchInsert.js'
import { CopyFallback, copyChunks, copyField } from '../src/copyInsert.js'
import type { Database } from '../src/index.js'
import { tableInfo } from '../src/tableInfo.js'
import {
  arrayLiteral,
  encodingOf,
  isoText,
  isSqlValue,
  loadCastTypes,
  NOT_PLAIN,
  plainText,
  qualifiedName,
  type WriteColumn,
  writeColumns,
} from '../src/writeColumns.js'
import { drivers, suffix } from './drivers.js'

describe('writeColumns', () => {
  it("names columns after the database's casing option and marks generated columns", () => {
    const t = pgTable('wc_casing', {
      someValue: text(),
      named: text('explicit_name'),
      total: integer().generatedAlwaysAs(sql`1`),
    })
    const plain = drizzle.mock()
    const snake = drizzle.mock({ casing: 'snake_case' })
    expect([...writeColumns(plain, tableInfo(t)).values()].map((c) => c.name)).toEqual([
      'someValue',
      'explicit_name',
      'total',
    ])
    const cased = writeColumns(snake, tableInfo(t))
    expect(cased.get('someValue')).toMatchObject({ name: 'some_value', quoted: '"some_value"' })
    expect(cased.get('named')?.name).toBe('explicit_name')
    expect(cased.get('total')?.insertable).toBe(false)
    expect(cased.get('someValue')?.insertable).toBe(true)
  })

  it('qualifies the table name only when drizzle does', () => {
    expect(qualifiedName(pgTable('Plain"Name', { a: text() }))).toBe('"Plain""Name"')
    expect(qualifiedName(pgSchema('other').table('t', { a: text() }))).toBe('"other"."t"')
  })

  it('turns values into the text the driver would send, or NOT_PLAIN', () => {
    const flag = boolean('flag')
    const t = pgTable('wc_values', {
      flag,
      n: integer('n'),
      label: text('label'),
      upper: customType<{ data: string; driverData: unknown }>({
        dataType: () => 'text',
        toDriver: (v) => sql`upper(${v})`,
      })('upper'),
    })
    const c = tableInfo(t).columns
    const col = (k: string) => c.get(k)?.column as never
    expect(plainText(col('flag'), 'boolean', true)).toBe('true')
    expect(plainText(col('flag'), 'text', true)).toBe(NOT_PLAIN)
    expect(plainText(col('n'), 'integer', -0)).toBe('0')
    expect(plainText(col('n'), 'integer', null)).toBeNull()
    expect(plainText(col('label'), 'text', sql`'x'`)).toBe(NOT_PLAIN)
    expect(plainText(col('upper'), 'text', 'abc')).toBe(NOT_PLAIN)
    expect(plainText(col('label'), 'text', new Date(0))).toBe(NOT_PLAIN)
    expect(isSqlValue(sql`1`)).toBe(true)
    expect(isSqlValue({})).toBe(false)
  })

  it('computes toISOString for every date, invalid and out-of-range ones by the built-in', () => {
    const check = (d: Date) => {
      let want: string | RangeError
      try {
        want = d.toISOString()
      } catch (error) {
        want = error as RangeError
      }
      if (typeof want === 'string') expect(isoText(d)).toBe(want)
      else expect(() => isoText(d)).toThrow(RangeError)
    }
    fc.assert(fc.property(fc.date(), check), { numRuns: 5000 })
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (t) => check(new Date(t))),
      { numRuns: 20_000 },
    )
    for (const t of [0, -1, 951_782_400_000, 253_402_300_799_999, 253_402_300_800_000, Number.NaN])
      check(new Date(t))
  })

  // The fast paths skip drizzle's encoder where it is the identity (or its timestamp encoder): the
  // texts and the COPY bytes they produce are exactly those of plainText (and copyField).
  it('sends every value as plainText would, in text arrays and COPY chunks (property)', () => {
    const wrapped = customType<{ data: string; driverData: string }>({
      dataType: () => 'text',
      toDriver: (v) => `<${v}>`,
    })
    const t = pgTable('wc_same', {
      label: text('label'),
      n: integer('n'),
      score: doublePrecision('score'),
      flag: boolean('flag'),
      meta: jsonb('meta'),
      at: timestamp('at', { mode: 'date' }),
      w: wrapped('w'),
    })
    const columns = [...writeColumns(drizzle.mock(), tableInfo(t)).values()] as WriteColumn[]
    expect(columns.map((c) => encodingOf(c.column))).toEqual([
      'as-is',
      'as-is',
      'as-is',
      'as-is',
      'drizzle',
      'iso',
      'drizzle',
    ])
    // a timestamp whose encoder is not drizzle's own is not taken for it
    const patched = pgTable('wc_patched', { at: timestamp('at', { mode: 'date' }) }).at
    patched.mapToDriverValue = (v: Date) => `${v.getTime()}`
    expect(encodingOf(patched)).toBe('drizzle')
    const casts = ['text', 'integer', 'double precision', 'boolean', 'jsonb', 'timestamp', 'text']
    const value = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 6 }),
      fc.constantFrom('a\tb', '\\N', 'x\ny\r', '\\', '', '"q"', 'a\\"b', '\ud800', '\u0001"'),
      fc.double(),
      fc.constantFrom(-0, 1e21, Number.NaN, Number.POSITIVE_INFINITY),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.jsonValue({ maxDepth: 1 }),
      fc.date({ noInvalidDate: true }),
      fc.bigInt(),
    )
    // drizzle's own encoders of jsonb and timestamp throw on some values (a bigint, a string)
    const arbitraryOf = (c: WriteColumn) =>
      c.key === 'meta'
        ? fc.option(fc.jsonValue({ maxDepth: 1 }), { nil: null })
        : c.key === 'at'
          ? fc.option(fc.date({ noInvalidDate: true }), { nil: null })
          : value
    const row = fc.tuple(...columns.map(arbitraryOf)).map((vs) => {
      const r: Record<string, unknown> = {}
      columns.forEach((c, i) => {
        r[c.key] = vs[i]
      })
      return r
    })
    fc.assert(
      fc.property(fc.array(row, { maxLength: 8 }), (rows) => {
        const texts = columns.map((c, i) =>
          rows.map((r) => plainText(c.column, casts[i] as string, r[c.key])),
        )
        const plain = texts.every((a) => a.every((x) => x !== NOT_PLAIN))
        const bare: boolean[] = []
        const arrays = textArrays(columns, casts, rows, bare)
        if (!plain) expect(arrays).toBeUndefined()
        else {
          expect(arrays).toEqual(texts)
          // bare: every text is a number's, a boolean's or an ISO time's (or NULL)
          columns.forEach((c, i) => {
            const sentAsText = rows.some((r) => {
              const v = r[c.key]
              if (v === null || v === undefined) return false
              if (typeof v === 'number') return encodingOf(c.column) !== 'as-is'
              if (typeof v === 'boolean') return casts[i] !== 'boolean'
              return !(v instanceof Date && encodingOf(c.column) === 'iso')
            })
            expect(bare[i]).toBe(!sentAsText)
            if (bare[i])
              for (const x of (arrays as (string | null)[][])[i] as (string | null)[])
                if (x !== null) expect(x).toMatch(/^[-+.:0-9A-Za-z]+$/)
          })
          // the literal postgres.js and PGlite write for a JavaScript array of strings
          const driverLiteral = (xs: (string | null)[]) =>
            xs.length === 0
              ? '{}'
              : `{${xs.map((x) => (x === null ? 'null' : `"${x.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`
          ;(arrays as (string | null)[][]).forEach((a, c) => {
            expect(arrayLiteral(a, 0, a.length)).toBe(driverLiteral(a))
            expect(arrayLiteral(a, 1, a.length)).toBe(driverLiteral(a.slice(1)))
            // bare and without NULL: unquoted (the server reads the same array, tested below)
            const unquoted = a.length > 0 && !a.includes(null)
            expect(arrayLiteral(a, 0, a.length, bare[c])).toBe(
              bare[c] && unquoted ? `{${a.join(',')}}` : driverLiteral(a),
            )
          })
        }
        let copied: string | CopyFallback
        try {
          copied = [...copyChunks(columns, casts, rows, 0, rows.length)].join('')
        } catch (error) {
          if (!(error instanceof CopyFallback)) throw error
          copied = error
        }
        if (!plain) expect(copied).toBeInstanceOf(CopyFallback)
        else {
          const lines = rows.map(
            (_, r) =>
              `${columns.map((_, c) => copyField(texts[c]?.[r] as string | null)).join('\t')}\n`,
          )
          expect(copied).toBe(lines.join(''))
        }
      }),
      { numRuns: 300 },
    )
  })
})

describe.each(drivers)('loadCastTypes on $name', (driver) => {
  let database: Database
  const id = suffix()
  const mood = pgEnum(`wcMood_${id}`, ['a', 'B'])
  const other = pgSchema(`wc_s_${id}`)
  const otherMood = other.enum(`Mood_${id}`, ['x'])
  const t = other.table(`wc_t_${id}`, {
    v: varchar('v', { length: 5 }),
    c: char('c', { length: 3 }),
    m: mood('m'),
    o: otherMood('o'),
  })

  beforeAll(async () => {
    database = await driver.open()
    for (const ddl of [
      `create schema "wc_s_${id}"`,
      `create type "wcMood_${id}" as enum ('a', 'B')`,
      `create type "wc_s_${id}"."Mood_${id}" as enum ('x')`,
      `create table "wc_s_${id}"."wc_t_${id}" (v varchar(5), c char(3), m "wcMood_${id}", o "wc_s_${id}"."Mood_${id}", b bit(4), n numeric(6, 2), a varchar(3)[])`,
    ])
      await database.db.execute(sql.raw(ddl))
  })
  afterAll(async () => {
    await database.db.execute(sql.raw(`drop schema "wc_s_${id}" cascade`))
    await database.db.execute(sql.raw(`drop type "wcMood_${id}"`))
    await database.close()
  })

  it('reports types without modifiers, enums quoted and qualified, and assignment expressions', async () => {
    const types = await loadCastTypes(database.db, t)
    expect(types?.columns.get('v')?.cast).toBe('character varying')
    expect(types?.columns.get('c')?.cast).toBe('bpchar')
    expect(types?.columns.get('b')?.cast).toBe('"bit"')
    expect(types?.columns.get('m')?.cast).toBe(`"wcMood_${id}"`)
    expect(types?.columns.get('o')?.cast).toBe(`wc_s_${id}."Mood_${id}"`)
    const run = async (expr: string) =>
      database.db.execute(sql.raw(`select ${expr} as x`)).then(
        (r) => (Array.isArray(r) ? r : (r as unknown as { rows: unknown[] }).rows)[0],
        (e: { code?: string; cause?: { code?: string } }) => e.cause?.code ?? e.code,
      )
    expect(await run(types?.columns.get('v')?.assign?.("'ABCDEFGHIJ'::text") as string)).toBe(
      '22001',
    )
    expect(await run(types?.columns.get('b')?.assign?.("'101'::text") as string)).toBe('22026')
    expect(await run(types?.columns.get('n')?.assign?.("'1.005'::text") as string)).toEqual({
      x: '1.01',
    })
    // positions and modifiers: the order PostgreSQL fits values to their columns in
    expect(types?.columns.get('n')?.position).toBe(6)
    expect(types?.columns.get('n')?.modified).toBe(true)
    expect(types?.columns.get('m')?.modified).toBe(false)
    // an array of a length-limited type: no expression checks its elements as an assignment does
    expect(types?.columns.get('a')?.cast).toBe('character varying[]')
    expect(types?.columns.get('a')?.assign).toBe(undefined)
    expect(await loadCastTypes(database.db, pgTable(`wc_none_${id}`, { a: text() }))).toBe(
      undefined,
    )
  })
})

// The fast paths write the texts of numbers, booleans and ISO times unquoted in their array
// literals: PostgreSQL must read them as the same elements as the quoted literal the drivers write.
describe.each(drivers)('bare array literals on $name', (driver) => {
  let database: Database
  beforeAll(async () => {
    database = await driver.open()
  })
  afterAll(async () => {
    await database.close()
  })

  it('are read as the same text[] as the quoted literal (property)', async () => {
    const t = pgTable('wc_bare', {
      n: doublePrecision('n'),
      i: integer('i'),
      b: boolean('b'),
      at: timestamp('at', { mode: 'date' }),
    })
    const columns = [...writeColumns(database.db, tableInfo(t)).values()] as WriteColumn[]
    const casts = ['double precision', 'integer', 'boolean', 'timestamp']
    const row = fc.record({
      n: fc.oneof(fc.double(), fc.constantFrom(-0, 1e21, 5e-324, Number.NaN, -Infinity)),
      i: fc.integer(),
      b: fc.boolean(),
      at: fc.date({ noInvalidDate: true }),
    })
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 20 }), async (rows) => {
        const bare: boolean[] = []
        const arrays = textArrays(columns, casts, rows, bare) as string[][]
        expect(bare).toEqual([true, true, true, true])
        for (const a of arrays) {
          const result = await database.db.execute(
            sql`select ${arrayLiteral(a, 0, a.length, true)}::text[] as bare, ${arrayLiteral(a, 0, a.length)}::text[] as quoted`,
          )
          const [r] = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
            bare: string[] | string
            quoted: string[] | string
          }[]
          expect(r?.bare).toEqual(r?.quoted)
          expect(r?.bare).toEqual(
            typeof r?.bare === 'string' ? `{${a.map((x) => `"${x}"`).join(',')}}` : a,
          )
        }
      }),
      { numRuns: 60 },
    )
  })
})
