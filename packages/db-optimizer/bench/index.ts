// Benchmark of @bookgen/db-optimizer against the named peers, in ONE run, on local PostgreSQL
// (postgres.js at DATABASE_URL) and on PGlite in memory. Prints the tables and writes RESULTS.md.
//   npm run bench            (BENCH_ROWS=100000 by default)
//   BENCH_ONLY=overhead BENCH_WRITE=0 npm run bench   (only the timing-overhead table, quick)
//   BENCH_ONLY=batch npm run bench   (only the batch-write tables: warm-up, shuffled interleaved
//                                     rounds, medians of per-round ratios; replaces that section)
import { randomBytes } from 'node:crypto'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { eq, sql } from 'drizzle-orm'
import {
  boolean,
  doublePrecision,
  integer,
  jsonb,
  pgTable,
  serial,
  text,
  timestamp,
} from 'drizzle-orm/pg-core'
import { drizzle as drizzlePg } from 'drizzle-orm/postgres-js'
import { prepareRows, textArrays } from '../src/batchInsert.js'
import {
  createDatabase,
  type Database,
  eagerLoad,
  QUERY_CHANNEL,
  QueryOptimizer,
  selectinLoad,
} from '../src/index.js'
import { tableInfo } from '../src/tableInfo.js'
import { loadCastTypes, type WriteColumn, writeColumns } from '../src/writeColumns.js'

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const ROWS = Number(process.env.BENCH_ROWS ?? 100_000)
const ROW_BY_ROW_SAMPLE = 2_000
const UPDATE_ROWS = 10_000
const UPDATE_ONE_BY_ONE_SAMPLE = 1_000
const id = randomBytes(3).toString('hex')

const sources = pgTable(`dbo_bench_src_${id}`, {
  id: serial('id').primaryKey(),
  url: text('url').notNull(),
  title: text('title'),
  author: text('author'),
  publishedAt: timestamp('published_at', { mode: 'date' }),
  score: doublePrecision('score'),
  verified: boolean('verified'),
  meta: jsonb('meta'),
  biographyId: integer('biography_id'),
})
const parents = pgTable(`dbo_bench_bio_${id}`, {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
})
const COLUMNS = [
  'url',
  'title',
  'author',
  'published_at',
  'score',
  'verified',
  'meta',
  'biography_id',
]

type Row = typeof sources.$inferInsert
const makeRows = (n: number, start = 0): Row[] =>
  Array.from({ length: n }, (_, k) => {
    const i = start + k
    return {
      url: `https://example.org/source/${i}`,
      title: `A source about person ${i % 1000}`,
      author: `Author ${i % 313}`,
      publishedAt: new Date(Date.UTC(2000 + (i % 20), i % 12, 1 + (i % 28))),
      score: (i % 1000) / 1000,
      verified: i % 3 === 0,
      meta: { lang: 'en', pages: i % 400 },
      biographyId: i % 100,
    }
  })

