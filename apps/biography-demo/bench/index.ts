// Measures the demo's targets: runs the built CLI (naive vs optimized cold vs warm, one invocation
// each) several times on the embedded defaults and on the real servers, then writes RESULTS.md.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RedisCache } from '@bookgen/cache'
import postgres from 'postgres'
import type { TargetCheck } from '../src/comparison.js'
import type { RunResult } from '../src/runTypes.js'

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const resultsFile = fileURLToPath(new URL('../RESULTS.md', import.meta.url))
const repeats = Number(process.env.BENCH_RUNS ?? 3)
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'
const schema = 'bookgen_demo_bench'
const namespace = 'bookgen-demo-bench'

interface Metrics {
  runs: RunResult[]
  comparison: {
    speedupCold: number
    speedupWarm: number
    memoryReduction: number
    runMemoryReduction: number
    outputsIdentical: boolean
  }
  targets: TargetCheck[]
}

interface Case {
  label: string
  args: string[]
  env: Record<string, string | undefined>
}

const embedded = { REDIS_URL: undefined, DATABASE_URL: undefined }
const services = { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl }
const cases: Case[] = [
  { label: 'embedded (MemoryCache + PGlite), Marie Curie', args: ['Marie Curie'], env: embedded },
  { label: 'real servers (Redis + PostgreSQL), Marie Curie', args: ['Marie Curie'], env: services },
  { label: 'embedded, --characters all', args: ['--characters', 'all'], env: embedded },
  { label: 'real servers, --characters all', args: ['--characters', 'all'], env: services },
]

async function main(): Promise<void> {
  const started = new Date()
  const loadBefore = loadavg()[0]!
  const rows: { label: string; runs: Metrics[] }[] = []
  const invocations: string[] = []
  for (const c of cases) {
    const runs: Metrics[] = []
    const times = c.args.includes('all') ? 1 : repeats
    for (let i = 0; i < times; i++) {
      const metrics = await runOnce(c)
      runs.push(metrics)
      const [naive, cold, warm] = metrics.runs
      invocations.push(
        `${c.label} #${i + 1}: naive ${ms(naive!.durationMs)}, cold ${ms(cold!.durationMs)} (${metrics.comparison.speedupCold.toFixed(1)}×), warm ${ms(warm!.durationMs)} (${metrics.comparison.speedupWarm.toFixed(1)}×), peak ${mb(naive!.memoryPeak)} → ${mb(cold!.memoryPeak)}`,
      )
      console.log(invocations.at(-1))
    }
    rows.push({ label: c.label, runs })
  }
  await cleanUp()
  const loadAfter = loadavg()[0]!
  const text = render(rows, started, loadBefore, loadAfter, invocations)
  await writeFile(resultsFile, text)
  console.log(`\n${text}`)
}

async function runOnce(c: Case, attempt = 1): Promise<Metrics> {
  try {
    return await invoke(c)
  } catch (error) {
    // In the shared checkout a package's dist can vanish while its owner rebuilds it.
    if (attempt < 3 && String(error).includes('ERR_MODULE_NOT_FOUND')) {
      await new Promise((resolve) => setTimeout(resolve, 10_000))
      return runOnce(c, attempt + 1)
    }
    throw error
  }
}

async function invoke(c: Case): Promise<Metrics> {
  const out = await mkdtemp(join(tmpdir(), 'bookgen-demo-bench-'))
  try {
    const env: NodeJS.ProcessEnv = { ...process.env }
    for (const [k, v] of Object.entries(c.env)) {
      if (v === undefined) delete env[k]
      else env[k] = v
    }
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        [
          cli,
          ...c.args,
          '--out',
          out,
          '--quiet',
          '--db-schema',
          schema,
          '--cache-namespace',
          namespace,
        ],
        { env, maxBuffer: 16 * 1024 * 1024 },
        (error, _stdout, stderr) =>
          error ? reject(new Error(`${c.label}: ${stderr}`)) : resolve(),
      )
    })
    return JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')) as Metrics
  } finally {
    await rm(out, { recursive: true, force: true })
  }
}

