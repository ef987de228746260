import type { Figure } from './corpus/figures.js'
import { biographyCounts, figureOutcome } from './figureOutcome.js'
import { type RunContext, type RunCounters, timed } from './runContext.js'
import type { FigureOutcome } from './runTypes.js'
import { chapters } from './stages/chapters.js'
import { dedupe } from './stages/dedupe.js'
import { embedNaive } from './stages/embed.js'
import { readBackNaive } from './stages/readBack.js'
import { search } from './stages/search.js'
import { createNaive, storeNaive } from './stages/store.js'
import { validateNaive } from './stages/validate.js'
import { writeNaive } from './stages/write.js'

/**
 * The naive way, as a first version would do it, one figure after the other: no cache, sources
 * validated one after the other (whole pages downloaded and kept), embeddings on the main thread,
 * one INSERT/UPDATE per row, the biography read back with one query per chapter and per cited
 * source (N+1), everything loaded eagerly and the Markdown built as one string.
 */
export async function runNaive(ctx: RunContext, counters: RunCounters): Promise<FigureOutcome[]> {
  const outcomes: FigureOutcome[] = []
  for (const figure of ctx.figures) outcomes.push(await naiveFigure(ctx, counters, figure))
  return outcomes
}

async function naiveFigure(
  ctx: RunContext,
  counters: RunCounters,
  figure: Figure,
): Promise<FigureOutcome> {
  const stages = counters.stages
  const ids = await timed(stages, 'store', () => createNaive(ctx, figure))
  const hits = await timed(stages, 'search', () => search(ctx.corpusBaseUrl, figure))
  const validated = await timed(stages, 'validate', () =>
    validateNaive(ctx, counters, figure, hits),
  )
  const embeddings = await timed(stages, 'embed', () => embedNaive(counters, validated))
  const deduplicated = await timed(stages, 'deduplicate', () => dedupe(validated, embeddings))
  const drafts = await timed(stages, 'chapters', () => chapters(figure, validated, deduplicated))
  const biography = { validated, deduplicated, chapters: drafts }
  await timed(stages, 'store', () => storeNaive(ctx, ids, biography))
  const read = await timed(stages, 'read', () => readBackNaive(ctx, counters, ids.biographyId))
  const written = await timed(stages, 'write', () =>
    writeNaive(ctx, figure, biographyCounts(biography), read),
  )
  return figureOutcome(figure, biography, written)
}