const lines: string[] = []
const out = (line = '') => {
  console.log(line)
  lines.push(line)
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**')

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

async function exec(database: Database, text: string) {
  await database.db.execute(sql.raw(text))
}

function copyText(row: Row): string {
  const esc = (v: unknown) =>
    v === null || v === undefined
      ? '\\N'
      : String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n')
  return `${[
    row.url,
    row.title,
    row.author,
    row.publishedAt?.toISOString(),
    row.score,
    row.verified,
    JSON.stringify(row.meta),
    row.biographyId,
  ]
    .map(esc)
    .join('\t')}\n`
}

/** The bench table `dbo_bench_src_<id>` on a fresh database of `driver`, and `rows` rows for it. */
async function openBenchTable(driver: 'postgres-js' | 'pglite', tableId: string, rows: number) {
  const database =
    driver === 'postgres-js' ? await createDatabase(DATABASE_URL) : await createDatabase()
  const table = `dbo_bench_src_${tableId}`
  await exec(database, `drop table if exists "${table}"`)
  await exec(
    database,
    `create table "${table}" (id serial primary key, url text not null, title text, author text, published_at timestamp, score double precision, verified boolean, meta jsonb, biography_id integer)`,
  )
  const optimizer = new QueryOptimizer(database.db, { logger: { warn: () => {} } })
  return {
    database,
    table,
    optimizer,
    rows: makeRows(rows),
    truncate: () => exec(database, `truncate "${table}" restart identity`),
    close: async () => {
      optimizer.close()
      await exec(database, `drop table if exists "${table}"`)
      await database.close()
    },
  }
}

interface Summary {
  driver: string
  ours: number
  rowByRow: number
  chunks: number
  copy: number
  update: number
  updateOne: number
  eager: number
  selectin: number
  loop: number
  eagerStatements: number
  selectinStatements: number
  loopStatements: number
}

async function benchDriver(name: 'postgres-js' | 'pglite'): Promise<Summary> {
  const { database, table, truncate, optimizer, rows, close } = await openBenchTable(name, id, ROWS)
  const rounds = name === 'postgres-js' ? 3 : 2
  try {
    out(`\n### ${name}: bulk insert of ${fmt(ROWS)} rows (8 columns)\n`)
    const oursTimes: number[] = []
    for (let r = 0; r < rounds; r++) {
      await truncate()
      oursTimes.push(await time(() => optimizer.batchInsert(sources, rows)))
    }
    const [{ n }] = (await database.db.select({ n: sql<number>`count(*)::int` }).from(sources)) as [
      { n: number },
    ]
    if (n !== ROWS) throw new Error(`batchInsert wrote ${n} rows, expected ${ROWS}`)

    await truncate()
    const sample = makeRows(ROW_BY_ROW_SAMPLE, ROWS)
    // every baseline runs in one transaction, as batchInsert does (autocommit per row would
    // charge the baseline a commit per row and inflate our ratio)
    const rowByRowMs = await time(() =>
      database.db.transaction(async (tx) => {
        for (const row of sample) await tx.insert(sources).values(row)
      }),
    )

    const chunkTimes: number[] = []
    for (let r = 0; r < rounds; r++) {
      await truncate()
      chunkTimes.push(
        await time(() =>
          database.db.transaction(async (tx) => {
            for (let i = 0; i < rows.length; i += 1000)
              await tx.insert(sources).values(rows.slice(i, i + 1000))
          }),
        ),
      )
    }

    const copyTimes: number[] = []
    for (let r = 0; r < rounds; r++) {
      await truncate()
      if (name === 'postgres-js') {
        const client = database.client as import('postgres').Sql
        copyTimes.push(
          await time(async () => {
            const writable = await client
              .unsafe(`copy "${table}" (${COLUMNS.join(', ')}) from stdin`)
              .writable()
            await pipeline(Readable.from(chunked(rows)), writable)
          }),
        )
      } else {
        const client = database.client as import('@electric-sql/pglite').PGlite
        copyTimes.push(
          await time(async () => {
            const blob = new Blob(rows.map(copyText))
            await client.query(`copy "${table}" (${COLUMNS.join(', ')}) from '/dev/blob'`, [], {
              blob,
            })
          }),
        )
      }
    }

    const ours = ROWS / (median(oursTimes) / 1000)
    const rowByRow = ROW_BY_ROW_SAMPLE / (rowByRowMs / 1000)
    const chunks = ROWS / (median(chunkTimes) / 1000)
    const copy = ROWS / (median(copyTimes) / 1000)
    out('| method | rows/s | ours vs it |')
    out('| --- | ---: | ---: |')
    out(`| batchInsert (auto → unnest), median of ${rounds} | ${fmt(ours)} | — |`)
    out(
      `| row-by-row insert, one transaction (${fmt(ROW_BY_ROW_SAMPLE)}-row sample, extrapolated) | ${fmt(rowByRow)} | ${ratio(ours, rowByRow)} |`,
    )
    out(
      `| drizzle insert().values() in chunks of 1,000, one transaction, median of ${rounds} | ${fmt(chunks)} | ${ratio(ours, chunks)} |`,
    )
    out(
      `| COPY (${name === 'postgres-js' ? 'postgres.js sql`copy … from stdin`.writable()' : "PGlite COPY FROM '/dev/blob'"}), median of ${rounds} | ${fmt(copy)} | ${ratio(ours, copy)} |`,
    )

    // batchUpdate
    out(`\n### ${name}: update of ${fmt(UPDATE_ROWS)} rows\n`)
    await truncate()
    await optimizer.batchInsert(sources, rows.slice(0, UPDATE_ROWS))
    const updates = Array.from({ length: UPDATE_ROWS }, (_, i) => ({
      id: i + 1,
      title: `updated ${i}`,
      score: i / UPDATE_ROWS,
    }))
    const updateTimes: number[] = []
    for (let r = 0; r < rounds; r++) {
      updateTimes.push(await time(() => optimizer.batchUpdate(sources, updates)))
    }
    const oneByOneMs = await time(() =>
      database.db.transaction(async (tx) => {
        for (const u of updates.slice(0, UPDATE_ONE_BY_ONE_SAMPLE)) {
          await tx
            .update(sources)
            .set({ title: u.title, score: u.score })
            .where(eq(sources.id, u.id))
        }
      }),
    )
    const update = UPDATE_ROWS / (median(updateTimes) / 1000)
    const updateOne = UPDATE_ONE_BY_ONE_SAMPLE / (oneByOneMs / 1000)
    out('| method | rows/s | ours vs it |')
    out('| --- | ---: | ---: |')
    out(
      `| batchUpdate (UPDATE … FROM unnest, batches of 1,000), median of ${rounds} | ${fmt(update)} | — |`,
    )
    out(
      `| one UPDATE per row, one transaction (${fmt(UPDATE_ONE_BY_ONE_SAMPLE)}-row sample, extrapolated) | ${fmt(updateOne)} | ${ratio(update, updateOne)} |`,
    )

    // 100 parents × 20 children
    out(`\n### ${name}: 100 parents × 20 children\n`)
    const parentTable = `dbo_bench_bio_${id}`
    await exec(database, `drop table if exists "${parentTable}"`)
    await exec(
      database,
      `create table "${parentTable}" (id serial primary key, name text not null)`,
    )
    await truncate()
    await optimizer.batchInsert(
      parents,
      Array.from({ length: 100 }, (_, i) => ({ name: `Person ${i}` })),
    )
    await optimizer.batchInsert(
      sources,
      makeRows(2000).map((r, i) => ({ ...r, biographyId: (i % 100) + 1 })),
    )
    await exec(database, `create index on "${table}" (biography_id)`)
    await exec(database, `analyze "${table}"`)
    const relation = {
      parent: parents,
      child: sources,
      foreignKey: sources.biographyId,
      as: 'sources' as const,
    }
    const loop = async () => {
      const ps = await database.db.select().from(parents)
      const result = []
      for (const p of ps)
        result.push({
          ...p,
          sources: await database.db.select().from(sources).where(eq(sources.biographyId, p.id)),
        })
      return result
    }
    const statements = async (fn: () => Promise<{ sources: unknown[] }[]>) => {
      optimizer.reset()
      const result = await fn()
      if (result.length !== 100 || result.some((p) => p.sources.length !== 20))
        throw new Error('wrong load result')
      return optimizer.getQueryStats().all.count
    }
    const loopStatements = await statements(loop)
    const eagerStatements = await statements(() => eagerLoad(database.db, relation))
    const selectinStatements = await statements(() => selectinLoad(database.db, relation))
    // interleaved, so that load from other processes hits all three alike
    const reps = 9
    const times = { loop: [] as number[], eager: [] as number[], selectin: [] as number[] }
    for (let r = 0; r < reps + 2; r++) {
      const l = await time(loop)
      const e = await time(() => eagerLoad(database.db, relation))
      const s = await time(() => selectinLoad(database.db, relation))
      if (r < 2) continue
      times.loop.push(l)
      times.eager.push(e)
      times.selectin.push(s)
    }
    const loopMs = median(times.loop)
    const eagerMs = median(times.eager)
    const selectinMs = median(times.selectin)
    out('| method | statements | median ms | speed-up vs N+1 |')
    out('| --- | ---: | ---: | ---: |')
    out(`| N+1 loop | ${loopStatements} | ${loopMs.toFixed(2)} | — |`)
    out(
      `| eagerLoad (one LEFT JOIN) | ${eagerStatements} | ${eagerMs.toFixed(2)} | ${ratio(loopMs, eagerMs)} |`,
    )
    out(
      `| selectinLoad (parents + = ANY($1)) | ${selectinStatements} | ${selectinMs.toFixed(2)} | ${ratio(loopMs, selectinMs)} |`,
    )
    return {
      driver: name,
      ours,
      rowByRow,
      chunks,
      copy,
      update,
      updateOne,
      eager: loopMs / eagerMs,
      selectin: loopMs / selectinMs,
      loop: loopMs,
      eagerStatements,
      selectinStatements,
      loopStatements,
    }
  } finally {
    await exec(database, `drop table if exists "dbo_bench_bio_${id}"`)
    await close()
  }
}

function* chunked(rows: Row[]) {
  for (let i = 0; i < rows.length; i += 1000)
    yield rows
      .slice(i, i + 1000)
      .map(copyText)
      .join('')
}

/**
 * What the driver-level timing adds to one statement. (1) isolated: postgres.js `unsafe()` plus
 * settling the query by hand (no I/O), wrapped vs raw, alternating rounds, outside and inside a
 * `timeQuery` span; (2) end to end: `select 1` through drizzle, instrumented db vs a plain
 * drizzle db over the same postgres.js client, alternating rounds after a warm-up.
 */
async function overhead() {
  const database = await createDatabase(DATABASE_URL, { postgres: { max: 1 } })
  const client = database.client as import('postgres').Sql
  const plain = drizzlePg(client)
  const optimizer = new QueryOptimizer(database.db, { logger: { warn: () => {} } })
  const wrapped = (database.db as unknown as { session: { client: import('postgres').Sql } })
    .session.client
  const N = 10_000
  const iso = (c: import('postgres').Sql) => {
    const start = performance.now()
    for (let i = 0; i < N; i++) {
      const q = c.unsafe('select $1::int', [i]) as unknown as { resolve(x: unknown): void }
      q.resolve(Object.assign([], { count: 0 }))
    }
    return ((performance.now() - start) * 1000) / N
  }
  const isolated = async (inSpan: boolean, subscribed = false) => {
    const raw: number[] = []
    const ours: number[] = []
    const onMessage = () => {}
    if (subscribed) subscribe(QUERY_CHANNEL, onMessage)
    for (let r = 0; r < 60; r++) {
      const run = (c: import('postgres').Sql) =>
        inSpan ? optimizer.timeQuery('overhead', () => iso(c)) : iso(c)
      raw.push(await run(client))
      ours.push(await run(wrapped))
    }
    if (subscribed) unsubscribe(QUERY_CHANNEL, onMessage)
    return { raw: median(raw), ours: median(ours) }
  }
  const outside = await isolated(false)
  const inside = await isolated(true)
  const published = await isolated(false, true)
  const Q = 500
  const e2e = async (db: typeof plain) => {
    const start = performance.now()
    for (let i = 0; i < Q; i++) await db.execute(sql`select 1`)
    return ((performance.now() - start) * 1000) / Q
  }
  for (let r = 0; r < 4; r++) {
    await e2e(plain)
    await e2e(database.db as unknown as typeof plain)
  }
  const rawTimes: number[] = []
  const instTimes: number[] = []
  for (let r = 0; r < 15; r++) {
    rawTimes.push(await e2e(plain))
    instTimes.push(await e2e(database.db as unknown as typeof plain))
  }
  optimizer.close()
  await database.close()
  return { outside, inside, published, e2eRaw: median(rawTimes), e2eOurs: median(instTimes) }
}

// ---------------------------------------------------------------------------------------------
// Batch writes: every variant in one transaction, one warm-up round, then rounds in a fresh random
// order each, the ratio taken within each round and the median of those ratios reported.

function shuffle<T>(xs: T[]): T[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j] as T, a[i] as T]
  }
  return a
}

