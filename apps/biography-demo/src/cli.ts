#!/usr/bin/env node
import { type ChildProcess, fork } from 'node:child_process'
import { rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  assertWorkersHaveRedis,
  type CliArgs,
  parseCliArgs,
  serviceUrls,
  usage,
} from './cliArgs.js'
import { compareRuns, renderTable, verdictLine } from './comparison.js'
import { CorpusServer } from './corpus/corpusServer.js'
import { figures } from './corpus/figures.js'
import { DemoError, DemoErrorCode, exitCodeFor, maskUrl } from './demoError.js'
import { renderReport } from './htmlReport.js'
import { OutputFolder } from './outputFolder.js'
import { defaultFetchPolicy } from './pageFetcher.js'
import { progressEnabled } from './progress.js'
import { redisPing } from './redisPing.js'
import type { RunResult, Variant } from './runTypes.js'
import type { DistributedConfig, RunConfig } from './variantRunner.js'

const memoryNoteCompare =
  'Peak memory: each comparison runs in fresh child processes (naive in one; optimized cold then warm in another, so the warm run finds the cold run’s cache). The profiler resets the kernel RSS high-water mark (VmHWM) when each profile starts, so each peak covers that run only; the warm peak also holds what the cold run left behind.'
const memoryNoteSingle =
  'Peak memory: one optimized run in this process; the profiler resets the kernel RSS high-water mark (VmHWM) when the profile starts.'

const memoryNoteDistributed =
  ' The distributed run has a child process of its own; the memory of its bookgen-worker processes is not part of its peak.'

async function main(argv: readonly string[]): Promise<number> {
  let args: CliArgs | undefined
  try {
    args = parseCliArgs(argv)
    if (args.internalRun) return await child()
    if (args.help) {
      process.stdout.write(`${usage}\n`)
      return 0
    }
    return await run(args)
  } catch (error) {
    return report(error, args?.debug ?? argv.includes('--debug'))
  }
}

