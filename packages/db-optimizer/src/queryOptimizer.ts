import { performance } from 'node:perf_hooks'
import type { SQLWrapper } from 'drizzle-orm'
import type { PgTable } from 'drizzle-orm/pg-core'
import { type BatchInsertOptions, batchInsert } from './batchInsert.js'
import { type BatchUpdateOptions, batchUpdate } from './batchUpdate.js'
import { DbOptimizerError } from './dbOptimizerError.js'
import { DurationStats, type DurationSummary } from './durationStats.js'
import { type ExplainOptions, type ExplainResult, explainQuery } from './explain.js'
import {
  type Instrumentation,
  instrumentMembers,
  runExempt,
  type Span,
  spanStorage,
} from './instrumentation.js'
import type { AnyPgDatabase, DriverName, QueryEvent } from './types.js'
import { checkNonNegative, checkPositiveInteger } from './validate.js'

/** Where warnings go. `console` fits. */
export interface WarningLogger {
  warn(message: string): void
}

/** One N+1 finding: a statement shape repeated inside one `timeQuery` span or `trackNPlusOne` scope. */
export interface NPlusOneWarning {
  /** Name of the span or tracked operation. */
  span: string
  /** The repeated statement's shape. */
  shape: string
  /** How many times it ran inside the span. */
  count: number
  /** The threshold it reached (`count >= threshold`). */
  threshold: number
  /** Ready-to-log text naming the span, shape and count. */
  message: string
}

/** Options of {@link QueryOptimizer}. */
export interface QueryOptimizerOptions {
  /**
   * A statement shape that runs this many times or more inside one `timeQuery` span is reported
   * as an N+1 pattern (once per span and shape). Not counted: the package's own batches,
   * transaction control (BEGIN, COMMIT, savepoints), keyset pagination (a range condition on a
   * parameter with `ORDER BY … LIMIT`) and queue polls (`FOR UPDATE SKIP LOCKED`).
   * @default 10
   */
  nPlusOneThreshold?: number
  /**
   * Receives each N+1 finding.
   * @default logs `warning.message` through `logger.warn`
   */
  onNPlusOne?: (warning: NPlusOneWarning) => void
  /**
   * `timeQuery` spans slower than this are logged through `logger.warn` (the original's
   * slow-query warning). `Infinity` turns it off.
   * @default 1000
   */
  slowQueryMs?: number
  /**
   * Where slow-span and N+1 warnings are written.
   * @default console
   */
  logger?: WarningLogger
  /**
   * Samples kept per statement shape and per span name for the percentiles (count, average and
   * max are exact over everything).
   * @default 1024
   */
  sampleLimit?: number
  /**
   * Distinct statement shapes tracked; statements of further shapes are counted under `'(other)'`.
   * @default 500
   */
  maxShapes?: number
}

/** Options of {@link QueryOptimizer.trackNPlusOne}. */
export interface TrackNPlusOneOptions {
  /**
   * Name given to the operation in warnings (`NPlusOneWarning.span`).
   * @default the function's name, or `'operation'` for an anonymous function
   */
  name?: string
  /**
   * A shape that runs this many times or more inside the operation is reported.
   * @default the optimizer's `nPlusOneThreshold`
   */
  threshold?: number
}

/** Statistics of one optimizer, all durations in milliseconds. */
export interface QueryStats {
  /** Every statement measured at the driver. */
  all: DurationSummary
  /** `timeQuery` spans, by name (the span's whole duration). */
  byName: Record<string, DurationSummary>
  /** Statements by shape. */
  byShape: Record<string, DurationSummary>
}

const DEFAULTS = {
  nPlusOneThreshold: 10,
  slowQueryMs: 1000,
  sampleLimit: 1024,
  maxShapes: 500,
} as const

/**
 * Times every statement a drizzle database runs (measured at the driver, grouped by statement
 * shape), adds named spans, detects N+1 patterns, and runs fast batch writes.
 *
 * ```ts no-run
 * const optimizer = new QueryOptimizer(db)
 * await optimizer.timeQuery('get_biographies', () => db.select().from(biographies))
 * optimizer.getAverageQueryTime() // seconds
 * ```
 */
export class QueryOptimizer {
  readonly #db: AnyPgDatabase
  /** The database's members: one, or the primary and each replica of a `withReplicas` db. */
  readonly #insts: Instrumentation[]
  readonly #threshold: number
  readonly #slowMs: number
  readonly #logger: WarningLogger
  readonly #onNPlusOne: ((warning: NPlusOneWarning) => void) | undefined
  readonly #sampleLimit: number
  readonly #maxShapes: number
  #all: DurationStats
  #byName = new Map<string, DurationStats>()
  #byShape = new Map<string, DurationStats>()
  #warnings: NPlusOneWarning[] = []
  readonly #listener: (event: QueryEvent) => void

