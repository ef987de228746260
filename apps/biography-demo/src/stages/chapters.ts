import { buildChapters, type ChapterDraft } from '../chapterBuilder.js'
import type { Figure } from '../corpus/figures.js'
import type { Deduplicated } from './dedupe.js'
import type { ValidatedSource } from './validate.js'

/**
 * Chapters, the same in both ways: the cited sources' claims grouped by period, merged, and
 * their year conflicts settled (`chapterBuilder.ts`).
 */
export function chapters(
  figure: Figure,
  validated: readonly ValidatedSource[],
  { refs }: Deduplicated,
): ChapterDraft[] {
  return buildChapters(
    figure,
    [...refs].map(([index, ref]) => ({
      ref,
      score: validated[index]!.verdict.score,
      text: validated[index]!.page.text,
    })),
  )
}
