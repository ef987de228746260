import { cosineSimilarity } from './vectorizer.js'

/** Cosine similarity above which two sources count as near-duplicates. */
export const duplicateThreshold = 0.9

/** An item to deduplicate: its embedding and how much we trust it. */
export interface Embedded {
  readonly index: number
  readonly score: number
  readonly embedding: ArrayLike<number>
}

/**
 * Greedy near-duplicate removal: the best-scored item of each group of near-identical items is
 * kept. Returns, for each input index, the index it duplicates (or undefined when kept).
 */
export function deduplicate(
  items: readonly Embedded[],
  threshold = duplicateThreshold,
): Map<number, number | undefined> {
  const order = [...items].sort((a, b) => b.score - a.score || a.index - b.index)
  const kept: Embedded[] = []
  const result = new Map<number, number | undefined>()
  for (const item of order) {
    const twin = kept.find((k) => cosineSimilarity(k.embedding, item.embedding) >= threshold)
    result.set(item.index, twin?.index)
    if (!twin) kept.push(item)
  }
  return result
}
