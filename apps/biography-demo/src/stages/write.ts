import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AsyncLazyLoader } from '@bookgen/db-optimizer'
import { eq } from 'drizzle-orm'
import type { Figure } from '../corpus/figures.js'
import { chapters } from '../db/schema.js'
import {
  type BiographyCounts,
  renderChapter,
  renderHeader,
  renderSources,
  writeMarkdownStream,
} from '../markdownWriter.js'
import type { RunContext, RunCounters } from '../runContext.js'
import { sha256 } from '../sha256.js'
import type { ReadBiography } from './readBack.js'

/** The Markdown a write stage produced. */
export interface Written {
  /** File name, relative to the output folder. */
  readonly file: string
  readonly sha256: string
  readonly bytes: number
}

/** File name of a figure's biography in the output folder. */
export function markdownFile(figure: Figure): string {
  return `${figure.slug}.md`
}

/** Write, the naive way: the whole Markdown built as one string, then written. */
export async function writeNaive(
  ctx: RunContext,
  figure: Figure,
  counts: BiographyCounts,
  bio: ReadBiography,
): Promise<Written> {
  const text =
    renderHeader(figure, counts, bio.chapters) +
    bio.chapters.map((c) => renderChapter(c, c.content ?? '')).join('') +
    renderSources(bio.sources)
  const file = markdownFile(figure)
  await writeFile(join(ctx.outDir, file), text)
  return { file, sha256: sha256(text), bytes: Buffer.byteLength(text) }
}

/**
 * Write, the optimized way: the Markdown streamed to the file part by part; each chapter's
 * content loaded on demand (`AsyncLazyLoader`) while that chapter is written, then released.
 */
export async function writeOptimized(
  ctx: RunContext,
  counters: RunCounters,
  figure: Figure,
  counts: BiographyCounts,
  bio: ReadBiography,
): Promise<Written> {
  const { db, optimizer } = ctx
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
  const hash = createHash('sha256')
  async function* parts(): AsyncGenerator<string> {
    const header = renderHeader(figure, counts, bio.chapters)
    hash.update(header)
    yield header
    for (const [n, chapter] of bio.chapters.entries()) {
      const loader = loaders[n]!
      const section = renderChapter(chapter, await loader.get())
      loader.reset()
      hash.update(section)
      yield section
    }
    const list = renderSources(bio.sources)
    hash.update(list)
    yield list
  }
  const file = markdownFile(figure)
  const bytes = await writeMarkdownStream(join(ctx.outDir, file), parts())
  return { file, sha256: hash.digest('hex'), bytes }
}
