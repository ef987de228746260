import { eagerLoad, loadChildren } from '@bookgen/db-optimizer'
import { and, asc, eq } from 'drizzle-orm'
import { biographies, chapters, sources } from '../db/schema.js'
import type { ListedSource } from '../markdownWriter.js'
import type { RunContext, RunCounters } from '../runContext.js'

/** A chapter as read back: its content may be left in the database (`content` absent). */
export interface ReadChapter {
  readonly id: string
  readonly position: number
  readonly title: string
  readonly period: string
  readonly content?: string
}

/** A stored biography as read back for writing. */
export interface ReadBiography {
  readonly chapters: readonly ReadChapter[]
  /** The cited sources, by citation number. */
  readonly sources: readonly ListedSource[]
}

/**
 * Read back, the naive way: the biography, then one query per chapter and one per cited source
 * (N+1, which the QueryOptimizer's detector reports), everything with its content.
 */
export async function readBackNaive(
  ctx: RunContext,
  counters: RunCounters,
  biographyId: string,
): Promise<ReadBiography> {
  const { db, optimizer } = ctx
  return optimizer.timeQuery('read_biography', async () => {
    await optimizer.timeQuery('get_biography', () =>
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
    return { chapters: fullChapters, sources: [...cited.values()] }
  })
}

/**
 * Read back, the optimized way: eager loading with `@bookgen/db-optimizer`, the biography joined
 * with its chapters in one statement, its sources attached in a second (`fk = ANY($1)`); the heavy
 * `content` columns stay in the database until the writer asks for them.
 */
export async function readBackOptimized(
  ctx: RunContext,
  counters: RunCounters,
  biographyId: string,
): Promise<ReadBiography> {
  const { db, optimizer } = ctx
  const bio = await optimizer.timeQuery('get_biography_eager', async () => {
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
  })
  if (!bio) throw new Error(`biography ${biographyId} was not found after it was stored`)
  counters.chaptersTotal += bio.chapters.length
  counters.rowsWithContentInInitialRead += [...bio.chapters, ...bio.sources].filter(
    (row) => 'content' in row,
  ).length
  return {
    chapters: bio.chapters,
    sources: bio.sources.flatMap((s) => (s.ref === null ? [] : [{ ...s, ref: s.ref }])),
  }
}