interface BatchSummary {
  driver: string
  rounds: number
  ms: Record<string, number>
  fastVsChunks: number
  copyVsRaw: number
  checkShare: number
  updateVsOne: number
}

async function benchBatch(name: 'postgres-js' | 'pglite', rowsN: number): Promise<BatchSummary> {
  const { database, table, truncate, optimizer, rows, close } = await openBenchTable(
    name,
    id,
    rowsN,
  )
  const rounds = Number(process.env.BENCH_ROUNDS ?? (name === 'postgres-js' ? 5 : 3))
  const info = tableInfo(sources)
  const columns = writeColumns(database.db, info)
  const types = await loadCastTypes(database.db, sources)
  const rawCopy = async () => {
    if (name === 'postgres-js') {
      const client = database.client as import('postgres').Sql
      await client.begin(async (tx) => {
        const writable = await tx
          .unsafe(`copy "${table}" (${COLUMNS.join(', ')}) from stdin`)
          .writable()
        await pipeline(Readable.from(chunked(rows)), writable)
      })
    } else {
      const client = database.client as import('@electric-sql/pglite').PGlite
      await client.transaction(async (tx) => {
        const blob = new Blob(rows.map(copyText))
        await tx.query(`copy "${table}" (${COLUMNS.join(', ')}) from '/dev/blob'`, [], { blob })
      })
    }
  }
  // the exact-rows work of the fast path, alone, as the fast path does it: every row checked and
  // its $defaultFn values computed, then batch by batch (10,000 rows) every value converted by its
  // column and checked against the column's type
  const checks = async () => {
    const prepared = prepareRows(columns, rows)
    const sent = prepared.keys.map((k) => columns.get(k) as WriteColumn)
    const casts = sent.map((c) => types?.columns.get(c.name)?.cast as string)
    for (let i = 0; i < prepared.rows.length; i += 10_000) {
      if (textArrays(sent, casts, prepared.rows.slice(i, i + 10_000), []) === undefined)
        throw new Error('not plain')
    }
  }
  const variants: Record<string, () => Promise<unknown>> = {
    fast: () => optimizer.batchInsert(sources, rows),
    copy: () => optimizer.batchInsert(sources, rows, { method: 'copy' }),
    chunks: () =>
      database.db.transaction(async (tx) => {
        for (let i = 0; i < rows.length; i += 1000)
          await tx.insert(sources).values(rows.slice(i, i + 1000))
      }),
    rawCopy,
    checks,
  }
  const updates = Array.from({ length: UPDATE_ROWS }, (_, i) => ({
    id: i + 1,
    title: `updated ${i}`,
    score: i / UPDATE_ROWS,
  }))
  const updateVariants: Record<string, () => Promise<unknown>> = {
    update: () => optimizer.batchUpdate(sources, updates),
    updateOne: () =>
      database.db.transaction(async (tx) => {
        for (const u of updates.slice(0, UPDATE_ONE_BY_ONE_SAMPLE)) {
          await tx
            .update(sources)
            .set({ title: u.title, score: u.score })
            .where(eq(sources.id, u.id))
        }
      }),
  }
  const times: Record<string, number[]> = {}
  const ratios = { fastVsChunks: [] as number[], copyVsRaw: [] as number[], check: [] as number[] }
  const updateRatios: number[] = []
  try {
    for (let r = 0; r <= rounds; r++) {
      const t: Record<string, number> = {}
      for (const v of shuffle(Object.keys(variants))) {
        await truncate()
        t[v] = await time(variants[v] as () => Promise<unknown>)
        if (v !== 'checks') {
          const [{ n }] = (await database.db
            .select({ n: sql<number>`count(*)::int` })
            .from(sources)) as [{ n: number }]
          if (n !== rowsN) throw new Error(`${v} wrote ${n} rows, expected ${rowsN}`)
        }
      }
      await truncate()
      await optimizer.batchInsert(sources, rows.slice(0, UPDATE_ROWS))
      for (const v of shuffle(Object.keys(updateVariants)))
        t[v] = await time(updateVariants[v] as () => Promise<unknown>)
      if (r === 0) continue // warm-up
      for (const [k, ms] of Object.entries(t)) {
        times[k] = times[k] ?? []
        times[k].push(ms)
      }
      ratios.fastVsChunks.push((t.chunks as number) / (t.fast as number))
      ratios.copyVsRaw.push((t.copy as number) / (t.rawCopy as number))
      ratios.check.push((t.checks as number) / (t.fast as number))
      updateRatios.push(
        (t.updateOne as number) / UPDATE_ONE_BY_ONE_SAMPLE / ((t.update as number) / UPDATE_ROWS),
      )
    }
  } finally {
    await close()
  }
  const ms = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]))
  const summary: BatchSummary = {
    driver: name,
    rounds,
    ms,
    fastVsChunks: median(ratios.fastVsChunks),
    copyVsRaw: median(ratios.copyVsRaw),
    checkShare: median(ratios.check),
    updateVsOne: median(updateRatios),
  }
  const rps = (n: number, m: number) => fmt(n / (m / 1000))
  out(`\n### ${name}: batch writes, ${fmt(rowsN)} rows of 8 columns, ${rounds} rounds\n`)
  out('| variant (each in one transaction) | median ms | rows/s |')
  out('| --- | ---: | ---: |')
  out(
    `| batchInsert, auto (→ unnest fast path) | ${ms.fast?.toFixed(0)} | ${rps(rowsN, ms.fast as number)} |`,
  )
  out(
    `| batchInsert, method 'copy'${name === 'pglite' ? ' (falls back to the unnest fast path on PGlite)' : ' (COPY FROM STDIN)'} | ${ms.copy?.toFixed(0)} | ${rps(rowsN, ms.copy as number)} |`,
  )
  out(
    `| drizzle insert().values() in chunks of 1,000 | ${ms.chunks?.toFixed(0)} | ${rps(rowsN, ms.chunks as number)} |`,
  )
  out(
    `| hand-written COPY (${name === 'postgres-js' ? 'postgres.js `sql.begin` + `copy … from stdin` `.writable()`' : "PGlite transaction + `COPY … FROM '/dev/blob'`"}) | ${ms.rawCopy?.toFixed(0)} | ${rps(rowsN, ms.rawCopy as number)} |`,
  )
  out(
    `| exact-rows checks alone (rows checked, defaults filled, every value converted and type-checked per batch of 10,000 as the fast path does; no I/O) | ${ms.checks?.toFixed(0)} | — |`,
  )
  out(
    `| batchUpdate of ${fmt(UPDATE_ROWS)} rows | ${ms.update?.toFixed(0)} | ${rps(UPDATE_ROWS, ms.update as number)} |`,
  )
  out(
    `| one UPDATE per row (${fmt(UPDATE_ONE_BY_ONE_SAMPLE)}-row sample) | ${ms.updateOne?.toFixed(0)} | ${rps(UPDATE_ONE_BY_ONE_SAMPLE, ms.updateOne as number)} |`,
  )
  return summary
}

