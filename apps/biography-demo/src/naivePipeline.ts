import { randomUUID } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { and, eq } from 'drizzle-orm'
import type { Figure } from './corpus/figures.js'
import { biographies, chapters, generationJobs, sources } from './db/schema.js'
import { type ListedSource, renderChapter, renderHeader, renderSources } from './markdownWriter.js'
import { fetchWholePage } from './pageFetcher.js'
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
import { sha256 } from './sha256.js'
import { scoreSource } from './sourceScorer.js'
import { termFrequencyVector } from './vectorizer.js'

/**
 * The naive way, as a first version would do it: no cache, one source validated after the other
 * (whole pages downloaded and kept), embeddings on the main thread, one INSERT/UPDATE per row, the
 * biography read back with one query per chapter and per cited source (N+1), everything loaded
 * eagerly and the Markdown built as one string.
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
  const { db, optimizer } = ctx
  const stages = counters.stages
  const biographyId = randomUUID()
  const jobId = randomUUID()
  await timed(stages, 'store', async () => {
    await optimizer.timeQuery('insert_biography', () =>
      db
        .insert(biographies)
        .values({ id: biographyId, slug: figure.slug, name: figure.name, variant: 'naive' }),
    )
    await optimizer.timeQuery('insert_job', () =>
      db.insert(generationJobs).values({
        id: jobId,
        biographyId,
        variant: 'naive',
        status: 'running',
        startedAt: new Date(),
      }),
    )
  })
  const hits = await timed(stages, 'search', () => searchCorpus(ctx.corpusBaseUrl, figure))

  const validated: ValidatedSource[] = []
  const pages: string[] = []
  await timed(stages, 'validate', async () => {
    const bar = ctx.progress.bar(`naive: validating ${figure.name}`, hits.length)
    for (const hit of hits) {
      const page = await fetchWholePage(hit.url, hit.fetchUrl, ctx.fetchPolicy)
      countFetch(counters, page)
      if (page.html) pages.push(page.html)
      validated.push({
        hit,
        page,
        verdict: scoreSource(figure, page),
        contentHash: contentHash(page.text),
      })
      bar.increment()
    }
    bar.stop()
  })
  counters.validationTotal += hits.length
  counters.validationMaxInFlight = Math.max(counters.validationMaxInFlight, 1)

  const termVectors = new Map<number, Float32Array>()
  await timed(stages, 'embed', () => {
    validated.forEach((v, i) => {
      if (!v.verdict.valid) return
      termVectors.set(i, termFrequencyVector(v.page.text))
      counters.embeddingsTotal++
      counters.embeddingsComputed++
    })
  })
  const assembled = assemble(figure, validated, termVectors, stages)

  await timed(stages, 'store', async () => {
    const rows = sourceRows(biographyId, validated, assembled)
    for (const row of rows) {
      await optimizer.timeQuery('insert_source', () => db.insert(sources).values(row))
    }
    for (const [index, twin] of assembled.duplicates) {
      await optimizer.timeQuery('update_source_duplicate', () =>
        db
          .update(sources)
          .set({ duplicateOf: rows[twin]!.id })
          .where(eq(sources.id, rows[index]!.id)),
      )
    }
    for (const row of chapterRows(biographyId, assembled.chapters)) {
      await optimizer.timeQuery('insert_chapter', () => db.insert(chapters).values(row))
    }
    await optimizer.timeQuery('update_biography', () =>
      db
        .update(biographies)
        .set({
          status: 'completed',
          sourceCount: assembled.refs.size,
          chapterCount: assembled.chapters.length,
          updatedAt: new Date(),
        })
        .where(eq(biographies.id, biographyId)),
    )
    await optimizer.timeQuery('update_job', () =>
      db
        .update(generationJobs)
        .set({ status: 'completed', finishedAt: new Date() })
        .where(eq(generationJobs.id, jobId)),
    )
  })

  const loaded = await timed(stages, 'read', () =>
    optimizer.timeQuery('read_biography', async () => {
      const [bio] = await optimizer.timeQuery('get_biography', () =>
        db.select().from(biographies).where(eq(biographies.id, biographyId)),
      )
      const chapterIds = await optimizer.timeQuery('get_chapters', () =>
        db
          .select()
          .from(chapters)
          .where(eq(chapters.biographyId, biographyId))
          .orderBy(chapters.position),
      )
      const fullChapters = []
      const cited = new Map<number, ListedSource>()
      for (const { id } of chapterIds) {
        const [chapter] = await optimizer.timeQuery('get_chapter', () =>
          db.select().from(chapters).where(eq(chapters.id, id)),
        )
        fullChapters.push(chapter!)
        for (const ref of chapter!.citations) {
          const [source] = await optimizer.timeQuery('get_source_by_ref', () =>
            db
              .select()
              .from(sources)
              .where(and(eq(sources.biographyId, biographyId), eq(sources.ref, ref))),
          )
          if (source && !cited.has(ref)) cited.set(ref, { ...source, ref })
        }
      }
      const allSources = await optimizer.timeQuery('get_all_sources', () =>
        db.select().from(sources).where(eq(sources.biographyId, biographyId)),
      )
      for (const s of allSources) {
        if (s.ref !== null && !cited.has(s.ref)) cited.set(s.ref, { ...s, ref: s.ref })
      }
      counters.chaptersTotal += fullChapters.length
      counters.rowsWithContentInInitialRead += [...fullChapters, ...allSources].filter(
        (row) => 'content' in row,
      ).length
      return { bio: bio!, chapters: fullChapters, sources: [...cited.values()] }
    }),
  )

  const markdown = await timed(stages, 'write', async () => {
    const text =
      renderHeader(figure, counts(validated, assembled), loaded.chapters) +
      loaded.chapters.map((c) => renderChapter(c, c.content)).join('') +
      renderSources(loaded.sources)
    await writeFile(join(ctx.outDir, markdownFile(figure)), text)
    return text
  })
  pages.length = 0

  return figureOutcome(figure, hits.length, validated, assembled, {
    sha256: sha256(markdown),
    bytes: Buffer.byteLength(markdown),
  })
}