async function run(args: CliArgs): Promise<number> {
  const { redisUrl, databaseUrl } = serviceUrls(process.env)
  assertWorkersHaveRedis(args.workers, { redisUrl })
  // The database drivers, PGlite and the four packages load only for a run (`--help` and bad
  // arguments answer without them).
  const { prepareDatabase, removeTemporaryData, resolveDatabaseTarget } = await import(
    './db/database.js'
  )
  const { defaultParallelism, runVariants } = await import('./variantRunner.js')
  const log = (line: string) => {
    if (!args.quiet) process.stdout.write(`${line}\n`)
  }

  const output = await OutputFolder.open(args.out)
  const server = new CorpusServer({ latencyFactor: args.corpusLatency, faults: args.corpusFaults })
  const target = await resolveDatabaseTarget({
    databaseUrl,
    dataDir: args.dataDir,
    schema: args.dbSchema,
  })
  let committed = false
  // Ctrl-C or a TERM: stop the child runs and the workers, and leave nothing half-written behind.
  const onSignal = (signal: NodeJS.Signals) => {
    stopChildren()
    if (!committed) output.discardSync()
    if (target.kind === 'pglite' && target.temporary) {
      rmSync(target.dataDir, { recursive: true, force: true })
    }
    process.stderr.write(`\ninterrupted (${signal}): nothing was written to ${output.path}\n`)
    void import('./distributedRun.js')
      .then(({ stopDistributedRuns }) => stopDistributedRuns(5000))
      .finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    if (redisUrl) {
      await redisPing(redisUrl).catch((error: Error) => {
        throw new DemoError(
          DemoErrorCode.REDIS_UNREACHABLE,
          `Cannot connect to Redis at ${maskUrl(redisUrl)}: ${error.message}`,
          { cause: error },
        )
      })
    }
    const setupStarted = performance.now()
    const database = await prepareDatabase(target)
    const cacheLabel = redisUrl
      ? `Redis ${maskUrl(redisUrl)} (namespace ${args.cacheNamespace})`
      : 'in-process MemoryCache'
    process.stdout.write(`BookGen demo — cache: ${cacheLabel} · database: ${database.label}\n`)
    log(`database ready in ${(performance.now() - setupStarted).toFixed(0)} ms`)

    const baseUrl = await server.start()
    if (args.defaulted) log(`no character given: writing ${args.figures[0]!.name} (see --help)`)
    log(
      `corpus server on ${baseUrl} · ${args.figures.map((f) => `${f.name} (${server.sourceCount(f)} sources)`).join(', ')}`,
    )

    const config = (variants: Variant[], distributed?: DistributedConfig): RunConfig => ({
      corpusBaseUrl: baseUrl,
      figures: args.figures.map((f) => f.slug),
      variants,
      outDir: output.staging,
      database: target,
      ...(redisUrl ? { redisUrl } : {}),
      cacheNamespace: args.cacheNamespace,
      progress: progressEnabled(args.quiet),
      quiet: args.quiet,
      ...defaultParallelism(),
      fetchPolicy: { ...defaultFetchPolicy, idleTimeoutMs: args.fetchTimeoutMs },
      ...(distributed ? { distributed } : {}),
    })
    const runs: RunResult[] = []
    const childRuns = (args.compare ? 2 : 0) + (args.workers !== undefined ? 1 : 0)
    if (args.compare) {
      log(`running naive (child process 1/${childRuns}) …`)
      runs.push(...(await runInChild(config(['naive']), args.debug)))
      log(`running optimized cold, then warm (child process 2/${childRuns}) …`)
      runs.push(...(await runInChild(config(['optimized-cold', 'optimized-warm']), args.debug)))
    } else {
      log('running optimized …')
      runs.push(...(await runVariants(config(['optimized-cold']))))
    }
    if (args.workers !== undefined && redisUrl) {
      const { runDistributed } = await import('./distributedRun.js')
      runs.push(
        await runDistributed({
          workers: args.workers,
          redisUrl,
          namespace: args.cacheNamespace,
          log,
          onWorkerLine: args.debug ? (line) => process.stderr.write(`${line}\n`) : undefined,
          runChild: (distributed) => runInChild(config(['distributed'], distributed), args.debug),
          stopChild: stopChildren,
        }),
      )
    }

    const { comparison, targets } = compareRuns(runs)
    process.stdout.write(`\n${renderTable(runs, targets)}\n\n`)
    const generatedAt = new Date().toISOString()
    const backends = { cache: cacheLabel, database: database.label }
    const memoryMeasurement = `${args.compare ? memoryNoteCompare : memoryNoteSingle}${args.workers === undefined ? '' : memoryNoteDistributed}`
    const metrics = {
      version: 1,
      generatedAt,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      backends,
      figures: args.figures.map((f) => f.slug),
      memoryMeasurement,
      comparison,
      targets,
      runs,
    }
    await writeFile(join(output.staging, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`)
    await writeFile(
      join(output.staging, 'report.html'),
      renderReport({ generatedAt, backends, runs, comparison, targets, memoryMeasurement }),
    )
    // The reference biography is the naive run's (the plain path); a variant that wrote a
    // different one is kept beside it as <slug>.<variant>.md, for a diff.
    const reference = runs[0]!
    const differing = runs.slice(1).flatMap((r) =>
      r.figures.flatMap((f) => {
        const expected = reference.figures.find((e) => e.slug === f.slug)
        return expected?.sha256 === f.sha256
          ? []
          : [{ from: join(r.variant, f.file), name: f.file.replace(/\.md$/, `.${r.variant}.md`) }]
      }),
    )
    const written = await output.commit(
      [
        ...reference.figures.map((f) => ({ from: join(reference.variant, f.file), name: f.file })),
        ...differing,
        { from: 'metrics.json', name: 'metrics.json' },
        { from: 'report.html', name: 'report.html' },
      ],
      isDemoOutput,
    )
    committed = true
    process.stdout.write(`wrote ${written.join(', ')}\n`)
    const verdict = verdictLine(comparison)
    if (verdict === undefined) return 0
    process.stderr.write(`${comparison.differences.map((d) => `  ${d}\n`).join('')}\n${verdict}\n`)
    return exitCodeFor(DemoErrorCode.OUTPUTS_DIFFER)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    if (!committed) await output.discard()
    await server.close()
    await removeTemporaryData(target)
  }
}

const children = new Set<ChildProcess>()

/** Stops the child runs now (SIGTERM). */
function stopChildren(): void {
  for (const child of children) child.kill('SIGTERM')
}

const variants: readonly Variant[] = ['naive', 'optimized-cold', 'optimized-warm', 'distributed']

/** Whether a file name is one the demo writes (so an earlier run's copy may be replaced). */
function isDemoOutput(name: string): boolean {
  if (name === 'metrics.json' || name === 'report.html') return true
  return figures.some(
    (f) => name === `${f.slug}.md` || variants.some((v) => name === `${f.slug}.${v}.md`),
  )
}

/** Runs variants in a child process (fresh memory), returns their results. */
function runInChild(config: RunConfig, debug: boolean): Promise<RunResult[]> {
  const script = fileURLToPath(import.meta.url)
  return new Promise((resolve, reject) => {
    const proc = fork(
      script,
      // The config (URLs with passwords) goes over IPC, never on the command line.
      ['--internal-run', ...(debug ? ['--debug'] : [])],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: process.env,
      },
    )
    children.add(proc)
    proc.send(config)
    let results: RunResult[] | undefined
    let failure: { code: DemoErrorCode; message: string } | undefined
    proc.on(
      'message',
      (message: { results?: RunResult[]; error?: { code: DemoErrorCode; message: string } }) => {
        if (message.results) results = message.results
        if (message.error) failure = message.error
      },
    )
    proc.on('error', reject)
    proc.on('exit', (code, signal) => {
      children.delete(proc)
      if (results && code === 0) resolve(results)
      else if (failure) reject(new DemoError(failure.code, failure.message))
      else
        reject(
          new DemoError(
            DemoErrorCode.RUN_FAILED,
            `the ${config.variants.join('/')} run exited with ${signal ?? `code ${code}`}`,
          ),
        )
    })
  })
}

async function child(): Promise<number> {
  if (!process.send) {
    throw new DemoError(
      DemoErrorCode.BAD_ARGUMENT,
      '--internal-run is used by the demo for its child processes only',
    )
  }
  const config = await new Promise<RunConfig>((resolve) =>
    process.once('message', (message) => resolve(message as RunConfig)),
  )
  try {
    const { runVariants } = await import('./variantRunner.js')
    const results = await runVariants(config)
    await new Promise<void>((resolve) => process.send!({ results }, () => resolve()))
    return 0
  } catch (error) {
    const code = error instanceof DemoError ? error.code : DemoErrorCode.RUN_FAILED
    const message = error instanceof Error ? error.message : String(error)
    if (process.argv.includes('--debug'))
      process.stderr.write(`${(error as Error).stack ?? message}\n`)
    await new Promise<void>((resolve) =>
      process.send!({ error: { code, message } }, () => resolve()),
    )
    return 1
  }
}

function report(error: unknown, debug: boolean): number {
  if (error instanceof DemoError) {
    process.stderr.write(`error: ${error.message}\n`)
    if (debug)
      process.stderr.write(
        `${error.stack}\n${error.cause ? `cause: ${String((error.cause as Error).stack ?? error.cause)}\n` : ''}`,
      )
    return exitCodeFor(error.code)
  }
  const message = error instanceof Error ? error.message : String(error)
  process.stderr.write(`error: ${message}${debug ? '' : ' (run with --debug for details)'}\n`)
  if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`)
  return 1
}

// `bookgen-demo … | head` closes stdout early: keep running so that the cleanup still happens.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
  })
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error) => {
    process.stderr.write(`error: ${String(error)}\n`)
    process.exitCode = 1
  },
)
