import { randomUUID } from 'node:crypto'
import { eq } from 'drizzle-orm'
import type { ChapterDraft } from '../chapterBuilder.js'
import type { Figure } from '../corpus/figures.js'
import { biographies, chapters, generationJobs, sources } from '../db/schema.js'
import type { RunContext } from '../runContext.js'
import type { Variant } from '../runTypes.js'
import type { Deduplicated } from './dedupe.js'
import type { ValidatedSource } from './validate.js'

/** The rows a biography is stored under. */
export interface BiographyIds {
  readonly biographyId: string
  readonly jobId: string
}

/** What the store stage writes for one figure. */
export interface Biography {
  readonly validated: readonly ValidatedSource[]
  readonly deduplicated: Deduplicated
  readonly chapters: readonly ChapterDraft[]
}

/** Store, the naive way, first step: the biography and its job, one INSERT each. */
export async function createNaive(ctx: RunContext, figure: Figure): Promise<BiographyIds> {
  const { db, optimizer } = ctx
  const ids = { biographyId: randomUUID(), jobId: randomUUID() }
  await optimizer.timeQuery('insert_biography', () =>
    db
      .insert(biographies)
      .values({ id: ids.biographyId, slug: figure.slug, name: figure.name, variant: 'naive' }),
  )
  await optimizer.timeQuery('insert_job', () =>
    db.insert(generationJobs).values({
      id: ids.jobId,
      biographyId: ids.biographyId,
      variant: 'naive',
      status: 'running',
      startedAt: new Date(),
    }),
  )
  return ids
}

/** Store, the naive way: one INSERT or UPDATE per row. */
export async function storeNaive(
  ctx: RunContext,
  ids: BiographyIds,
  biography: Biography,
): Promise<void> {
  const { db, optimizer } = ctx
  const rows = sourceRows(ids.biographyId, biography)
  for (const row of rows) {
    await optimizer.timeQuery('insert_source', () => db.insert(sources).values(row))
  }
  for (const [index, twin] of biography.deduplicated.duplicates) {
    await optimizer.timeQuery('update_source_duplicate', () =>
      db
        .update(sources)
        .set({ duplicateOf: rows[twin]!.id })
        .where(eq(sources.id, rows[index]!.id)),
    )
  }
  for (const row of chapterRows(ids.biographyId, biography.chapters)) {
    await optimizer.timeQuery('insert_chapter', () => db.insert(chapters).values(row))
  }
  await optimizer.timeQuery('update_biography', () =>
    db.update(biographies).set(completion(biography)).where(eq(biographies.id, ids.biographyId)),
  )
  await optimizer.timeQuery('update_job', () =>
    db
      .update(generationJobs)
      .set({ status: 'completed', finishedAt: new Date() })
      .where(eq(generationJobs.id, ids.jobId)),
  )
}

/**
 * Store, the optimized way, first step: the biography and its job written with `batchInsert`
 * while the sources are fetched (the database is idle during that I/O). Returns at once; the
 * store step awaits the promise.
 */
export function createOptimized(
  ctx: RunContext,
  figure: Figure,
  variant: Variant,
): { ids: BiographyIds; created: Promise<void> } {
  const { optimizer } = ctx
  const ids = { biographyId: randomUUID(), jobId: randomUUID() }
  const created = (async () => {
    await optimizer.batchInsert(biographies, [
      { id: ids.biographyId, slug: figure.slug, name: figure.name, variant },
    ])
    await optimizer.batchInsert(generationJobs, [
      {
        id: ids.jobId,
        biographyId: ids.biographyId,
        variant,
        status: 'running',
        startedAt: new Date(),
      },
    ])
  })()
  created.catch(() => {})
  return { ids, created }
}

/**
 * Store, the optimized way: every table written with `batchInsert` / `batchUpdate`
 * (`@bookgen/db-optimizer`): one transaction per call, no per-row round trips.
 */
export async function storeOptimized(
  ctx: RunContext,
  { ids, created }: { ids: BiographyIds; created: Promise<void> },
  biography: Biography,
): Promise<void> {
  const { optimizer } = ctx
  await created
  const rows = sourceRows(ids.biographyId, biography)
  await optimizer.batchInsert(sources, rows, { batchSize: 500 })
  const { duplicates } = biography.deduplicated
  if (duplicates.size > 0) {
    await optimizer.batchUpdate(
      sources,
      [...duplicates].map(([index, twin]) => ({
        id: rows[index]!.id,
        duplicateOf: rows[twin]!.id,
      })),
      { batchSize: 100 },
    )
  }
  await optimizer.batchInsert(chapters, chapterRows(ids.biographyId, biography.chapters), {
    batchSize: 100,
  })
  await optimizer.batchUpdate(biographies, [{ id: ids.biographyId, ...completion(biography) }])
  await optimizer.batchUpdate(generationJobs, [
    { id: ids.jobId, status: 'completed', finishedAt: new Date() },
  ])
}

function completion(biography: Biography) {
  return {
    status: 'completed',
    sourceCount: biography.deduplicated.refs.size,
    chapterCount: biography.chapters.length,
    updatedAt: new Date(),
  } as const
}

/** Rows of the `sources` table for a biography, with fresh ids (duplicates not yet linked). */
function sourceRows(
  biographyId: string,
  { validated, deduplicated }: Biography,
): (typeof sources.$inferInsert & { id: string })[] {
  return validated.map((v, index) => ({
    id: randomUUID(),
    biographyId,
    ref: deduplicated.refs.get(index) ?? null,
    url: v.hit.url,
    domain: new URL(v.hit.url).hostname,
    title: v.page.title ?? null,
    author: v.page.author ?? null,
    published: v.page.published ?? null,
    status: v.page.status,
    valid: v.verdict.valid,
    score: v.verdict.score,
    credibility: v.verdict.credibility,
    words: v.verdict.words,
    duplicateOf: null,
    contentHash: v.contentHash,
    content: v.page.text,
    fetchMs: Math.round(v.page.fetchMs * 10) / 10,
  }))
}

/** Rows of the `chapters` table for a biography. */
function chapterRows(
  biographyId: string,
  drafts: readonly ChapterDraft[],
): (typeof chapters.$inferInsert & { id: string })[] {
  return drafts.map((c) => ({
    id: randomUUID(),
    biographyId,
    position: c.position,
    title: c.title,
    period: c.period,
    content: c.content,
    citations: c.citations,
    wordCount: c.content.split(/\s+/).length,
  }))
}