  constructor(db: AnyPgDatabase, options: QueryOptimizerOptions = {}) {
    const threshold = options.nPlusOneThreshold ?? DEFAULTS.nPlusOneThreshold
    checkNonNegative('options.nPlusOneThreshold', threshold)
    const slowMs = options.slowQueryMs ?? DEFAULTS.slowQueryMs
    checkNonNegative('options.slowQueryMs', slowMs)
    const sampleLimit = options.sampleLimit ?? DEFAULTS.sampleLimit
    checkPositiveInteger('options.sampleLimit', sampleLimit)
    const maxShapes = options.maxShapes ?? DEFAULTS.maxShapes
    checkPositiveInteger('options.maxShapes', maxShapes)
    if (options.onNPlusOne !== undefined && typeof options.onNPlusOne !== 'function') {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        `options.onNPlusOne must be a function, got ${typeof options.onNPlusOne}`,
      )
    }
    this.#db = db
    this.#insts = instrumentMembers(db)
    this.#threshold = threshold
    this.#slowMs = slowMs
    this.#logger = options.logger ?? console
    this.#onNPlusOne = options.onNPlusOne
    this.#sampleLimit = sampleLimit
    this.#maxShapes = maxShapes
    this.#all = new DurationStats(sampleLimit)
    this.#listener = (event) => this.#onQuery(event)
    for (const inst of this.#insts) inst.listeners.add(this.#listener)
  }

  /** The drizzle database this optimizer watches. */
  get db(): AnyPgDatabase {
    return this.#db
  }

