// Worker-side functions for the benchmark (plain ESM, loaded by every pool).
import { createHash } from 'node:crypto'

/** A tiny CPU task. */
export function double(n) {
  return n * 2
}

/** A CPU-heavy task: hashes a document 40 times over (about a millisecond). */
export function hashDocument(text) {
  let digest = text
  for (let i = 0; i < 40; i++)
    digest = createHash('sha256').update(digest).update(text).digest('hex')
  return digest
}
