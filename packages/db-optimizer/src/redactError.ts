import { DbOptimizerError } from './dbOptimizerError.js'

/**
 * An error as it is published on the `bookgen:db:query` channel and given to slow-query loggers:
 * what went wrong and where, never the values involved. The driver's own error (whose message and
 * `detail` may quote input, and whose `params`/`parameters` hold every value of the statement)
 * stays with the caller, as the `cause` of the error they receive.
 */
export interface RedactedError {
  /** `'DbOptimizerError'`, `'PostgresError'`, `'DatabaseError'`, `'Error'`, … */
  readonly name: string
  /** The SQLSTATE for database errors, else the error's own `code` (a `DbOptimizerErrorCode`, `'CONNECTION_CLOSED'`, …). */
  readonly code?: string
  /** Five-character SQLSTATE, when the database raised the error. */
  readonly sqlState?: string
  /** Constraint, table, column, schema and type names the database named, when it did. */
  readonly constraint?: string
  readonly table?: string
  readonly column?: string
  readonly schema?: string
  readonly dataType?: string
  /** A message built from the fields above; never the driver's message text. */
  readonly message: string
}

const SQLSTATE = /^[0-9A-Z]{5}$/
const CODE = /^[A-Za-z0-9_]{1,64}$/

// biome-ignore lint/suspicious/noExplicitAny: driver errors of both drivers
type Any = any

/** The SQLSTATE an error (or the driver error it wraps) carries. @internal */
export function sqlStateOf(error: unknown): string | undefined {
  const e = innermost(error)
  const code = (e as Any)?.code
  return typeof code === 'string' && SQLSTATE.test(code) ? code : undefined
}

/**
 * A value-free copy of `error`: name, code, SQLSTATE and the identifiers the database reported,
 * with a message built from them. Nothing of the original message, `detail`, `hint`, `where`,
 * query text or parameters is kept, and the copy has no `cause` and no `stack`.
 */
export function redactError(error: unknown): RedactedError {
  const outer = error instanceof DbOptimizerError ? error : undefined
  const e: Any = innermost(error)
  const out: Record<string, string> = {
    name: outer?.name ?? (e instanceof Error ? safeName(e) : typeof e),
  }
  const sqlState = outer?.sqlState ?? sqlStateOf(e)
  const code =
    outer?.code ?? (typeof e?.code === 'string' && CODE.test(e.code) ? e.code : undefined)
  if (code !== undefined) out.code = code
  if (sqlState !== undefined) out.sqlState = sqlState
  const fields: [string, unknown][] = [
    ['constraint', e?.constraint ?? e?.constraint_name],
    ['table', e?.table ?? e?.table_name],
    ['column', e?.column ?? e?.column_name],
    ['schema', e?.schema ?? e?.schema_name],
    ['dataType', e?.dataType ?? e?.data_type ?? e?.datatype],
  ]
  for (const [k, v] of fields) if (typeof v === 'string' && v.length > 0) out[k] = v
  out.message = outer === undefined ? describeCause(error) : outer.message
  return Object.freeze(out) as unknown as RedactedError
}

/**
 * A short value-free description of an error, for messages: `SQLSTATE 23505, constraint
 * "sources_url_key"` or the error's name and code.
 * @internal
 */
export function describeCause(error: unknown): string {
  const e: Any = innermost(error)
  const parts: string[] = []
  const sqlState = sqlStateOf(e)
  if (sqlState !== undefined) parts.push(`SQLSTATE ${sqlState}`)
  else {
    parts.push(e instanceof Error ? safeName(e) : typeof e)
    if (typeof e?.code === 'string' && CODE.test(e.code)) parts.push(e.code)
  }
  const constraint = e?.constraint ?? e?.constraint_name
  if (typeof constraint === 'string' && constraint.length > 0)
    parts.push(`constraint "${constraint}"`)
  const column = e?.column ?? e?.column_name
  if (typeof column === 'string' && column.length > 0) parts.push(`column "${column}"`)
  return parts.join(', ')
}

/** drizzle wraps driver errors in DrizzleQueryError, whose message lists every parameter value. */
function innermost(error: unknown): unknown {
  let e = error
  for (let i = 0; i < 8 && e instanceof Error && e.cause !== undefined; i++) {
    if (e instanceof DbOptimizerError || e.constructor.name === 'DrizzleQueryError') e = e.cause
    else break
  }
  return e
}

function safeName(e: Error): string {
  const name = e.name
  return typeof name === 'string' && CODE.test(name) ? name : 'Error'
}
