/**
 * How a run does its work. `distributed` is the optimized pipeline on a cold cache with its
 * validations and embeddings sent to `bookgen-worker` processes (`--workers`).
 */
export type Variant = 'naive' | 'optimized-cold' | 'optimized-warm' | 'distributed'

/** What the distributed run sent to its worker processes, and which of them ran it. */
export interface DistributedStats {
  /** `bookgen-worker` processes started (`--workers`). */
  workers: number
  /** Worker threads of each process (`bookgen-worker --threads`). */
  threadsPerWorker: number
  /** The run's BullMQ queue (removed from Redis afterwards). */
  queue: string
  /** Tasks the caller sent: cache misses only (hits never leave the caller). */
  sent: { validations: number; embeddings: number; total: number }
  /**
   * Task executions by worker process, counted by the workers' task modules (one line per
   * execution in a file per worker thread, read after the workers stopped). Execution is at
   * least once: a task re-run after its worker died is counted by both workers.
   */
  perWorker: { pid: number; validations: number; embeddings: number; total: number }[]
  /** Milliseconds from spawning the workers until every one printed `ready`. */
  readyMs: number
  /** Exit code (or signal) of each worker after SIGTERM, in `perWorker` order. */
  exits: (number | string)[]
}

/** Wall time of each stage of a run, milliseconds (summed over figures). */
export interface StageTimes {
  search: number
  validate: number
  embed: number
  deduplicate: number
  chapters: number
  store: number
  read: number
  write: number
}

/** What one figure produced in one run. */
export interface FigureOutcome {
  slug: string
  name: string
  considered: number
  valid: number
  duplicates: number
  chapters: number
  citations: number
  conflicts: number
  /** Addresses of the sources the biography cites, by citation number. */
  sources: string[]
  /** Chapter titles, in order. */
  chapterTitles: string[]
  /** Sources that failed transiently (timeout, reset, 5xx) after every retry. */
  unreachable: string[]
  /** Output file name, relative to the output folder. */
  file: string
  /** SHA-256 of the Markdown written, to compare variants. */
  sha256: string
  bytes: number
}

/** Everything measured in one run (one variant). */
export interface RunResult {
  variant: Variant
  /** Wall time of the profiled run, milliseconds. */
  durationMs: number
  /** Peak RSS during the run, bytes, and how the profiler obtained it. */
  memoryPeak: number
  memoryPeakSource: string
  memoryStart: number
  heapPeak: number
  /**
   * Statements the profiler recorded inside the run's profile (`bookgen:db:query`, published by
   * `@bookgen/db-optimizer` for every statement): the profile's own query distribution.
   */
  dbQueryCount: number
  /** The profile's `dbQueryAvg`, milliseconds. */
  dbQueryAvgMs: number
  /** The profile's query p50 / p95 / max, milliseconds (p50/p95 from its histogram). */
  dbQueryP50Ms: number
  dbQueryP95Ms: number
  dbQueryMaxMs: number
  /**
   * The same statements as timed by the run's `QueryOptimizer` at the driver (exact
   * percentiles), reported next to the profile's figures as a cross-check.
   */
  optimizerDbQueries: {
    count: number
    avgMs: number
    p50Ms: number
    p95Ms: number
    maxMs: number
  }
  /** The profile and the QueryOptimizer counted the same statements with the same total time (±1 %). */
  dbQueryCrossCheck: boolean
  cacheHits: number
  cacheMisses: number
  cacheHitRatio: number
  /** Process CPU over wall time, percent; null for a run under 100 ms (the profiler's figure). */
  cpuPercent: number | null
  stages: StageTimes
  validation: {
    total: number
    /** Sum of the individual validation times, milliseconds. */
    busyMs: number
    /** Wall time of the validation stage, milliseconds. */
    wallMs: number
    /** busyMs / wallMs: how many validations ran at once on average. */
    concurrency: number
    fromCache: number
    /** Most validations in flight at one time (1 when they ran one after the other). */
    maxInFlight: number
  }
  /** Page fetch attempts (retries included) and pages still failing after every retry. */
  fetches: { attempts: number; failures: number }
  embeddings: { total: number; computed: number; fromCache: number; onWorkerThreads: boolean }
  /** `contentInInitialRead`: some chapter or source row of the read-back carried its `content`. */
  lazy: { chapters: number; loadedOnDemand: number; contentInInitialRead: boolean }
  /** Bytes downloaded from the corpus server. */
  bytesFetched: number
  figures: FigureOutcome[]
  /** N+1 patterns the QueryOptimizer detected during the run. */
  nPlusOneWarnings: string[]
  /** Statement shapes that took the most time in total (from the QueryOptimizer). */
  slowestStatements: {
    shape: string
    count: number
    avgMs: number
    maxMs: number
    totalMs: number
  }[]
  /** Full profiler metrics (`profile.toJSON()`). */
  profile: Record<string, unknown>
  /** The distributed run's workers and tasks (only on the `distributed` variant). */
  distributed?: DistributedStats
}

/** Emptied stage times. */
export function emptyStages(): StageTimes {
  return {
    search: 0,
    validate: 0,
    embed: 0,
    deduplicate: 0,
    chapters: 0,
    store: 0,
    read: 0,
    write: 0,
  }
}
