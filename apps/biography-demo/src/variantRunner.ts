import { mkdir } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { type Cache, MemoryCache, RedisCache } from '@bookgen/cache'
import { QueryOptimizer } from '@bookgen/db-optimizer'
import { ParallelTaskExecutor, ValidationParallelizer } from '@bookgen/parallel'
import { performanceProfile } from '@bookgen/profiler'
import { findFigure } from './corpus/figures.js'
import { type DatabaseTarget, openDatabase } from './db/database.js'
import { runNaive } from './naivePipeline.js'
import { runOptimized, termVectorTask } from './optimizedPipeline.js'
import type { FetchPolicy } from './pageFetcher.js'
import { Progress } from './progress.js'
import type { RunContext, RunCounters } from './runContext.js'
import { emptyStages, type RunResult, type Variant } from './runTypes.js'

/** What a process running variants needs (sent by the CLI to its child processes). */
export interface RunConfig {
  corpusBaseUrl: string
  /** Figure slugs. */
  figures: string[]
  /** Run in this order, in this process. */
  variants: Variant[]
  /** Each variant writes its Markdown to `<outDir>/<variant>/`. */
  outDir: string
  database: DatabaseTarget
  /** Redis URL; the in-memory cache when absent. */
  redisUrl?: string
  cacheNamespace: string
  progress: boolean
  /** Silence the QueryOptimizer's slow-span warnings. */
  quiet: boolean
  /** Worker threads for embeddings. */
  threads: number
  /** Validations in flight at once. */
  concurrency: number
  /** Deadlines and retries of page fetches. */
  fetchPolicy: FetchPolicy
}

/** Default worker threads and validation concurrency for this machine. */
export function defaultParallelism(): { threads: number; concurrency: number } {
  return { threads: Math.max(1, Math.min(4, availableParallelism() - 1)), concurrency: 16 }
}

/** Opens the backends, runs each variant inside its own `performanceProfile()`, closes them. */
export async function runVariants(config: RunConfig): Promise<RunResult[]> {
  const figures = config.figures.map((slug) => findFigure(slug)!)
  const database = await openDatabase(config.database)
  const cache: Cache = config.redisUrl
    ? new RedisCache({ url: config.redisUrl, namespace: config.cacheNamespace })
    : new MemoryCache({ namespace: config.cacheNamespace })
  const executor = new ParallelTaskExecutor({
    maxWorkers: Math.max(config.threads, config.concurrency),
    threads: config.threads,
  })
  const parallelizer = new ValidationParallelizer({ maxWorkers: config.concurrency })
  const progress = new Progress(config.progress)
  const results: RunResult[] = []
  try {
    if (config.variants.includes('optimized-cold')) await cache.clear()
    for (const variant of config.variants) {
      const outDir = join(config.outDir, variant)
      await mkdir(outDir, { recursive: true })
      const nPlusOne: string[] = []
      const optimizer = new QueryOptimizer(database.db, {
        onNPlusOne: (warning) => nPlusOne.push(warning.message),
        ...(config.quiet ? { logger: { warn: () => {} } } : {}),
      })
      const ctx: RunContext = {
        corpusBaseUrl: config.corpusBaseUrl,
        db: database.db,
        optimizer,
        figures,
        outDir,
        progress,
        cache,
        fetchPolicy: config.fetchPolicy,
      }
      cache.resetStats()
      const measured = await runVariant(ctx, variant, { executor, parallelizer })
      optimizer.close()
      // The profile's own query figures are the ones reported; the QueryOptimizer, which times
      // the same statements at the driver, is the cross-check.
      const all = optimizer.getQueryStats().all
      const optimizerDbQueries = {
        count: all.count,
        avgMs: all.avgMs,
        p50Ms: all.p50Ms,
        p95Ms: all.p95Ms,
        maxMs: all.maxMs,
      }
      const result: RunResult = {
        ...measured,
        optimizerDbQueries,
        dbQueryCrossCheck: queriesAgree(measured, optimizerDbQueries),
      }
      const statements = Object.entries(optimizer.getQueryStats().byShape)
        .sort((a, b) => b[1].totalMs - a[1].totalMs)
        .slice(0, 8)
        .map(([shape, s]) => ({
          shape: shape.length > 160 ? `${shape.slice(0, 157)}...` : shape,
          count: s.count,
          avgMs: round(s.avgMs),
          maxMs: round(s.maxMs),
          totalMs: round(s.totalMs),
        }))
      results.push({ ...result, nPlusOneWarnings: nPlusOne, slowestStatements: statements })
    }
  } finally {
    progress.stop()
    await executor.close()
    await parallelizer.close()
    await cache.close()
    await database.close()
  }
  return results
}

