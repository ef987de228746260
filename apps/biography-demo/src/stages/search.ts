import type { SearchHit } from '../corpus/corpusServer.js'
import type { Figure } from '../corpus/figures.js'

/**
 * Search: asks the corpus server for a figure's sources. The same in both ways: one request
 * that lists 40–60 pages.
 */
export async function search(baseUrl: string, figure: Figure): Promise<SearchHit[]> {
  const res = await fetch(`${baseUrl}/search?figure=${encodeURIComponent(figure.slug)}`)
  if (!res.ok) throw new Error(`corpus search failed with HTTP ${res.status}`)
  return (await res.json()) as SearchHit[]
}