async function batchSection() {
  const rowsN = Number(process.env.BENCH_ROWS ?? 100_000)
  const when = new Date()
  const load = loadavg().map((l) => l.toFixed(2))
  out('## Batch writes')
  out('')
  out(
    `- Date: ${when.toISOString().slice(0, 16).replace('T', ' ')} UTC; load average at start ${load.join(', ')} (2 shared cores)`,
  )
  out(
    `- Command: \`BENCH_ONLY=batch${process.env.BENCH_ROWS ? ` BENCH_ROWS=${rowsN}` : ''} npm run bench\` in \`packages/db-optimizer\``,
  )
  out(
    '- Every variant runs in one transaction; one warm-up round (discarded), then rounds in a fresh random order each; ratios are taken within a round and the median of the per-round ratios is reported.',
  )
  const results: BatchSummary[] = []
  for (const name of ['postgres-js', 'pglite'] as const) results.push(await benchBatch(name, rowsN))
  out('')
  out(
    `- Load average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`,
  )
  out('\n### Batch writes against the targets (medians of per-round ratios)\n')
  out('| target | postgres-js | pglite |')
  out('| --- | --- | --- |')
  const row = (label: string, f: (s: BatchSummary) => string) =>
    out(`| ${label} | ${results.map(f).join(' | ')} |`)
  row(
    'fast path ≥ 5× drizzle values() in chunks of 1,000 (transactional)',
    (s) => `${s.fastVsChunks.toFixed(2)}× — ${verdict(s.fastVsChunks >= 5)}`,
  )
  row('method copy within 1.1× of hand-written COPY', (s) =>
    s.driver === 'pglite'
      ? `${s.copyVsRaw.toFixed(2)}× (falls back to unnest; no target)`
      : `${s.copyVsRaw.toFixed(2)}× — ${verdict(s.copyVsRaw <= 1.1)}`,
  )
  row(
    'batchUpdate ≥ 20× one UPDATE per row (transactional)',
    (s) => `${s.updateVsOne.toFixed(1)}× — ${verdict(s.updateVsOne >= 20)}`,
  )
  row(
    'exact-rows checks < 10 % of the fast path',
    (s) => `${(s.checkShare * 100).toFixed(1)} % — ${verdict(s.checkShare < 0.1)}`,
  )
  return results
}

