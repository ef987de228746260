import { TransactionRollbackError } from 'drizzle-orm'
import { DbOptimizerError } from './dbOptimizerError.js'
import { instrument } from './instrumentation.js'
import { describeCause } from './redactError.js'
import type { AnyPgDatabase, DriverName } from './types.js'

/** PostgreSQL's limit of bind parameters in one statement (a 16-bit count in the protocol). */
export const MAX_BIND_PARAMETERS = 65_535

/**
 * The most bind parameters one statement may carry on a driver: postgres.js refuses 65,534 and
 * more (its own check), PGlite takes PostgreSQL's 65,535.
 * @internal
 */
export function bindParameterLimit(driver: DriverName): number {
  return driver === 'postgres-js' ? 65_533 : MAX_BIND_PARAMETERS
}

/** Progress of a batch operation, reported after each batch (inside the transaction). */
export interface BatchProgress {
  /** Zero-based index of the batch that just finished. */
  batch: number
  /** How many batches there are. */
  batches: number
  /** `[start, end)` indexes of the rows the batch held. */
  rowRange: readonly [number, number]
  /** Rows written so far (inside the still-open transaction). */
  done: number
}

/** Cuts `[0, total)` into ranges of at most `size`. @internal */
export function fixedBatches(total: number, size: number): [number, number][] {
  const bounds: [number, number][] = []
  for (let start = 0; start < total; start += size)
    bounds.push([start, Math.min(total, start + size)])
  return bounds
}

/**
 * Runs every batch in one transaction. `exec` returns the rows the batch wrote. When a batch fails
 * the transaction is rolled back and the error names the batch and its row range, with the
 * driver's error as `cause` (also when the connection died and the driver reports the loss instead
 * of the statement's error). When the connection is lost after every batch ran, the COMMIT may or
 * may not have reached the server: the error has code `COMMIT_UNKNOWN`.
 * @internal
 */
export async function runBatches(
  db: AnyPgDatabase,
  bounds: readonly (readonly [number, number])[],
  operation: string,
  onProgress: ((progress: BatchProgress) => void | Promise<void>) | undefined,
  exec: (tx: AnyPgDatabase, range: readonly [number, number], batch: number) => Promise<number>,
): Promise<number> {
  let current = -1
  let failure: unknown
  let failed = false
  let lost = false
  const guardDeadConnection = instrument(db).driver === 'postgres-js'
  let markLost: () => void = () => {}
  const lostSignal = new Promise<void>((resolve) => {
    markLost = resolve
  })
  const total = bounds.at(-1)?.[1] ?? 0
  try {
    const transaction = db.transaction(async (tx) => {
      let done = 0
      for (let b = 0; b < bounds.length; b++) {
        if (lost) return hang()
        current = b
        const range = bounds[b] as readonly [number, number]
        try {
          done += await exec(tx as unknown as AnyPgDatabase, range, b)
          if (onProgress !== undefined) {
            await onProgress({ batch: b, batches: bounds.length, rowRange: range, done })
          }
        } catch (error) {
          failed = true
          failure = error
          // postgres.js 3.4.x crashes the process (an uncatchable TypeError in nextWrite, upstream
          // issues porsager/postgres#1154 and #1208) when it writes ROLLBACK to a connection that
          // has already closed. When the connection is gone, the server has rolled back already:
          // leave the callback pending and let the transaction reject with the connection error.
          if (guardDeadConnection && (lost || isConnectionLoss(unwrap(error)))) {
            // wait (bounded) to learn whether the connection is really gone before answering
            if (lost || (await closedWithin(lostSignal, 5000))) return hang()
          }
          throw error
        }
      }
      current = bounds.length
      return done
    })
    transaction.catch(() => {
      lost = true
      markLost()
    })
    return await transaction
  } catch (error) {
    if (error instanceof DbOptimizerError && error.code !== 'BATCH_FAILED') throw error
    if (current < 0) throw error
    if (current === bounds.length) {
      const cause = unwrap(error)
      if (isConnectionLoss(cause)) {
        throw new DbOptimizerError(
          'COMMIT_UNKNOWN',
          `${operation}: the connection was lost while committing; the rows may or may not have been written (${describeCause(cause)}). Check before retrying, or retry with a conflict target that makes it safe (see the README)`,
          { cause, rowRange: [0, total] },
        )
      }
      throw new DbOptimizerError(
        'BATCH_FAILED',
        `${operation}: the commit failed, nothing was written (${describeCause(cause)})`,
        { cause, rowRange: [0, total] },
      )
    }
    const range = bounds[current] as readonly [number, number]
    const cause = unwrap(failed ? failure : error)
    if (cause instanceof DbOptimizerError && cause.code !== 'BATCH_FAILED') throw cause
    throw batchFailure(operation, current, bounds.length, range, cause)
  }
}

