// Worker-side functions for the benchmark (plain ESM, loaded by every pool).
import { createHash } from 'node:crypto'

/** A tiny CPU task. */
export function double(n) {
  return n * 2
}

/**
 * A CPU-heavy task in plain JavaScript: 40 rounds of 32-bit FNV-1a over the document, each round
 * seeded with the previous digest (about 0.2 ms per 2,800-character document). Returns the hex digest.
 */
export function hashDocument(text) {
  let h = 2166136261
  for (let round = 0; round < 40; round++) {
    h ^= round
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i)
      h = Math.imul(h, 16777619)
    }
  }
  return (h >>> 0).toString(16).padStart(8, '0')
}

/**
 * The same kind of task with node:crypto: sha256 chained 40 times over the document. In Node 20
 * this does not scale across worker threads (see RESULTS.md), so it is only reported as a note.
 */
export function hashDocumentSha256(text) {
  let digest = text
  for (let i = 0; i < 40; i++)
    digest = createHash('sha256').update(digest).update(text).digest('hex')
  return digest
}

/**
 * A CPU-heavy task in plain JavaScript: a hashed character n-gram embedding (n = 3..5, 1,536
 * dimensions, L2-normalised) of one document, as the demo computes for its sources.
 */
export function embedDocument(text) {
  const dims = 1536
  const vector = new Float32Array(dims)
  for (let n = 3; n <= 5; n++) {
    for (let i = 0; i + n <= text.length; i++) {
      let h = 2166136261
      for (let j = i; j < i + n; j++) {
        h ^= text.charCodeAt(j)
        h = Math.imul(h, 16777619)
      }
      vector[(h >>> 0) % dims] += 1
    }
  }
  let norm = 0
  for (let i = 0; i < dims; i++) norm += vector[i] * vector[i]
  norm = Math.sqrt(norm) || 1
  for (let i = 0; i < dims; i++) vector[i] /= norm
  return vector
}

/** A tiny CPU task on a string (inputs and results that cannot travel as raw numbers). */
export function shout(word) {
  return `${word}!`
}

/** A batch of `shout` calls in one call, for tinypool and piscina. */
export function shoutBatch(batch) {
  const out = new Array(batch.length)
  for (let i = 0; i < batch.length; i++) out[i] = `${batch[i]}!`
  return out
}

/** A batch of tiny CPU tasks in one call: how tinypool and piscina are given tiny tasks. */
export function doubleBatch(batch) {
  const out = new Array(batch.length)
  for (let i = 0; i < batch.length; i++) out[i] = batch[i] * 2
  return out
}
