import { createHash, randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { cached, cacheKey } from '@bookgen/cache'
import { AsyncLazyLoader, eagerLoad, loadChildren } from '@bookgen/db-optimizer'
import {
  defineWorkerTask,
  type ParallelTaskExecutor,
  type ValidationParallelizer,
} from '@bookgen/parallel'
import { asc, eq } from 'drizzle-orm'
import type { SearchHit } from './corpus/corpusServer.js'
import type { Figure } from './corpus/figures.js'
import { biographies, chapters, generationJobs, sources } from './db/schema.js'
import {
  renderChapter,
  renderHeader,
  renderSources,
  writeMarkdownStream,
} from './markdownWriter.js'
import { type FetchedPage, fetchPageStreaming } from './pageFetcher.js'
import {
  assemble,
  chapterRows,
  contentHash,
  counts,
  figureOutcome,
  markdownFile,
  searchCorpus,
  sourceRows,
  type ValidatedSource,
} from './pipelineSupport.js'
import { countFetch, type RunContext, type RunCounters, timed } from './runContext.js'
import type { FigureOutcome } from './runTypes.js'
import { type SourceScore, scoreSource } from './sourceScorer.js'

/** Seconds a validation result stays cached. */
export const validationTtl = 1800
/** Seconds an embedding stays cached. */
export const embeddingTtl = 86_400

/** The embedding worker task: `termVector` of dist/embedTask.js, run on worker threads. */
export const termVectorTask = defineWorkerTask<string, Float32Array>(
  new URL('./embedTask.js', import.meta.url),
  'termVector',
)

interface CachedValidation {
  page: Omit<FetchedPage, 'html'>
  verdict: SourceScore
}

/** Carries a verdict on a transient failure out of `cached()` without it being stored. */
class TransientFailure extends Error {
  readonly outcome: CachedValidation
  constructor(outcome: CachedValidation) {
    super(`${outcome.page.url}: ${outcome.page.failure}`)
    this.outcome = outcome
  }
}

/**
 * The optimized way: validations cached with `cached()` and run concurrently through
 * `ValidationParallelizer` (pages streamed, only the article kept), embeddings read from the cache
 * (float32 codec) or computed on worker threads, rows written with `batchInsert`/`batchUpdate`,
 * the biography read back with its chapters and sources eagerly (two statements, no N+1), and each
 * chapter's heavy content loaded on demand while the Markdown is streamed to disk.
 */
export async function runOptimized(
  ctx: RunContext,
  counters: RunCounters,
  workers: { executor: ParallelTaskExecutor; parallelizer: ValidationParallelizer },
  variant: 'optimized-cold' | 'optimized-warm',
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
  {
    executor,
    parallelizer,
  }: { executor: ParallelTaskExecutor; parallelizer: ValidationParallelizer },
  variant: 'optimized-cold' | 'optimized-warm',
  figure: Figure,
): Promise<FigureOutcome> {
  const { db, optimizer, cache } = ctx
  const stages = counters.stages
  const biographyId = randomUUID()
  const jobId = randomUUID()
  // The job and biography rows are written while the sources are fetched (the database is idle
  // during that I/O); the store step waits for them.
  const created = (async () => {
    await optimizer.batchInsert(biographies, [
      { id: biographyId, slug: figure.slug, name: figure.name, variant },
    ])
    await optimizer.batchInsert(generationJobs, [
      { id: jobId, biographyId, variant, status: 'running', startedAt: new Date() },
    ])
  })()
  created.catch(() => {})
  const hits = await timed(stages, 'search', () => searchCorpus(ctx.corpusBaseUrl, figure))

  let computed = 0
  // Only definitive verdicts are cached: a page that failed transiently (timeout, reset, 5xx,
  // after every retry) is scored for this run but thrown past cached(), which never stores
  // errors, so the next run fetches it again.
  const fetchAndScore = cached(
    async (hit: SearchHit): Promise<CachedValidation> => {
      computed++
      const page = await fetchPageStreaming(hit.url, hit.fetchUrl, ctx.fetchPolicy)
      countFetch(counters, page)
      const outcome = { page, verdict: scoreSource(figure, page) }
      if (page.failure) throw new TransientFailure(outcome)
      return outcome
    },
    {
      ttl: validationTtl,
      keyPrefix: 'validation',
      key: (hit) => cacheKey('validation', hit.url),
      cache,
    },
  )
  const validated = await timed(stages, 'validate', async () => {
    const bar = ctx.progress.bar(`${variant}: validating ${figure.name}`, hits.length)
    let inFlight = 0
    const results = await parallelizer.validateSourcesParallel(hits, async (hit: SearchHit) => {
      counters.validationMaxInFlight = Math.max(counters.validationMaxInFlight, ++inFlight)
      const outcome = await fetchAndScore(hit).catch((error: unknown) => {
        if (error instanceof TransientFailure) return error.outcome
        throw error
      })
      inFlight--
      bar.increment()
      return outcome
    })
    bar.stop()
    return results.map((r, i): ValidatedSource => {
      if (!r.success) throw new Error(`validation of ${hits[i]!.url} failed`, { cause: r.error })
      const { page, verdict } = r.result as CachedValidation
      return { hit: hits[i]!, page, verdict, contentHash: contentHash(page.text) }
    })
  })
  counters.validationTotal += hits.length
  counters.validationFromCache += hits.length - computed

  const termVectors = await timed(stages, 'embed', async () => {
    const wanted = validated.flatMap((v, i) => (v.verdict.valid ? [i] : []))
    const keys = wanted.map((i) => cacheKey('embedding', validated[i]!.contentHash))
    const found = await cache.getMany<Float32Array>(keys, { codec: 'float32' })
    const vectors = new Map<number, Float32Array>()
    const missing: number[] = []
    wanted.forEach((index, n) => {
      const hit = found.get(keys[n]!)
      if (hit) vectors.set(index, hit)
      else missing.push(index)
    })
    if (missing.length > 0) {
      const bar = ctx.progress.bar(`${variant}: embedding ${figure.name}`, missing.length)
      const results = await executor.mapParallel(
        termVectorTask,
        missing.map((i) => validated[i]!.page.text),
      )
      const fresh: Record<string, Float32Array> = {}
      results.forEach((r, n) => {
        if (!r.success) throw new Error('embedding failed on a worker thread', { cause: r.error })
        const index = missing[n]!
        vectors.set(index, r.result!)
        fresh[cacheKey('embedding', validated[index]!.contentHash)] = r.result!
        bar.increment()
      })
      bar.stop()
      await cache.setMany(fresh, embeddingTtl, { codec: 'float32' })
    }
    counters.embeddingsTotal += wanted.length
    counters.embeddingsComputed += missing.length
    counters.embeddingsFromCache += wanted.length - missing.length
    return vectors
  })
  const assembled = assemble(figure, validated, termVectors, stages)

  await timed(stages, 'store', async () => {
    await created
    const rows = sourceRows(biographyId, validated, assembled)
    await optimizer.batchInsert(sources, rows, { batchSize: 500 })
    if (assembled.duplicates.size > 0) {
      await optimizer.batchUpdate(
        sources,
        [...assembled.duplicates].map(([index, twin]) => ({
          id: rows[index]!.id,
          duplicateOf: rows[twin]!.id,
        })),
        { batchSize: 100 },
      )
    }
    await optimizer.batchInsert(chapters, chapterRows(biographyId, assembled.chapters), {
      batchSize: 100,
    })
    await optimizer.batchUpdate(biographies, [
      {
        id: biographyId,
        status: 'completed',
        sourceCount: assembled.refs.size,
        chapterCount: assembled.chapters.length,
        updatedAt: new Date(),
      },
    ])
    await optimizer.batchUpdate(generationJobs, [
      { id: jobId, status: 'completed', finishedAt: new Date() },
    ])
  })

  // Eager loading with @bookgen/db-optimizer: the biography joined with its chapters in one
  // statement, its sources attached in a second (`fk = ANY($1)`); the heavy `content` columns
  // stay in the database until the writer asks for them.
  const bio = await timed(stages, 'read', () =>
    optimizer.timeQuery('get_biography_eager', async () => {
      const [withChapters] = await eagerLoad(db, {
        parent: biographies,
        child: chapters,
        foreignKey: chapters.biographyId,
        as: 'chapters',
        where: eq(biographies.id, biographyId),
        orderChildrenBy: asc(chapters.position),
        columns: { child: { content: false } },
      })
      if (!withChapters) return undefined
      const [withSources] = await loadChildren(db, [withChapters], {
        child: sources,
        foreignKey: sources.biographyId,
        references: biographies.id,
        as: 'sources',
        orderChildrenBy: asc(sources.ref),
        columns: { child: { content: false } },
      })
      return withSources
    }),
  )
  if (!bio) throw new Error(`biography ${biographyId} was not found after it was stored`)
  counters.chaptersTotal += bio.chapters.length
  counters.rowsWithContentInInitialRead += [...bio.chapters, ...bio.sources].filter(
    (row) => 'content' in row,
  ).length

  const path = join(ctx.outDir, markdownFile(figure))
  const loaders = bio.chapters.map(
    (chapter) =>
      new AsyncLazyLoader(async () => {
        counters.chaptersLoadedOnDemand++
        const [row] = await optimizer.timeQuery('get_chapter_content', () =>
          db
            .select({ content: chapters.content })
            .from(chapters)
            .where(eq(chapters.id, chapter.id)),
        )
        return row?.content ?? ''
      }),
  )
  let digest = ''
  const bytes = await timed(stages, 'write', async () => {
    const hash = createHash('sha256')
    async function* parts(): AsyncGenerator<string> {
      const header = renderHeader(figure, counts(validated, assembled), bio!.chapters)
      hash.update(header)
      yield header
      for (const [n, chapter] of bio!.chapters.entries()) {
        const loader = loaders[n]!
        const section = renderChapter(chapter, await loader.get())
        loader.reset()
        hash.update(section)
        yield section
      }
      const list = renderSources(
        bio!.sources.flatMap((s) => (s.ref === null ? [] : [{ ...s, ref: s.ref }])),
      )
      hash.update(list)
      yield list
    }
    const written = await writeMarkdownStream(path, parts())
    digest = hash.digest('hex')
    return written
  })

  return figureOutcome(figure, hits.length, validated, assembled, { sha256: digest, bytes })
}