/**
 * The `BATCH_FAILED` error of batch `batch` (of `batches`), rows `range`, failed with `cause`
 * (drizzle's wrapper removed). @internal
 */
export function batchFailure(
  operation: string,
  batch: number,
  batches: number,
  range: readonly [number, number],
  cause: unknown,
): DbOptimizerError {
  const inner = unwrap(cause)
  return new DbOptimizerError(
    'BATCH_FAILED',
    `${operation}: batch ${batch + 1} of ${batches} (rows ${range[0]}..${range[1] - 1}) failed, nothing was written (${describeCause(inner)})`,
    { cause: inner, batch, rowRange: range },
  )
}

/**
 * Whether a failed batch failed on the data (a value, a constraint, a trigger): any SQLSTATE but
 * those of a lost or broken connection, exhausted resources and internal errors. @internal
 */
export function isDataError(error: DbOptimizerError): boolean {
  const state = error.sqlState
  return (
    error.code === 'BATCH_FAILED' &&
    state !== undefined &&
    !['08', '53', '57', '58', 'XX'].includes(state.slice(0, 2))
  )
}

/**
 * The error drizzle's own statements raise for the failed batch of `error`. A statement of the
 * fast paths checks its rows one after the other, where PostgreSQL parses every parameter of
 * drizzle's statement at bind time before it fits any value to its column or checks a constraint:
 * when a batch failed on its data, `replay` writes its rows again with drizzle, in a transaction
 * that is always rolled back (nothing is written), and a data exception it raises (class 22: a
 * value that does not parse or does not fit) is the failure drizzle reports. Anything else
 * (the replay succeeds, or fails on a constraint that may depend on earlier batches) leaves
 * `error` as it is.
 * @internal
 */
export async function drizzleFailure(
  db: AnyPgDatabase,
  error: unknown,
  operation: string,
  batches: number,
  replay: (tx: AnyPgDatabase, range: readonly [number, number], batch: number) => Promise<void>,
): Promise<unknown> {
  if (!(error instanceof DbOptimizerError) || !isDataError(error)) return error
  const { batch, rowRange } = error
  if (batch === undefined || rowRange === undefined) return error
  const failure = await db
    .transaction(async (tx) => {
      await replay(tx as unknown as AnyPgDatabase, rowRange, batch)
      tx.rollback()
    })
    .then(
      () => undefined,
      (e: unknown) => (e instanceof TransactionRollbackError ? undefined : e),
    )
  if (failure === undefined) return error
  const drizzles = batchFailure(operation, batch, batches, rowRange, failure)
  return drizzles.sqlState?.startsWith('22') === true ? drizzles : error
}

/** True when `signal` resolves within `ms` (the transaction failed because its connection closed). */
async function closedWithin(signal: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
    timer.unref()
  })
  const closed = await Promise.race([signal.then(() => true as const), timeout])
  clearTimeout(timer)
  return closed
}

function hang(): Promise<never> {
  return new Promise<never>(() => {})
}

const CONNECTION_LOST = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'ECONNRESET',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
])

function isConnectionLoss(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && (CONNECTION_LOST.has(code) || code.startsWith('08'))
}

/** drizzle wraps driver errors in DrizzleQueryError, whose message lists every parameter value. */
function unwrap(error: unknown): unknown {
  let e = error
  while (e instanceof Error && e.constructor.name === 'DrizzleQueryError' && e.cause !== undefined)
    e = e.cause
  return e
}
