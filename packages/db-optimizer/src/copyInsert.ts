import type { PgColumn } from 'drizzle-orm/pg-core'
import { DbOptimizerError } from './dbOptimizerError.js'
import type { AnyPgDatabase } from './types.js'
import { NOT_PLAIN, plainText, type WriteColumn } from './writeColumns.js'

// biome-ignore lint/suspicious/noExplicitAny: postgres.js query objects are untyped here
type Any = any

/** Characters COPY's text format gives a meaning: they travel backslash-escaped. */
const SPECIAL = /[\\\n\r\t]/
const SPECIALS = /[\\\n\r\t]/g
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/** Target size of one string handed to the COPY stream. */
const CHUNK_CHARS = 1 << 18

/**
 * One field in COPY's text format: `\N` for NULL (so an empty string stays an empty string), and
 * backslash, newline, carriage return and tab escaped, so that the server's input function sees
 * exactly the text the driver would have sent as a parameter.
 * @internal
 */
export function copyField(text: string | null): string {
  if (text === null) return '\\N'
  return SPECIAL.test(text) ? text.replace(SPECIALS, (c) => ESCAPES[c] as string) : text
}

/**
 * The rows of each `[start, end)` range as COPY text (chunks of about 256 K characters), every
 * value converted exactly as the unnest path converts it (`plainText`, after drizzle's
 * `mapToDriverValue`), or undefined when some value must go through drizzle itself. Everything is
 * encoded before anything is sent: a value that cannot travel never starts a COPY.
 * @internal
 */
export function copyChunks(
  columns: readonly WriteColumn[],
  casts: readonly string[],
  rows: readonly Record<string, unknown>[],
  bounds: readonly (readonly [number, number])[],
): string[][] | undefined {
  const out: string[][] = []
  const cols: PgColumn[] = columns.map((c) => c.column)
  const keys = columns.map((c) => c.key)
  const last = columns.length - 1
  for (const [start, end] of bounds) {
    const chunks: string[] = []
    let chunk = ''
    for (let i = start; i < end; i++) {
      const row = rows[i] as Record<string, unknown>
      let line = ''
      for (let c = 0; c <= last; c++) {
        const text = plainText(cols[c] as PgColumn, casts[c] as string, row[keys[c] as string])
        if (text === NOT_PLAIN) return undefined
        line += c === last ? `${copyField(text)}\n` : `${copyField(text)}\t`
      }
      chunk += line
      if (chunk.length >= CHUNK_CHARS) {
        chunks.push(chunk)
        chunk = ''
      }
    }
    if (chunk.length > 0) chunks.push(chunk)
    out.push(chunks)
  }
  return out
}

/**
 * Runs `statement` (a `COPY … FROM STDIN`) on the postgres.js connection of transaction `tx` and
 * streams `chunks` into it. Settles in every case: postgres.js 3.4 resolves the query with the
 * stream and, when the server rejects the data after the last chunk went out, never finishes
 * that stream; the rejection it hands to the query object is caught here, and so are errors the
 * server sends while data still flows and a connection lost mid-way.
 * @internal
 */
export async function copyInto(
  tx: AnyPgDatabase,
  statement: string,
  chunks: readonly string[],
): Promise<void> {
  const client = (tx as Any)?.session?.client
  if (typeof client?.unsafe !== 'function') {
    throw new DbOptimizerError(
      'INVALID_ARGUMENT',
      "options.method 'copy' needs a postgres.js transaction client (sql.unsafe)",
    )
  }
  const query = client.unsafe(statement)
  let fail: (error: unknown) => void = () => {}
  const failed = new Promise<never>((_, reject) => {
    fail = reject
  })
  failed.catch(() => {})
  const reject = query.reject
  query.reject = (error: unknown) => {
    fail(error)
    return reject(error)
  }
  const stream: Any = await Promise.race([query.writable(), failed])
  const finished = new Promise<void>((resolve, rejectFinish) => {
    stream.once('finish', resolve)
    stream.once('error', rejectFinish)
  })
  finished.catch(() => {})
  const settled = Promise.race([finished, failed])
  for (const chunk of chunks) {
    if (stream.destroyed) break
    if (!stream.write(chunk)) {
      await Promise.race([new Promise((resolve) => stream.once('drain', resolve)), settled])
    }
  }
  if (!stream.destroyed) stream.end()
  await settled
}
