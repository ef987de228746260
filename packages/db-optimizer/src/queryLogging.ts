import { DbOptimizerError } from './dbOptimizerError.js'
import { instrumentMembers } from './instrumentation.js'
import { redactError } from './redactError.js'
import type { AnyPgDatabase, QueryEvent } from './types.js'
import { checkNonNegative } from './validate.js'

/** A slow statement, as given to {@link QueryLoggingOptions.logger}. */
export interface SlowQueryRecord {
  /** Statement text with `$n` placeholders. */
  sql: string
  /** Execution time at the driver, milliseconds. */
  durationMs: number
  /** Parameter values, or `'[redacted]'` per parameter unless `showParams` is true. */
  params: readonly unknown[]
  /** Name of the `timeQuery` span, if any. */
  name?: string
  /** Rows returned or affected, when known. */
  rows?: number
  /** The error, when the statement failed, redacted: code, SQLSTATE and names, never values (see `redactError`). */
  error?: unknown
}

/** Options of {@link enableQueryLogging}. */
export interface QueryLoggingOptions {
  /**
   * Statements that take longer than this (milliseconds) are logged.
   * @default 100
   */
  thresholdMs?: number
  /**
   * Receives one line per slow statement plus the record.
   * @default console
   */
  logger?: { warn(message: string, record?: SlowQueryRecord): void }
  /**
   * Include parameter values. They often hold personal data, so they are redacted unless you opt in.
   * @default false
   */
  showParams?: boolean
}

const DEFAULTS = { thresholdMs: 100, showParams: false } as const

/**
 * Logs every statement of `db` slower than `thresholdMs` (measured at the driver). Parameter
 * values are redacted unless `showParams` is true. The logger is called in the async context of
 * the code that ran the statement (AsyncLocalStorage stores such as a request id are visible).
 * Returns a function that turns logging off.
 */
export function enableQueryLogging(
  db: AnyPgDatabase,
  options: QueryLoggingOptions = {},
): () => void {
  const thresholdMs = options.thresholdMs ?? DEFAULTS.thresholdMs
  checkNonNegative('options.thresholdMs', thresholdMs)
  const logger = options.logger ?? console
  if (logger === null || typeof logger.warn !== 'function') {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      `options.logger must have a warn(message) method, got ${logger === null ? 'null' : typeof logger}`,
    )
  }
  const showParams = options.showParams ?? DEFAULTS.showParams
  // a withReplicas database: every member's slow statements
  const insts = instrumentMembers(db)
  const listener = (event: QueryEvent) => {
    if (event.durationMs <= thresholdMs) return
    const record: SlowQueryRecord = {
      sql: event.sql,
      durationMs: event.durationMs,
      params: showParams ? event.params : event.params.map(() => '[redacted]'),
    }
    if (event.name !== undefined) record.name = event.name
    if (event.rows !== undefined) record.rows = event.rows
    if (event.error !== undefined) record.error = redactError(event.error)
    const params =
      record.params.length === 0 ? '' : ` -- params: ${JSON.stringify(record.params, bigintSafe)}`
    const label = event.name === undefined ? '' : ` [${event.name}]`
    logger.warn(
      `[db-optimizer] slow query${label} ${event.durationMs.toFixed(1)} ms: ${event.sql}${params}`,
      record,
    )
  }
  for (const inst of insts) {
    inst.listeners.add(listener)
    inst.contextListeners++
  }
  return () => {
    for (const inst of insts) if (inst.listeners.delete(listener)) inst.contextListeners--
  }
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}
