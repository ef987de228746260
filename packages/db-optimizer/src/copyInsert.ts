import type { PgColumn } from 'drizzle-orm/pg-core'
import { DbOptimizerError } from './dbOptimizerError.js'
import type { AnyPgDatabase } from './types.js'
import {
  driverText,
  type Encoding,
  encodingOf,
  NOT_PLAIN,
  type WriteColumn,
} from './writeColumns.js'

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
  return SPECIAL.test(text) ? text.replace(SPECIALS, escaped) : text
}

function escaped(c: string): string {
  return ESCAPES[c] as string
}

/**
 * Thrown (inside the transaction) when a value cannot travel as COPY text: the COPY is abandoned,
 * the transaction rolled back, and the caller writes the rows another way.
 * @internal
 */
export class CopyFallback extends Error {
  constructor() {
    super('a value must go through drizzle; COPY abandoned')
    this.name = 'CopyFallback'
  }
}

/**
 * The rows `[start, end)` as COPY text, in chunks of about 256 K characters, every value converted
 * exactly as the unnest path converts it (`plainText`, after drizzle's `mapToDriverValue`). Chunks
 * are made while earlier ones travel. A value that must go through drizzle: with `stop`, the rows
 * before its row are yielded and `stop.at` is set to its row's index (the caller writes the rest
 * another way); without, {@link CopyFallback} is thrown before its row is sent.
 * @internal
 */
export function* copyChunks(
  columns: readonly WriteColumn[],
  casts: readonly string[],
  rows: readonly Record<string, unknown>[],
  start: number,
  end: number,
  stop?: { at: number },
): Generator<string, void, undefined> {
  const cols: PgColumn[] = columns.map((c) => c.column)
  const keys = columns.map((c) => c.key)
  const encodings = cols.map(encodingOf)
  const n = columns.length
  let chunk = ''
  for (let i = start; i < end; i++) {
    const row = rows[i] as Record<string, unknown>
    let line = ''
    for (let c = 0; c < n; c++) {
      const value = row[keys[c] as string]
      const encoding = encodings[c] as Encoding
      const text = driverText(encoding, cols[c] as PgColumn, casts[c] as string, value)
      if (text === NOT_PLAIN) {
        if (stop === undefined) throw new CopyFallback()
        stop.at = i
        if (chunk.length > 0) yield chunk
        return
      }
      // a number or a boolean sent as is holds no character COPY gives a meaning
      const field =
        encoding === 'as-is' && (typeof value === 'number' || typeof value === 'boolean')
          ? (text as string)
          : copyField(text)
      line += c === n - 1 ? `${field}\n` : `${field}\t`
    }
    chunk += line
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk
      chunk = ''
    }
  }
  if (chunk.length > 0) yield chunk
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
  chunks: Iterable<string>,
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
  settled.catch(() => {})
  try {
    for (const chunk of chunks) {
      if (stream.destroyed) break
      if (!stream.write(chunk)) {
        await Promise.race([new Promise((resolve) => stream.once('drain', resolve)), settled])
      }
    }
  } catch (error) {
    if (!(error instanceof CopyFallback)) throw error
    // CopyFail: the server rejects the COPY (57014) and answers; wait for that answer so that the
    // ROLLBACK that follows finds the connection out of copy mode
    stream.destroy(error)
    await failed.catch(() => {})
    throw error
  }
  if (!stream.destroyed) stream.end()
  await settled
}
