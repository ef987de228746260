import type { Figure } from './corpus/figures.js'
import type { BiographyCounts } from './markdownWriter.js'
import type { FigureOutcome } from './runTypes.js'
import type { Biography } from './stages/store.js'
import type { Written } from './stages/write.js'

/** Counts for the biography header. */
export function biographyCounts({ validated, deduplicated }: Biography): BiographyCounts {
  return {
    considered: validated.length,
    valid: validated.filter((v) => v.verdict.valid).length,
    duplicates: deduplicated.duplicates.size,
  }
}

/** A figure's line in the run's metrics, once its Markdown is written. */
export function figureOutcome(
  figure: Figure,
  biography: Biography,
  written: Written,
): FigureOutcome {
  const { validated, deduplicated, chapters } = biography
  const counts = biographyCounts(biography)
  return {
    slug: figure.slug,
    name: figure.name,
    considered: counts.considered,
    valid: counts.valid,
    duplicates: counts.duplicates,
    chapters: chapters.length,
    citations: deduplicated.refs.size,
    conflicts: chapters.reduce((n, c) => n + c.conflicts.length, 0),
    sources: [...deduplicated.refs]
      .sort((a, b) => a[1] - b[1])
      .map(([index]) => validated[index]!.hit.url),
    chapterTitles: chapters.map((c) => c.title),
    unreachable: validated.flatMap((v) => (v.page.failure ? [v.hit.url] : [])),
    file: written.file,
    sha256: written.sha256,
    bytes: written.bytes,
  }
}
