import { deduplicate } from '../deduplicate.js'
import type { Embeddings } from './embed.js'
import type { ValidatedSource } from './validate.js'

/** Which valid sources a biography cites, and which it drops as near-duplicates. */
export interface Deduplicated {
  /** Citation number of each kept source, by index into the validated list (corpus order). */
  readonly refs: ReadonlyMap<number, number>
  /** Index of the source each duplicate repeats, by index. */
  readonly duplicates: ReadonlyMap<number, number>
}

/**
 * Dedupe, the same in both ways (pure CPU work on a few dozen vectors): near-duplicates by
 * cosine similarity of the TF-IDF embeddings, the better-scored copy kept; the kept sources
 * numbered in corpus order.
 */
export function dedupe(
  validated: readonly ValidatedSource[],
  embeddings: Embeddings,
): Deduplicated {
  const twins = deduplicate(
    [...embeddings].map(([index, embedding]) => ({
      index,
      score: validated[index]!.verdict.score,
      embedding,
    })),
  )
  const refs = new Map<number, number>()
  const duplicates = new Map<number, number>()
  for (const index of embeddings.keys()) {
    const twin = twins.get(index)
    if (twin === undefined) refs.set(index, refs.size + 1)
    else duplicates.set(index, twin)
  }
  return { refs, duplicates }
}
