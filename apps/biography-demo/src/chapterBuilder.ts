import type { Figure } from './corpus/figures.js'
import { cosineSimilarity, normalize, termFrequencyVector } from './vectorizer.js'

/** A validated, deduplicated source as the chapter builder sees it. */
export interface ChapterSource {
  /** Citation number of the source in the biography. */
  readonly ref: number
  readonly score: number
  readonly text: string
}

/** One chapter: a period of the figure's life, its text and the sources it cites. */
export interface ChapterDraft {
  readonly position: number
  readonly title: string
  readonly period: string
  /** Markdown paragraphs with `[n]` citations. */
  readonly content: string
  /** Citation numbers used in the content, ascending. */
  readonly citations: number[]
  /** Years on which the sources disagreed, with the year retained. */
  readonly conflicts: { retained: number; rejected: number[] }[]
}

interface Claim {
  readonly year: number
  readonly sentence: string
  readonly ref: number
  readonly score: number
  readonly vector: Float32Array
}

const sentenceDims = 512
const sameClaimThreshold = 0.5
const metaSentence = /\b(this page|here we look|here is what|one of the most|lived from)\b/i

/**
 * Groups the claims of the sources into chapters by period, merges claims that say the same
 * thing (cosine similarity of their word vectors), settles disagreements on the year by
 * credibility-weighted vote, and writes each claim once with every source that supports it.
 */
export function buildChapters(figure: Figure, sources: readonly ChapterSource[]): ChapterDraft[] {
  const claims = sources.flatMap((source) => extractClaims(figure, source))
  const chapters: ChapterDraft[] = []
  for (const period of figure.periods) {
    const inPeriod = claims.filter((c) => c.year >= period.from - 3 && c.year <= period.to + 3)
    const groups = cluster(inPeriod).map(settle)
    const mine = groups
      .filter((g) => g.year >= period.from && g.year <= period.to)
      .sort((a, b) => a.year - b.year || a.sentence.localeCompare(b.sentence))
    if (mine.length === 0) continue
    const lines = mine.map((g) => {
      const cites = g.refs.map((r) => `[${r}]`).join('')
      const note =
        g.rejected.length > 0 ? ` (Some sources give ${dissentingYears(g.rejected)}.)` : ''
      return `${capitalize(g.sentence)} ${cites}${note}`
    })
    const paragraphs: string[] = []
    for (let i = 0; i < lines.length; i += 3) paragraphs.push(lines.slice(i, i + 3).join(' '))
    const citations = [
      ...new Set(mine.flatMap((g) => [...g.refs, ...g.rejected.map((r) => r.ref)])),
    ]
    chapters.push({
      position: chapters.length + 1,
      title: period.title,
      period: period.to >= 2100 ? `after ${period.from - 1}` : `${period.from}–${period.to}`,
      content: paragraphs.join('\n\n'),
      citations: citations.sort((a, b) => a - b),
      conflicts: mine
        .filter((g) => g.rejected.length > 0)
        .map((g) => ({ retained: g.year, rejected: [...new Set(g.rejected.map((r) => r.year))] })),
    })
  }
  return chapters
}

function extractClaims(figure: Figure, source: ChapterSource): Claim[] {
  const out: Claim[] = []
  for (const sentence of source.text.split(/(?<=[.!?])\s+/)) {
    if (metaSentence.test(sentence)) continue
    const years = sentence.match(/\b(1[5-9]\d\d|20\d\d)\b/g)
    if (years?.length !== 1) continue
    const stripped = sentence
      .replaceAll(figure.surname, ' ')
      .replace(/\b(she|he|in|records|show|that|from)\b/gi, ' ')
    out.push({
      year: Number(years[0]),
      sentence: sentence.trim(),
      ref: source.ref,
      score: source.score,
      vector: normalize(termFrequencyVector(stripped, sentenceDims)),
    })
  }
  return out
}

function cluster(claims: readonly Claim[]): Claim[][] {
  const groups: { centroid: Float32Array; members: Claim[] }[] = []
  for (const claim of claims) {
    let best: (typeof groups)[number] | undefined
    let bestSim = sameClaimThreshold
    for (const g of groups) {
      const sim = cosineSimilarity(g.centroid, claim.vector)
      if (sim >= bestSim) {
        best = g
        bestSim = sim
      }
    }
    if (best) best.members.push(claim)
    else groups.push({ centroid: claim.vector, members: [claim] })
  }
  return groups.map((g) => g.members)
}

function settle(members: Claim[]): {
  year: number
  sentence: string
  refs: number[]
  rejected: { year: number; ref: number }[]
} {
  const votes = new Map<number, number>()
  for (const m of members) votes.set(m.year, (votes.get(m.year) ?? 0) + m.score)
  const year = [...votes.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0]
  const agreeing = members.filter((m) => m.year === year)
  const best = [...agreeing].sort((a, b) => b.score - a.score || a.ref - b.ref)[0]!
  return {
    year,
    sentence: best.sentence,
    refs: [...new Set(agreeing.map((m) => m.ref))].sort((a, b) => a - b),
    rejected: members.filter((m) => m.year !== year).map((m) => ({ year: m.year, ref: m.ref })),
  }
}

/** `1882 [18][26], 1884 [3]`: each dissenting year once, with every source that gives it. */
function dissentingYears(rejected: readonly { year: number; ref: number }[]): string {
  const byYear = new Map<number, Set<number>>()
  for (const r of rejected) byYear.set(r.year, (byYear.get(r.year) ?? new Set()).add(r.ref))
  return [...byYear]
    .sort((a, b) => a[0] - b[0])
    .map(
      ([year, refs]) =>
        `${year} ${[...refs]
          .sort((a, b) => a - b)
          .map((r) => `[${r}]`)
          .join('')}`,
    )
    .join(', ')
}

function capitalize(value: string): string {
  return value.charAt(0).toUpperCase() + value.slice(1)
}
