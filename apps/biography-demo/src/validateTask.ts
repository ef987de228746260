import type { SearchHit } from './corpus/corpusServer.js'
import type { Figure } from './corpus/figures.js'
import { type FetchedPage, type FetchPolicy, fetchPageStreaming } from './pageFetcher.js'
import { type SourceScore, scoreSource } from './sourceScorer.js'
import { tallyTask } from './taskTally.js'

/** What the `validateSource` worker task receives: plain, cloneable data only. */
export interface ValidationInput {
  hit: SearchHit
  /** The fields of the figure that scoring reads. */
  figure: Pick<Figure, 'name' | 'surname'>
  policy: FetchPolicy
}

/** What it returns: the page as the optimized pipeline keeps it (no HTML), and its verdict. */
export interface ValidationOutput {
  page: Omit<FetchedPage, 'html'>
  verdict: SourceScore
}

/**
 * Worker-thread entry (built to dist/validateTask.js): fetches one source page (streamed, only
 * its article kept) and scores it. The caller keeps the cache: only its misses come here, and it
 * decides which verdicts are stored (never those of a transient failure).
 */
export async function validateSource(
  input: ValidationInput,
  context?: { idempotencyKey?: string },
): Promise<ValidationOutput> {
  const { html: _html, ...page } = await fetchPageStreaming(
    input.hit.url,
    input.hit.fetchUrl,
    input.policy,
  )
  const verdict = scoreSource(input.figure, page)
  tallyTask('validateSource', context?.idempotencyKey)
  return { page, verdict }
}
