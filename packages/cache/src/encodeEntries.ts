import type { Codec } from './types.js'
import { assertKey, encodeValue, entryList } from './validate.js'

/**
 * Checks and encodes the entries of a `setMany` call before anything is written: `entries` must be
 * a record or a Map, every key valid, every value encodable by `codec` (errors name the entry,
 * `entries["k"]`). Resolves the entries and their encodings, in the same order.
 */
export function encodeEntries(
  entries: unknown,
  codec: Codec,
  maxKeyLength: number,
): { list: [string, unknown][]; encoded: (string | Buffer)[] } {
  const list = entryList(entries)
  const encoded: (string | Buffer)[] = []
  for (const [key, value] of list) {
    assertKey(key, maxKeyLength)
    encoded.push(encodeValue(codec, value, `entries[${JSON.stringify(key)}]`))
  }
  return { list, encoded }
}