function render(
  rows: { label: string; runs: Metrics[] }[],
  started: Date,
  loadBefore: number,
  loadAfter: number,
  invocations: readonly string[],
): string {
  const lines = [
    '# Demo: naive vs optimized biography generation',
    '',
    `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run bench\` in`,
    '`apps/biography-demo` (`tsx bench/index.ts`: the built CLI, one invocation = naive, optimized',
    `cold and optimized warm in the same invocation; ${repeats} invocations per single-figure case,`,
    'one for `--characters all`; medians shown). Machine: ' +
      `${cpus().length} shared cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version},`,
    `noisy: shared with other engineers' work (1-minute load average ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end).`,
    'Peak memory is the kernel RSS high-water mark of each run; naive runs in its own child process,',
    'optimized cold and warm in another (see docs/architecture.md). "Run memory" is peak − RSS at the start',
    'of the run: what the run itself added on top of node and the database engine.',
    '',
    "DB figures are each profile's own (`dbQueryAvg` and its query count, from `bookgen:db:query`);",
    '"profile = QueryOptimizer" says whether the run\'s QueryOptimizer counted the same statements with',
    'the same total time (±1 %) in every run of every invocation.',
    '',
    '| case | naive | opt. cold | opt. warm | cold speed-up (≥ 5×) | warm speed-up (≥ 10×) | peak naive → cold | peak lower (≥ 30 %) | run memory lower | queries naive → cold | DB avg worst (< 100 ms) | profile = QueryOptimizer | warm hit ratio (> 80 %) | same Markdown |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ]
  for (const row of rows) {
    const pick = (f: (m: Metrics) => number) => median(row.runs.map(f))
    const v = (i: number) => (m: Metrics) => m.runs[i]!
    const cold = pick((m) => m.comparison.speedupCold)
    const warm = pick((m) => m.comparison.speedupWarm)
    const mem = pick((m) => m.comparison.memoryReduction)
    const runMem = pick((m) => m.comparison.runMemoryReduction)
    const dbAvg = pick((m) => Math.max(...m.runs.map((r) => r.dbQueryAvgMs)))
    const hit = pick((m) => v(2)(m).cacheHitRatio)
    lines.push(
      `| ${row.label} | ${ms(pick((m) => v(0)(m).durationMs))} | ${ms(pick((m) => v(1)(m).durationMs))} | ${ms(pick((m) => v(2)(m).durationMs))} | ${mark(cold.toFixed(1) + '×', cold >= 5)} | ${mark(warm.toFixed(1) + '×', warm >= 10)} | ${mb(pick((m) => v(0)(m).memoryPeak))} → ${mb(pick((m) => v(1)(m).memoryPeak))} | ${mark(pct(mem), mem >= 0.3)} | ${pct(runMem)} | ${pick((m) => v(0)(m).dbQueryCount)} → ${pick((m) => v(1)(m).dbQueryCount)} | ${mark(dbAvg.toFixed(1) + ' ms', dbAvg < 100)} | ${row.runs.every((m) => m.runs.every((r) => r.dbQueryCrossCheck)) ? 'yes' : 'NO'} | ${mark(pct(hit), hit > 0.8)} | ${row.runs.every((m) => m.comparison.outputsIdentical) ? 'yes' : 'NO'} |`,
    )
  }
  const peak = Math.max(
    ...rows.flatMap((r) => r.runs.flatMap((m) => m.runs.map((x) => x.memoryPeak))),
  )
  const others = ['validations-parallel', 'embeddings-cached', 'lazy-loading'].map((id) => {
    const all = rows.flatMap((r) => r.runs.map((m) => m.targets.find((t) => t.id === id)!))
    return `${all[0]!.label}: ${all.every((t) => t.met) ? 'met in every invocation' : `missed in ${all.filter((t) => !t.met).length} of ${all.length}`} (e.g. ${all[0]!.measured})`
  })
  lines.push(
    '',
    `Memory peak < 1.5 GB: ${peak < 1.5 * 1024 ** 3 ? 'met' : 'MISSED'} (largest peak of every run: ${mb(peak)}).`,
    ...others.map((o) => `${o}.`),
    '',
    'Missed targets are marked **missed**. The peak-memory target compares the peak RSS of two whole',
    'processes, which includes what they hold before any work starts: with PGlite that is the embedded',
    'PostgreSQL itself, in both processes (see "Memory baseline on PGlite" below), so the peak falls by',
    'less than the memory the run itself adds ("run memory lower"). With the real servers the database',
    'runs in its own process and the baseline is node alone (about 75 MB).',
    'Timings on this shared machine vary from run to run by tens of percent.',
    '',
    'Every invocation:',
    '',
    ...invocations.map((line) => `- ${line}`),
    '',
    ...memoryBaseline,
  )
  return lines.join('\n')
}

// Measured by hand (2026-11-24, PGlite 0.5.16, a standalone script opening an existing data folder,
// then inserting 2,000 small rows); kept here so that a new bench run does not drop it.
const memoryBaseline = [
  '## Memory baseline on PGlite (investigated 2026-11-24)',
  '',
  'Is the ~330 MB that PGlite held in both processes real and unavoidable? Partly.',
  '',
  '- **`shared_buffers`: avoidable, now fixed.** PGlite starts PostgreSQL with its default',
  '  `shared_buffers = 128MB`, and that memory is touched at start. Opening an existing data folder',
  '  in a bare node process (46 MB RSS): 274–291 MB RSS once ready, 312–329 MB after inserting 2,000',
  "  rows with the default; 162–169 MB and 192–209 MB with `-c shared_buffers=16MB`. The demo's",
  '  database is a few MB, so the demo now passes `shared_buffers=16MB` to PGlite (`pgliteSettings` in',
  '  `src/db/database.ts`) in **both** variants. Before that (the 12:56 run of this file) the',
  '  peaks were 413 → 377 MB (Marie Curie, −9 %) and 450 → 400 MB (all figures, −11 %) on embedded',
  '  defaults; compare the table above.',
  '- **The rest: unavoidable in-process.** What remains (~120 MB over bare node once ready, ~150 MB',
  "  when the profile starts) is PGlite's WebAssembly PostgreSQL: the compiled module, its file-system",
  "  bundle and the memory it touches. PGlite 0.5.16's `initialMemory` option sizes only the `initdb`",
  "  module (the main module's 128 MB initial wasm memory is fixed, and untouched pages are not RSS);",
  '  there is no other memory setting. Only a database in another process (the real-servers case)',
  '  removes it from the measured process.',
  '- **`initdb`: once per machine.** Creating a fresh PGlite cluster took a bare node process to',
  '  770–850 MB RSS, and `/usr/bin/time -v` reported a maximum RSS of 772 MB for a whole `--compare`',
  '  invocation on Ada Lovelace when the CLI parent ran it for every invocation. An empty data folder',
  '  now starts as a copy of a migrated snapshot (`src/db/pgliteSnapshot.ts`), built once per machine:',
  '  with the snapshot in place the same invocation peaked at 300 MB (2026-12-01). Neither is part of a',
  '  measured run (each run opens the folder in a child process).',
  '- **The naive variant was not made more wasteful.** It already does what the issue describes',
  '  (no cache, sequential validation, whole pages kept, main-thread embeddings, row-by-row writes,',
  '  N+1 reads with every column, the Markdown built as one string).',
  '- **Verdict.** The memory the runs themselves add is 39–63 % lower optimized ("run memory',
  '  lower"). The whole-process peak target (≥ 30 %) depends on the case and varies between',
  '  invocations by several points: with one figure on PGlite the remaining ~150 MB baseline keeps',
  '  it well short (about 15 %); with every figure it is around the line on both backends (see the',
  '  table: single invocations).',
  '',
]

async function cleanUp(): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  await sql.unsafe(`drop schema if exists "${schema}" cascade`)
  await sql.end()
  const cache = new RedisCache({ url: redisUrl, namespace })
  await cache.clear()
  await cache.close()
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function mark(text: string, met: boolean): string {
  return met ? text : `${text} **missed**`
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(0)} ms`
}

function mb(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(0)} MB`
}

function pct(value: number): string {
  return `${(value * 100).toFixed(0)} %`
}

await main()
