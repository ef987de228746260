import type { Figure } from './corpus/figures.js'
import type { FetchedPage } from './pageFetcher.js'

/** The verdict on one source. */
export interface SourceScore {
  /** Whether the source is used for the biography. */
  valid: boolean
  /** 0..1: weighted credibility, content and metadata. */
  score: number
  /** 0..1 credibility of the domain. */
  credibility: number
  /** Words in the article body. */
  words: number
  /** Why the source lost points or was rejected. */
  reasons: string[]
}

/** Credibility of known domains; unknown domains get {@link unknownCredibility}. */
export const domainCredibility: Readonly<Record<string, number>> = {
  'encyclopedia.example.org': 0.95,
  'archives.university.example.edu': 0.95,
  'national-library.example.org': 0.9,
  'science-history.example.org': 0.9,
  'royal-society-archive.example.org': 0.9,
  'museum-of-science.example.org': 0.85,
  'news.example.com': 0.65,
  'history-magazine.example.com': 0.6,
  'classroom-resources.example.net': 0.6,
  'facts4u.example.com': 0.2,
  'viral-history.example.net': 0.15,
  'amazing-trivia.test': 0.1,
  'truth-uncovered.test': 0.05,
  'quiz-answers.test': 0.15,
}

const unknownCredibility = 0.4
const minimumScore = 0.55
const minimumWords = 40
const sensational = /\b(shocking|secret|incredible|you won’t believe|hidden)\b/i

/**
 * Scores a fetched page: reachability, domain credibility, and content checks (the figure is
 * named, enough text, title/author/date present, no clickbait).
 */
export function scoreSource(
  figure: Pick<Figure, 'name' | 'surname'>,
  page: Omit<FetchedPage, 'html'>,
): SourceScore {
  const reasons: string[] = []
  const domain = new URL(page.url).hostname
  const credibility = domainCredibility[domain] ?? unknownCredibility
  if (page.failure) {
    const what = page.failure === 'server-error' ? `HTTP ${page.status}` : page.failure
    reasons.push(`unreachable (${what}, ${page.attempts} attempts)`)
    return { valid: false, score: 0, credibility, words: 0, reasons }
  }
  if (page.status !== 200) {
    reasons.push(`HTTP ${page.status}`)
    return { valid: false, score: 0, credibility, words: 0, reasons }
  }
  const words = page.text.split(/\s+/).filter(Boolean).length
  const named = page.text.includes(figure.surname)
  if (!named) reasons.push(`does not mention ${figure.name}`)
  if (words < minimumWords) reasons.push(`too short (${words} words)`)
  const metadata = [page.title, page.author, page.published].filter(Boolean).length / 3
  if (metadata < 1) reasons.push('missing metadata')
  const clickbait = page.title !== undefined && sensational.test(page.title)
  if (clickbait) reasons.push('sensational title')
  if (credibility < 0.5) reasons.push(`low-credibility domain ${domain}`)
  const content = (named ? 0.6 : 0) + Math.min(1, words / 120) * 0.4 - (clickbait ? 0.3 : 0)
  const score = round(0.45 * credibility + 0.4 * Math.max(0, content) + 0.15 * metadata)
  const valid = named && words >= minimumWords && score >= minimumScore
  return { valid, score, credibility, words, reasons }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000
}