const started = new Date()
out(`# @bookgen/db-optimizer — benchmark results\n`)
out(`- Date: ${started.toISOString().slice(0, 10)}`)
out('- Command: `npm run bench` in `packages/db-optimizer` (`tsx bench/index.ts`, one run)')
out(
  `- Machine: ${cpus().length} shared cores (${cpus()[0]?.model.trim()}), Node ${process.version}, local PostgreSQL at DATABASE_URL and PGlite 0.5 in memory. Other engineers' builds and tests ran at the same time: figures are noisy.`,
)
out(
  '- Row-by-row inserts and one-UPDATE-per-row are measured on a smaller sample and extrapolated to rows/s (said in each row).',
)

const only = process.env.BENCH_ONLY
if (only === 'batch') {
  lines.length = 0
  await batchSection()
  const file = new URL('./RESULTS.md', import.meta.url)
  const section = `<!-- batch:start -->\n${lines.join('\n')}\n<!-- batch:end -->`
  const old = readFileSync(file, 'utf8')
  const next = /<!-- batch:start -->[\s\S]*<!-- batch:end -->/.test(old)
    ? old.replace(/<!-- batch:start -->[\s\S]*<!-- batch:end -->/, () => section)
    : `${old.trimEnd()}\n\n${section}\n`
  if (process.env.BENCH_WRITE !== '0') writeFileSync(file, next)
  process.exit(0)
}
const results: Summary[] = []
if (only !== 'overhead') {
  for (const name of ['postgres-js', 'pglite'] as const) results.push(await benchDriver(name))
}
out('\n### Driver-level timing overhead (postgres.js)\n')
const o = await overhead()
const isoOutside = o.outside.ours - o.outside.raw
const isoInside = o.inside.ours - o.inside.raw
const isoPublished = o.published.ours - o.published.raw
out('| measurement | raw µs | instrumented µs | added µs per statement |')
out('| --- | ---: | ---: | ---: |')
out(
  `| isolated: unsafe() + settle, no span (blocks of 10,000 calls alternating, median of 60) | ${o.outside.raw.toFixed(2)} | ${o.outside.ours.toFixed(2)} | ${isoOutside.toFixed(2)} |`,
)
out(
  `| isolated: same, inside a timeQuery span (N+1 counting on) | ${o.inside.raw.toFixed(2)} | ${o.inside.ours.toFixed(2)} | ${isoInside.toFixed(2)} |`,
)
out(
  `| isolated: same, no span, with a \`bookgen:db:query\` subscriber (caller's async context captured and restored per message) | ${o.published.raw.toFixed(2)} | ${o.published.ours.toFixed(2)} | ${isoPublished.toFixed(2)} |`,
)
out(
  `| end to end: \`select 1\` through drizzle (500 round trips, median of 15) | ${o.e2eRaw.toFixed(1)} | ${o.e2eOurs.toFixed(1)} | ${(o.e2eOurs - o.e2eRaw).toFixed(1)} (noise: several µs) |`,
)

