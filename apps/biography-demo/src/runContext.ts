import type { Cache } from '@bookgen/cache'
import type { QueryOptimizer } from '@bookgen/db-optimizer'
import type { Figure } from './corpus/figures.js'
import type { DemoDatabase } from './db/database.js'
import type { FetchedPage, FetchPolicy } from './pageFetcher.js'
import type { Progress } from './progress.js'
import { emptyStages, type StageTimes } from './runTypes.js'

/** What a pipeline run gets from the CLI. */
export interface RunContext {
  /** Base URL of the corpus server. */
  readonly corpusBaseUrl: string
  readonly db: DemoDatabase
  /** Times every query and publishes it on `bookgen:db:query`. */
  readonly optimizer: QueryOptimizer
  readonly figures: readonly Figure[]
  /** Folder the Markdown files are written to. */
  readonly outDir: string
  readonly progress: Progress
  /** The cache of the optimized pipeline (unused by the naive one). */
  readonly cache: Cache
  /** Deadlines and retries of page fetches, the same for every variant. */
  readonly fetchPolicy: FetchPolicy
}

/** Counters a pipeline fills while it runs. */
export interface RunCounters {
  stages: StageTimes
  validationBusyMs: number
  validationFromCache: number
  validationTotal: number
  validationMaxInFlight: number
  embeddingsTotal: number
  embeddingsComputed: number
  embeddingsFromCache: number
  chaptersLoadedOnDemand: number
  chaptersTotal: number
  /** Chapter or source rows that came back from the initial read with their `content`. */
  rowsWithContentInInitialRead: number
  bytesFetched: number
  /** Fetch attempts made, retries included. */
  fetchAttempts: number
  /** Pages that still failed transiently after every retry. */
  fetchFailures: number
}

/** Counters of a run that has not started: every count at zero. */
export function newRunCounters(): RunCounters {
  return {
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
}

/** Adds one fetched page (all its attempts) to the counters. */
export function countFetch(counters: RunCounters, page: FetchedPage): void {
  counters.validationBusyMs += page.fetchMs
  counters.bytesFetched += page.bytes
  counters.fetchAttempts += page.attempts
  if (page.failure) counters.fetchFailures++
}

/** Measures `fn` and adds its wall time to `stages[stage]`. */
export async function timed<T>(
  stages: StageTimes,
  stage: keyof StageTimes,
  fn: () => Promise<T> | T,
): Promise<T> {
  const started = performance.now()
  try {
    return await fn()
  } finally {
    stages[stage] += performance.now() - started
  }
}
