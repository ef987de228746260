import type { ParallelTaskExecutor, ValidationParallelizer } from '@bookgen/parallel'
import type { Figure } from './corpus/figures.js'
import { biographyCounts, figureOutcome } from './figureOutcome.js'
import { type RunContext, type RunCounters, timed } from './runContext.js'
import type { FigureOutcome } from './runTypes.js'
import { chapters } from './stages/chapters.js'
import { dedupe } from './stages/dedupe.js'
import { embedOptimized } from './stages/embed.js'
import { readBackOptimized } from './stages/readBack.js'
import { search } from './stages/search.js'
import { createOptimized, storeOptimized } from './stages/store.js'
import { validateDistributed, validateOptimized } from './stages/validate.js'
import { writeOptimized } from './stages/write.js'

/**
 * The executors an optimized run shares across figures. In the distributed run `executor` runs
 * its worker tasks on `bookgen-worker` processes (a `bullmqBackend`), validations included.
 */
export interface Workers {
  readonly executor: ParallelTaskExecutor
  readonly parallelizer: ValidationParallelizer
}

/** The variants of the optimized pipeline. */
export type OptimizedVariant = 'optimized-cold' | 'optimized-warm' | 'distributed'

/**
 * The optimized way, one figure after the other: validations cached and run concurrently (pages
 * streamed, only the article kept), embeddings read from the cache (float32 codec) or computed on
 * worker threads, rows written with `batchInsert`/`batchUpdate`, the biography read back with its
 * chapters and sources eagerly (two statements, no N+1), and each chapter's heavy content loaded
 * on demand while the Markdown is streamed to disk. Each stage's file shows both ways. The
 * distributed variant differs only in where the validations and embeddings that missed the cache
 * run: on the worker processes.
 */
export async function runOptimized(
  ctx: RunContext,
  counters: RunCounters,
  workers: Workers,
  variant: OptimizedVariant,
): Promise<FigureOutcome[]> {
  const outcomes: FigureOutcome[] = []
  for (const figure of ctx.figures) {
    outcomes.push(await optimizedFigure(ctx, counters, workers, variant, figure))
  }
  return outcomes
}

async function optimizedFigure(
  ctx: RunContext,
  counters: RunCounters,
  { executor, parallelizer }: Workers,
  variant: OptimizedVariant,
  figure: Figure,
): Promise<FigureOutcome> {
  const stages = counters.stages
  const pending = createOptimized(ctx, figure, variant)
  const hits = await timed(stages, 'search', () => search(ctx.corpusBaseUrl, figure))
  const validated = await timed(stages, 'validate', () =>
    variant === 'distributed'
      ? validateDistributed(ctx, counters, executor, variant, figure, hits)
      : validateOptimized(ctx, counters, parallelizer, variant, figure, hits),
  )
  const embeddings = await timed(stages, 'embed', () =>
    embedOptimized(ctx, counters, executor, `${variant}: embedding ${figure.name}`, validated),
  )
  const deduplicated = await timed(stages, 'deduplicate', () => dedupe(validated, embeddings))
  const drafts = await timed(stages, 'chapters', () => chapters(figure, validated, deduplicated))
  const biography = { validated, deduplicated, chapters: drafts }
  await timed(stages, 'store', () => storeOptimized(ctx, pending, biography))
  const read = await timed(stages, 'read', () =>
    readBackOptimized(ctx, counters, pending.ids.biographyId),
  )
  const written = await timed(stages, 'write', () =>
    writeOptimized(ctx, counters, figure, biographyCounts(biography), read),
  )
  return figureOutcome(figure, biography, written)
}
