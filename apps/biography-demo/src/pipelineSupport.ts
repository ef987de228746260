import { createHash, randomUUID } from 'node:crypto'
import { buildChapters, type ChapterDraft } from './chapterBuilder.js'
import type { SearchHit } from './corpus/corpusServer.js'
import type { Figure } from './corpus/figures.js'
import type { chapters, sources } from './db/schema.js'
import { deduplicate } from './deduplicate.js'
import type { FetchedPage } from './pageFetcher.js'
import type { FigureOutcome } from './runTypes.js'
import type { SourceScore } from './sourceScorer.js'
import { tfidf } from './vectorizer.js'

/** A source after validation. */
export interface ValidatedSource {
  readonly hit: SearchHit
  readonly page: FetchedPage
  readonly verdict: SourceScore
  readonly contentHash: string
}

/** The outcome of deduplication and chapter building for one figure. */
export interface Assembled {
  /** Citation number of each kept source, by index into the validated list. */
  readonly refs: Map<number, number>
  /** Index of the source each duplicate repeats, by index. */
  readonly duplicates: Map<number, number>
  readonly chapters: ChapterDraft[]
}

/** Asks the corpus server for a figure's sources (the "search" step). */
export async function searchCorpus(baseUrl: string, figure: Figure): Promise<SearchHit[]> {
  const res = await fetch(`${baseUrl}/search?figure=${encodeURIComponent(figure.slug)}`)
  if (!res.ok) throw new Error(`corpus search failed with HTTP ${res.status}`)
  return (await res.json()) as SearchHit[]
}

/** SHA-256 of a page's text: the key of its cached embedding. */
export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/**
 * Removes near-duplicates (cosine similarity of TF-IDF embeddings) among the valid sources, numbers
 * the kept ones in corpus order and builds the chapters. `termVectors[i]` belongs to `valid[i]`.
 */
export function assemble(
  figure: Figure,
  validated: readonly ValidatedSource[],
  termVectors: ReadonlyMap<number, Float32Array>,
  timing: { deduplicate: number; chapters: number },
): Assembled {
  let started = performance.now()
  const validIndexes = validated.flatMap((v, i) => (v.verdict.valid ? [i] : []))
  const embeddings = tfidf(validIndexes.map((i) => termVectors.get(i)!))
  const twins = deduplicate(
    validIndexes.map((index, n) => ({
      index,
      score: validated[index]!.verdict.score,
      embedding: embeddings[n]!,
    })),
  )
  const duplicates = new Map<number, number>()
  const refs = new Map<number, number>()
  for (const index of validIndexes) {
    const twin = twins.get(index)
    if (twin === undefined) refs.set(index, refs.size + 1)
    else duplicates.set(index, twin)
  }
  timing.deduplicate += performance.now() - started
  started = performance.now()
  const drafts = buildChapters(
    figure,
    [...refs].map(([index, ref]) => ({
      ref,
      score: validated[index]!.verdict.score,
      text: validated[index]!.page.text,
    })),
  )
  timing.chapters += performance.now() - started
  return { refs, duplicates, chapters: drafts }
}

/** Rows of the `sources` table for a biography, with fresh ids (duplicates not yet linked). */
export function sourceRows(
  biographyId: string,
  validated: readonly ValidatedSource[],
  assembled: Assembled,
): (typeof sources.$inferInsert & { id: string })[] {
  return validated.map((v, index) => ({
    id: randomUUID(),
    biographyId,
    ref: assembled.refs.get(index) ?? null,
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
export function chapterRows(
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

/** File name of a figure's biography in the output folder. */
export function markdownFile(figure: Figure): string {
  return `${figure.slug}.md`
}

/** A figure's line in the run's metrics, once its Markdown is written. */
export function figureOutcome(
  figure: Figure,
  considered: number,
  validated: readonly ValidatedSource[],
  assembled: Assembled,
  markdown: { sha256: string; bytes: number },
): FigureOutcome {
  return {
    slug: figure.slug,
    name: figure.name,
    considered,
    valid: validated.filter((v) => v.verdict.valid).length,
    duplicates: assembled.duplicates.size,
    chapters: assembled.chapters.length,
    citations: assembled.refs.size,
    conflicts: assembled.chapters.reduce((n, c) => n + c.conflicts.length, 0),
    sources: [...assembled.refs]
      .sort((a, b) => a[1] - b[1])
      .map(([index]) => validated[index]!.hit.url),
    chapterTitles: assembled.chapters.map((c) => c.title),
    unreachable: validated.flatMap((v) => (v.page.failure ? [v.hit.url] : [])),
    file: markdownFile(figure),
    sha256: markdown.sha256,
    bytes: markdown.bytes,
  }
}

/** Counts for the biography header. */
export function counts(
  validated: readonly ValidatedSource[],
  assembled: { duplicates: Map<number, number> },
): { considered: number; valid: number; duplicates: number } {
  return {
    considered: validated.length,
    valid: validated.filter((v) => v.verdict.valid).length,
    duplicates: assembled.duplicates.size,
  }
}