  /** Which driver the database runs on. */
  get driver(): DriverName {
    return (this.#insts[0] as Instrumentation).driver
  }

  /**
   * Runs `fn` as a named span: its duration is recorded under `name`, the statements it runs are
   * tagged with `name` (also on the diagnostics channel), and a statement shape repeated more than
   * `nPlusOneThreshold` times inside it is reported once as N+1. Returns what `fn` returns
   * (a drizzle query builder is awaited, i.e. executed, inside the span).
   */
  async timeQuery<T>(name: string, fn: () => T | PromiseLike<T>): Promise<Awaited<T>> {
    if (typeof name !== 'string' || name.length === 0) {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        `name must be a non-empty string, got ${String(name)}`,
      )
    }
    if (typeof fn !== 'function') {
      throw new DbOptimizerError('INVALID_ARGUMENT', `fn must be a function, got ${typeof fn}`)
    }
    const span = openSpan(name, true)
    const start = performance.now()
    let failed = false
    try {
      return await spanStorage.run(span, async () => await fn())
    } catch (error) {
      failed = true
      throw error
    } finally {
      const ms = performance.now() - start
      this.#stats(this.#byName, name).add(ms, failed)
      if (ms > this.#slowMs) {
        this.#logger.warn(
          `[db-optimizer] slow query span "${name}": ${ms.toFixed(1)} ms (threshold ${this.#slowMs} ms)`,
        )
      }
      this.#closeSpan(span, this.#threshold)
    }
  }

  /**
   * Scopes N+1 detection over any async operation (a request handler, a job, a whole page build):
   * every statement run by `fn` and by whatever it awaits or starts (concurrent branches
   * included) is counted by shape, and a shape that ran more than the threshold times is reported
   * once when `fn` settles. Unlike {@link QueryOptimizer.timeQuery} it records no span statistics,
   * logs no slow-span warning and does not rename the statements on the diagnostics channel, so
   * it fits around long operations. A shape already reported by a `timeQuery` span inside it is
   * not reported again. Returns what `fn` returns.
   */
  async trackNPlusOne<T>(
    fn: () => T | PromiseLike<T>,
    options: TrackNPlusOneOptions = {},
  ): Promise<Awaited<T>> {
    if (typeof fn !== 'function') {
      throw new DbOptimizerError('INVALID_ARGUMENT', `fn must be a function, got ${typeof fn}`)
    }
    if (options === null || typeof options !== 'object') {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        `options must be an object, got ${String(options)}`,
      )
    }
    const name = options.name ?? (fn.name === '' ? 'operation' : fn.name)
    if (typeof name !== 'string' || name.length === 0) {
      throw new DbOptimizerError(
        'INVALID_ARGUMENT',
        `options.name must be a non-empty string, got ${String(name)}`,
      )
    }
    const threshold = options.threshold ?? this.#threshold
    checkNonNegative('options.threshold', threshold)
    const span = openSpan(name, false)
    try {
      return await spanStorage.run(span, async () => await fn())
    } finally {
      this.#closeSpan(span, threshold)
    }
  }

  /** Mean execution time of every statement measured so far, in seconds (0 when none). */
  getAverageQueryTime(): number {
    return this.#all.count === 0 ? 0 : this.#all.totalMs / this.#all.count / 1000
  }

  /** Count, average, p50/p95/p99 and max (milliseconds) overall, by span name and by shape. */
  getQueryStats(): QueryStats {
    const pick = (m: Map<string, DurationStats>) =>
      Object.fromEntries([...m].map(([k, v]) => [k, v.summary()])) as Record<
        string,
        DurationSummary
      >
    return { all: this.#all.summary(), byName: pick(this.#byName), byShape: pick(this.#byShape) }
  }

  /** N+1 findings so far (also passed to `onNPlusOne` as they happen). */
  getNPlusOneWarnings(): NPlusOneWarning[] {
    return [...this.#warnings]
  }

  /**
   * Forgets all statistics and N+1 findings: the original's `reset_stats()`, named like the
   * cache's `resetStats()`. `reset()` does the same.
   */
  resetStats(): void {
    this.reset()
  }

  /** Forgets all statistics and N+1 findings (same as {@link QueryOptimizer.resetStats}). */
  reset(): void {
    this.#all = new DurationStats(this.#sampleLimit)
    this.#byName = new Map()
    this.#byShape = new Map()
    this.#warnings = []
  }

  /**
   * Inserts rows in batches inside ONE transaction (all-or-nothing) and returns how many rows were
   * written. Batches respect the driver's bind-parameter limit; large uniform loads take the
   * `unnest` fast path (one array parameter per column). The input is never modified.
   */
  batchInsert<TTable extends PgTable>(
    table: TTable,
    rows: readonly TTable['$inferInsert'][],
    options?: BatchInsertOptions<Extract<keyof TTable['$inferInsert'], string>>,
  ): Promise<number> {
    return runExempt(() =>
      batchInsert(
        this.#db,
        table,
        rows as readonly Record<string, unknown>[],
        options as BatchInsertOptions,
      ),
    )
  }

  /**
   * Updates rows identified by `options.key` (default: the primary key), one statement per batch
   * (`UPDATE … FROM unnest(…)`), all in ONE transaction. Returns the number of rows actually
   * updated; keys that match no row go to `onMissing` (or fail the call with `requireAll`).
   */
  batchUpdate<TTable extends PgTable>(
    table: TTable,
    updates: readonly Partial<TTable['$inferInsert']>[],
    options?: BatchUpdateOptions<Extract<keyof TTable['$inferInsert'], string>>,
  ): Promise<number> {
    return runExempt(() =>
      batchUpdate(
        this.#db,
        table,
        updates as readonly Record<string, unknown>[],
        options as BatchUpdateOptions,
      ),
    )
  }

  /**
   * The plan of a query (a drizzle query builder or `sql` expression). With `analyze` the query
   * really runs, inside a transaction that is always rolled back, so DML changes nothing.
   */
  explain(query: SQLWrapper, options?: ExplainOptions): Promise<ExplainResult> {
    return explainQuery(this.#db, query, options)
  }

  /** Stops collecting statistics (the database keeps working). */
  close(): void {
    for (const inst of this.#insts) inst.listeners.delete(this.#listener)
  }

  /** Same as {@link QueryOptimizer.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close()
  }

  #onQuery(event: QueryEvent): void {
    const failed = event.error !== undefined
    this.#all.add(event.durationMs, failed)
    const shape =
      this.#byShape.has(event.shape) || this.#byShape.size < this.#maxShapes
        ? event.shape
        : '(other)'
    this.#stats(this.#byShape, shape).add(event.durationMs, failed)
  }

  #stats(map: Map<string, DurationStats>, key: string): DurationStats {
    let stats = map.get(key)
    if (stats === undefined) {
      stats = new DurationStats(this.#sampleLimit)
      map.set(key, stats)
    }
    return stats
  }

  #closeSpan(span: Span, threshold: number): void {
    for (const [shape, count] of span.shapes) {
      if (count >= threshold && !span.reported.has(shape) && !deliberatelyRepeated(shape)) {
        for (let s: Span | undefined = span; s !== undefined; s = s.parent) s.reported.add(shape)
        this.#reportNPlusOne(span.name, shape, count, threshold)
      }
    }
  }

  #reportNPlusOne(span: string, shape: string, count: number, threshold: number): void {
    const warning: NPlusOneWarning = {
      span,
      shape,
      count,
      threshold,
      message: `[db-optimizer] possible N+1 in "${span}": the statement \`${shape}\` ran ${count} times (threshold ${threshold}); load the rows in one statement (eagerLoad / selectinLoad)`,
    }
    this.#warnings.push(warning)
    if (this.#onNPlusOne !== undefined) this.#onNPlusOne(warning)
    else this.#logger.warn(warning.message)
  }
}

function openSpan(name: string, named: boolean): Span {
  return { name, parent: spanStorage.getStore(), shapes: new Map(), reported: new Set(), named }
}

// Shapes that repeat by design: keyset pagination (`where … > ? … order by … limit ?`, one
// statement per page) and queue polls (`for update skip locked`, one statement per poll).
const KEYSET =
  /\b(?:where|and)\b[^;]*?(?:>=?|<=?)\s*(?:\?|\(…\))[^;]*\border\s+by\b[^;]*\blimit\s+\?/i
const QUEUE_POLL = /\bfor\s+(?:no\s+key\s+)?update\b[^;]*\bskip\s+locked\b/i

function deliberatelyRepeated(shape: string): boolean {
  return KEYSET.test(shape) || QUEUE_POLL.test(shape)
}