async function runVariant(
  ctx: RunContext,
  variant: Variant,
  workers: { executor: ParallelTaskExecutor; parallelizer: ValidationParallelizer },
): Promise<RunResult> {
  const counters: RunCounters = {
    stages: emptyStages(),
    validationBusyMs: 0,
    validationFromCache: 0,
    validationTotal: 0,
    validationMaxInFlight: 0,
    fetchAttempts: 0,
    fetchFailures: 0,
    embeddingsTotal: 0,
    embeddingsComputed: 0,
    embeddingsFromCache: 0,
    chaptersLoadedOnDemand: 0,
    chaptersTotal: 0,
    rowsWithContentInInitialRead: 0,
    bytesFetched: 0,
  }
  let figures: RunResult['figures'] = []
  const prof = await performanceProfile(
    async () => {
      if (variant === 'naive') {
        figures = await runNaive(ctx, counters)
      } else {
        // Start the worker threads while the sources are fetched (I/O), not after.
        const warmUp = workers.executor.mapParallel(termVectorTask, [''])
        figures = await runOptimized(ctx, counters, workers, variant)
        await warmUp
      }
    },
    { name: variant, sampleIntervalMs: 20 },
  )
  const m = prof.getMetrics()
  return {
    variant,
    durationMs: m.duration * 1000,
    memoryPeak: m.memoryPeak,
    memoryPeakSource: m.memoryPeakSource,
    memoryStart: m.memoryStart,
    heapPeak: m.heapPeak,
    dbQueryCount: m.dbQueries.count,
    dbQueryAvgMs: m.dbQueries.avg * 1000,
    dbQueryP50Ms: m.dbQueries.p50 * 1000,
    dbQueryP95Ms: m.dbQueries.p95 * 1000,
    dbQueryMaxMs: m.dbQueries.max * 1000,
    cacheHits: m.cacheHits,
    cacheMisses: m.cacheMisses,
    cacheHitRatio: m.cacheHitRatio,
    cpuPercent: m.cpuPercent,
    stages: counters.stages,
    validation: {
      total: counters.validationTotal,
      busyMs: counters.validationBusyMs,
      wallMs: counters.stages.validate,
      concurrency:
        counters.stages.validate > 0 ? counters.validationBusyMs / counters.stages.validate : 0,
      fromCache: counters.validationFromCache,
      maxInFlight: counters.validationMaxInFlight,
    },
    fetches: { attempts: counters.fetchAttempts, failures: counters.fetchFailures },
    embeddings: {
      total: counters.embeddingsTotal,
      computed: counters.embeddingsComputed,
      fromCache: counters.embeddingsFromCache,
      onWorkerThreads: variant !== 'naive',
    },
    lazy: {
      chapters: counters.chaptersTotal,
      loadedOnDemand: counters.chaptersLoadedOnDemand,
      contentInInitialRead: counters.rowsWithContentInInitialRead > 0,
    },
    bytesFetched: counters.bytesFetched,
    figures,
    optimizerDbQueries: { count: 0, avgMs: 0, p50Ms: 0, p95Ms: 0, maxMs: 0 },
    dbQueryCrossCheck: false,
    nPlusOneWarnings: [],
    slowestStatements: [],
    profile: prof.toJSON() as unknown as Record<string, unknown>,
  }
}

/**
 * Whether the profile and the QueryOptimizer saw the same statements: same count, and total
 * query time within 1 % (or 0.5 ms), since both time each statement at the driver.
 */
export function queriesAgree(
  profile: { dbQueryCount: number; dbQueryAvgMs: number },
  optimizer: { count: number; avgMs: number },
): boolean {
  if (profile.dbQueryCount !== optimizer.count) return false
  const a = profile.dbQueryAvgMs * profile.dbQueryCount
  const b = optimizer.avgMs * optimizer.count
  return Math.abs(a - b) <= Math.max(0.5, 0.01 * Math.max(a, b))
}

function round(value: number): number {
  return Math.round(value * 100) / 100
}
