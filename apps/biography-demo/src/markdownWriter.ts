import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import type { Figure } from './corpus/figures.js'

/** A source as listed in the biography's "Sources" section. */
export interface ListedSource {
  readonly ref: number
  readonly url: string
  readonly domain: string
  readonly title: string | null
  readonly author: string | null
  readonly published: string | null
  readonly score: number
}

/** What the Markdown needs to know about a chapter; `content` may come lazily. */
export interface ChapterHeading {
  readonly position: number
  readonly title: string
  readonly period: string
}

/** Counts shown in the biography's header. */
export interface BiographyCounts {
  considered: number
  valid: number
  duplicates: number
}

/** Header of the biography: title, summary, counts and contents. */
export function renderHeader(
  figure: Figure,
  counts: BiographyCounts,
  chapters: readonly ChapterHeading[],
): string {
  const lines = [
    `# ${figure.name} (${figure.born}–${figure.died})`,
    '',
    `> ${figure.summary}`,
    '',
    `*Written by the BookGen demo from ${counts.valid - counts.duplicates} sources: ${counts.considered} considered, ${counts.considered - counts.valid} rejected by validation, ${counts.duplicates} near-duplicates removed.*`,
    '',
    '## Contents',
    '',
    ...chapters.map((c) => `${c.position}. [${c.title}](#chapter-${c.position}) (${c.period})`),
    '',
  ]
  return `${lines.join('\n')}\n`
}

/** One chapter section. */
export function renderChapter(chapter: ChapterHeading, content: string): string {
  return `<a id="chapter-${chapter.position}"></a>\n\n## ${chapter.position}. ${chapter.title}\n\n*${chapter.period}*\n\n${content}\n\n`
}

/** The "Sources" section: each source once, by citation number. */
export function renderSources(sources: readonly ListedSource[]): string {
  const lines = ['## Sources', '']
  for (const s of [...sources].sort((a, b) => a.ref - b.ref)) {
    const title = s.title ?? '(untitled page)'
    const by = [s.author, s.published].filter(Boolean).join(', ')
    lines.push(
      `${s.ref}. [${title}](${s.url}) — ${s.domain}${by ? `, ${by}` : ''} (credibility score ${s.score.toFixed(2)})`,
    )
  }
  return `${lines.join('\n')}\n`
}

/**
 * Writes Markdown part by part to a file: each part is produced only when it is written, so a
 * lazily loaded chapter is held in memory only while it is written.
 */
export async function writeMarkdownStream(
  path: string,
  parts: AsyncIterable<string>,
): Promise<number> {
  const out = createWriteStream(path, { encoding: 'utf8' })
  let bytes = 0
  try {
    for await (const part of parts) {
      bytes += Buffer.byteLength(part)
      if (!out.write(part)) await once(out, 'drain')
    }
  } finally {
    out.end()
    await once(out, 'close')
  }
  return bytes
}
