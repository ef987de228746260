import { mkdir } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { type Cache, MemoryCache, RedisCache } from '@bookgen/cache'
import { QueryOptimizer } from '@bookgen/db-optimizer'
import { ParallelTaskExecutor, ValidationParallelizer } from '@bookgen/parallel'
import { performanceProfile } from '@bookgen/profiler'
import { emptyForColdRun } from './coldCache.js'
import { findFigure } from './corpus/figures.js'
import { type DatabaseTarget, openDatabase } from './db/database.js'
import { runNaive } from './naivePipeline.js'
import { runOptimized, type Workers } from './optimizedPipeline.js'
import type { FetchPolicy } from './pageFetcher.js'
import { Progress } from './progress.js'
import { newRunCounters, type RunContext } from './runContext.js'
import type { RunResult, Variant } from './runTypes.js'
import { termVectorTask } from './workerTasks.js'

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
  /** Where the `distributed` variant sends its tasks (required when it runs). */
  distributed?: DistributedConfig
}

/** The queue and the workers behind it, for the `distributed` variant. */
export interface DistributedConfig {
  /** The run's BullMQ queue, served by the `bookgen-worker` processes. */
  queue: string
  /** Worker processes serving it. */
  workers: number
  /** Worker threads of each. */
  threadsPerWorker: number
  /** Chunks (jobs) in flight at once: the `bullmqBackend` concurrency. */
  concurrency: number
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
  let remote: ParallelTaskExecutor | undefined
  const progress = new Progress(config.progress)
  const results: RunResult[] = []
  try {
    if (config.variants.includes('distributed')) remote = await remoteExecutor(config)
    for (const variant of config.variants) {
      // Both cold runs start from an empty cache; the warm run finds what the cold one stored.
      if (variant === 'optimized-cold' || variant === 'distributed') await emptyForColdRun(cache)
      const outDir = join(config.outDir, variant)
      await mkdir(outDir, { recursive: true })
      const shared = { config, figures, db: database.db, cache, progress, outDir }
      const workers = {
        executor: variant === 'distributed' && remote ? remote : executor,
        parallelizer,
      }
      results.push(await runVariant(shared, variant, workers))
    }
  } finally {
    progress.stop()
    await executor.close()
    await remote?.close()
    await parallelizer.close()
    await cache.close()
    await database.close()
  }
  return results
}

/** Runs one variant inside its own profile and returns everything measured about it. */
async function runVariant(
  shared: {
    config: RunConfig
    figures: RunContext['figures']
    db: RunContext['db']
    cache: Cache
    progress: Progress
    outDir: string
  },
  variant: Variant,
  workers: Workers,
): Promise<RunResult> {
  const { config, progress } = shared
  const nPlusOne: string[] = []
  // Slow-statement warnings go above the progress bars, not through them.
  const optimizer = new QueryOptimizer(shared.db, {
    onNPlusOne: (warning) => nPlusOne.push(warning.message),
    logger: { warn: config.quiet ? () => {} : (message: string) => progress.log(message) },
  })
  const ctx: RunContext = {
    corpusBaseUrl: config.corpusBaseUrl,
    db: shared.db,
    optimizer,
    figures: shared.figures,
    outDir: shared.outDir,
    progress,
    cache: shared.cache,
    fetchPolicy: config.fetchPolicy,
  }
  shared.cache.resetStats()
  const counters = newRunCounters()
  let figures: RunResult['figures'] = []
  const prof = await performanceProfile(
    async () => {
      if (variant === 'naive') {
        figures = await runNaive(ctx, counters)
      } else if (variant === 'distributed') {
        // The workers' threads start with the first validations they receive.
        figures = await runOptimized(ctx, counters, workers, variant)
      } else {
        // Start the worker threads while the sources are fetched (I/O), not after.
        const warmUp = workers.executor.mapParallel(termVectorTask, [''])
        figures = await runOptimized(ctx, counters, workers, variant)
        await warmUp
      }
    },
    // The exact heap peak: a run profiles a handful of variants, so what a stopped GC profiler
    // costs until V8's next full collection does not matter here.
    { name: variant, sampleIntervalMs: 20, heapPeak: 'gc' },
  )
  optimizer.close()
  const m = prof.getMetrics()
  // The profile's own query figures are the ones reported; the QueryOptimizer, which times the
  // same statements at the driver, is the cross-check.
  const stats = optimizer.getQueryStats()
  const optimizerDbQueries = {
    count: stats.all.count,
    avgMs: stats.all.avgMs,
    p50Ms: stats.all.p50Ms,
    p95Ms: stats.all.p95Ms,
    maxMs: stats.all.maxMs,
  }
  const dbQueryCount = m.dbQueries.count
  const dbQueryAvgMs = m.dbQueries.avg * 1000
  return {
    variant,
    durationMs: m.duration * 1000,
    memoryPeak: m.memoryPeak,
    memoryPeakSource: m.memoryPeakSource,
    memoryStart: m.memoryStart,
    heapPeak: m.heapPeak,
    dbQueryCount,
    dbQueryAvgMs,
    dbQueryP50Ms: m.dbQueries.p50 * 1000,
    dbQueryP95Ms: m.dbQueries.p95 * 1000,
    dbQueryMaxMs: m.dbQueries.max * 1000,
    optimizerDbQueries,
    dbQueryCrossCheck: queriesAgree({ dbQueryCount, dbQueryAvgMs }, optimizerDbQueries),
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
    nPlusOneWarnings: nPlusOne,
    slowestStatements: Object.entries(stats.byShape)
      .sort((a, b) => b[1].totalMs - a[1].totalMs)
      .slice(0, 8)
      .map(([shape, s]) => ({
        shape: shape.length > 160 ? `${shape.slice(0, 157)}...` : shape,
        count: s.count,
        avgMs: round(s.avgMs),
        maxMs: round(s.maxMs),
        totalMs: round(s.totalMs),
      })),
    profile: prof.toJSON() as unknown as Record<string, unknown>,
    ...(variant === 'distributed' && config.distributed
      ? {
          distributed: {
            workers: config.distributed.workers,
            threadsPerWorker: config.distributed.threadsPerWorker,
            queue: config.distributed.queue,
            sent: {
              validations: counters.validationTotal - counters.validationFromCache,
              embeddings: counters.embeddingsComputed,
              total:
                counters.validationTotal -
                counters.validationFromCache +
                counters.embeddingsComputed,
            },
            // Filled in by the process that ran the workers, once they stopped.
            perWorker: [],
            readyMs: 0,
            exits: [],
          },
        }
      : {}),
  }
}

/**
 * The executor of the distributed run: its worker tasks go through `bullmqBackend` to the
 * `bookgen-worker` processes serving the run's queue (loaded only for that run).
 */
async function remoteExecutor(config: RunConfig): Promise<ParallelTaskExecutor> {
  const { distributed, redisUrl } = config
  if (!distributed || !redisUrl) {
    throw new Error('the distributed variant needs config.distributed and config.redisUrl')
  }
  const [{ bullmqBackend }, { default: tasks }] = await Promise.all([
    import('@bookgen/parallel/bullmq'),
    import('./workerTasks.js'),
  ])
  return new ParallelTaskExecutor({
    backend: bullmqBackend({
      connection: redisUrl,
      queue: distributed.queue,
      tasks,
      concurrency: distributed.concurrency,
    }),
  })
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
