/** Every `code` a {@link DbOptimizerError} can carry. Branch on these, never on message text. */
export const DbOptimizerErrorCode = {
  /** An argument or option is invalid (wrong type, out of range). */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** The table argument is not a drizzle PostgreSQL table. */
  INVALID_TABLE: 'INVALID_TABLE',
  /** The rows or updates to write are empty where at least one is required, or not objects. */
  INVALID_ROWS: 'INVALID_ROWS',
  /** A row has a key that is not a column of the table. */
  UNKNOWN_COLUMN: 'UNKNOWN_COLUMN',
  /** An update lacks the key column that identifies the row to update. */
  MISSING_KEY: 'MISSING_KEY',
  /** `requireAll` was set and some keys of a batch update match no row. */
  ROWS_NOT_FOUND: 'ROWS_NOT_FOUND',
  /** One batch of a batch insert/update failed; nothing was written. See `batch`, `rowRange`, `cause`. */
  BATCH_FAILED: 'BATCH_FAILED',
  /**
   * The connection was lost after a batch operation sent COMMIT: the rows may or may not have been
   * written. Check, or retry in a way that makes a second write harmless (see the README).
   */
  COMMIT_UNKNOWN: 'COMMIT_UNKNOWN',
  /** The database object is not a drizzle database over postgres.js or PGlite. */
  UNSUPPORTED_DATABASE: 'UNSUPPORTED_DATABASE',
  /** The driver package the URL asks for is not installed. */
  DRIVER_MISSING: 'DRIVER_MISSING',
  /** The database URL is not understood. */
  INVALID_URL: 'INVALID_URL',
} as const

/** A {@link DbOptimizerErrorCode} value. */
export type DbOptimizerErrorCode = (typeof DbOptimizerErrorCode)[keyof typeof DbOptimizerErrorCode]

/** Extra facts an error carries (which batch failed and which rows it held, missing keys). */
export interface DbOptimizerErrorDetails {
  /** The original error. */
  cause?: unknown
  /** Zero-based index of the batch that failed. */
  batch?: number
  /** Rows of the input the failed batch held: `[start, end)` indexes. */
  rowRange?: readonly [number, number]
  /** Keys that matched no row (code `ROWS_NOT_FOUND`). */
  missing?: readonly unknown[]
  /** SQLSTATE of the database error behind this one (default: read from `cause`). */
  sqlState?: string
}

/** The one error class of `@bookgen/db-optimizer`; `code` says what went wrong. */
export class DbOptimizerError extends Error {
  override readonly name = 'DbOptimizerError'
  /** What went wrong, from {@link DbOptimizerErrorCode}. */
  readonly code: DbOptimizerErrorCode
  /** Zero-based index of the failed batch (code `BATCH_FAILED`). */
  readonly batch: number | undefined
  /** `[start, end)` input indexes of the failed batch (code `BATCH_FAILED`). */
  readonly rowRange: readonly [number, number] | undefined
  /** Keys that matched no row (code `ROWS_NOT_FOUND`). */
  readonly missing: readonly unknown[] | undefined
  /** SQLSTATE of the database error behind this one (`'23505'`, `'22001'`, …), when there is one. */
  readonly sqlState: string | undefined

  constructor(code: DbOptimizerErrorCode, message: string, details: DbOptimizerErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.batch = details.batch
    this.rowRange = details.rowRange
    this.missing = details.missing
    this.sqlState = details.sqlState ?? sqlStateOfCause(details.cause)
  }
}

function sqlStateOfCause(cause: unknown): string | undefined {
  let e = cause
  for (let i = 0; i < 8 && e !== null && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
    if (e instanceof DbOptimizerError) return e.sqlState
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}