if (only !== 'overhead') {
  out('\n## Summary against the targets\n')
  out('| target | postgres-js | pglite |')
  out('| --- | --- | --- |')
  const row = (label: string, f: (s: Summary) => string) =>
    out(`| ${label} | ${results.map(f).join(' | ')} |`)
  row(
    'batchInsert ≥ 50× row-by-row',
    (s) => `${ratio(s.ours, s.rowByRow)} — ${verdict(s.ours / s.rowByRow >= 50)}`,
  )
  row(
    'batchInsert ≥ 5× drizzle chunks of 1,000 (transactional)',
    (s) => `${ratio(s.ours, s.chunks)} — ${verdict(s.ours / s.chunks >= 5)}`,
  )
  row(
    'batchInsert within 1.5× of COPY',
    (s) => `COPY is ${ratio(s.copy, s.ours)} ours — ${verdict(s.copy / s.ours <= 1.5)}`,
  )
  row(
    'batchUpdate ≥ 20× one UPDATE per row',
    (s) => `${ratio(s.update, s.updateOne)} — ${verdict(s.update / s.updateOne >= 20)}`,
  )
  row(
    '100 × 20 eager/selectin ≥ 10× N+1, ≤ 2 statements',
    (s) =>
      `eager ${s.eager.toFixed(1)}× (${s.eagerStatements} stmt), selectin ${s.selectin.toFixed(1)}× (${s.selectinStatements} stmt) vs ${s.loopStatements} — ${verdict(Math.min(s.eager, s.selectin) >= 10 && Math.max(s.eagerStatements, s.selectinStatements) <= 2)}`,
  )
  out(
    `| timing overhead ≤ 5 µs per statement | ${isoOutside.toFixed(2)} µs (${isoInside.toFixed(2)} in a span, ${isoPublished.toFixed(2)} publishing) — ${verdict(Math.max(isoOutside, isoInside, isoPublished) <= 5)} | same wrapper (not measured separately) |`,
  )

  out('\n## Where a target is missed, and why\n')
  const pg = results[0] as Summary
  const lite = results[1] as Summary
  if (lite.ours / lite.rowByRow < 50 || lite.update / lite.updateOne < 20) {
    out(
      `- **PGlite, bulk vs row-by-row** (${ratio(lite.ours, lite.rowByRow)} insert, ${ratio(lite.update, lite.updateOne)} update): the 50×/20× targets were calibrated on a PostgreSQL server reached over a socket, where row-by-row pays a round trip per row. PGlite runs in-process: a single-row statement costs ~${(1000 / lite.rowByRow).toFixed(2)} ms of WASM parse/plan/execute and no network, while the bulk path is bounded by PGlite's own executor (it beats PGlite's COPY here). On postgres.js the same code reaches ${ratio(pg.ours, pg.rowByRow)} and ${ratio(pg.update, pg.updateOne)}.`,
    )
  }
  if (pg.copy / pg.ours > 1.5 || lite.copy / lite.ours > 1.5) {
    out(
      `- **COPY vs batchInsert on postgres.js** (COPY ${ratio(pg.copy, pg.ours)} faster in this run): the server does more work for unnest than for COPY (each column arrives as one text[] literal that is parsed, unnested, then cast per element; COPY parses each field once), and the client serializes 8 arrays through postgres.js (~2 µs a row, measured with --cpu-prof) where COPY streams lines. Most of the wall time is the server's: the client is idle ~55 % of a load. The ratio moves a lot between runs on this shared machine (1.1× in an earlier run of the same code, 1.9× in another).`,
    )
  }
  if (Math.min(pg.eager, pg.selectin, lite.eager, lite.selectin) < 10) {
    out(
      `- **Eager/select-in vs N+1** (${pg.eager.toFixed(1)}×/${pg.selectin.toFixed(1)}× on postgres.js, ${lite.eager.toFixed(1)}×/${lite.selectin.toFixed(1)}× on PGlite, in 1 and 2 statements instead of ${pg.loopStatements}): both sides decode the same 2,000 child rows of 9 columns (jsonb parsed, timestamps turned into Date by drizzle), and on this loaded 2-core machine that decoding alone takes several ms. The N+1 loop only adds ${pg.loopStatements - 1} extra round trips over loopback (~${((pg.loop - pg.loop / pg.eager) / (pg.loopStatements - 1)).toFixed(2)} ms each here); the ratio is (101 round trips + decode) / (1 round trip + decode), which reaches 10× only when a round trip costs at least a tenth of the decoding time (here about 1.2 ms, e.g. a database in another availability zone). On PGlite there is no round trip at all, so only per-statement planning is saved.`,
    )
  }
  out(
    '- **Timing overhead**: the isolated figure is the difference between two medians of a loop that mostly measures postgres.js creating Query objects; ~40 % of that loop is garbage collection, so the figure moves by ±1–2 µs between runs. Inside a `timeQuery` span, Node 20 runs AsyncLocalStorage promise hooks on every promise, which costs the raw side too. End to end, the difference is within the noise of a loopback round trip (tens of µs on this machine).',
  )

  if (process.env.BENCH_WRITE !== '0') {
    writeFileSync(new URL('./RESULTS.md', import.meta.url), `${lines.join('\n')}\n`)
  }
}
