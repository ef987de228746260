import type { Figure } from './figures.js'

/** What a generated source is, which decides how good it is. */
export type SourceKind =
  | 'article'
  | 'syndicated'
  | 'dubious'
  | 'missing-meta'
  | 'thin'
  | 'off-topic'
  | 'broken'

/** One web page of the offline corpus, described before it is rendered. */
export interface CorpusSource {
  /** `<figure-slug>/<nn>`, also the page's path on the corpus server. */
  readonly id: string
  readonly domain: string
  readonly kind: SourceKind
  readonly title?: string
  readonly author?: string
  readonly published?: string
  /** Sentences of the article body, in order. */
  readonly sentences: readonly string[]
  /** HTTP status the server answers with. */
  readonly status: number
  /** Simulated network latency of the host, in milliseconds. */
  readonly latencyMs: number
  /** Approximate size of the whole HTML page (boilerplate included), in bytes. */
  readonly pageBytes: number
  /** For `syndicated` copies: the id of the article copied. */
  readonly copyOf?: string
}

/** Domain credibility classes of the corpus; the scorer keeps its own table. */
export const corpusDomains = {
  trusted: [
    'encyclopedia.example.org',
    'archives.university.example.edu',
    'national-library.example.org',
    'science-history.example.org',
    'royal-society-archive.example.org',
    'museum-of-science.example.org',
  ],
  medium: ['news.example.com', 'history-magazine.example.com', 'classroom-resources.example.net'],
  dubious: [
    'facts4u.example.com',
    'viral-history.example.net',
    'amazing-trivia.test',
    'truth-uncovered.test',
    'quiz-answers.test',
  ],
} as const

/**
 * Expands a figure's fact base into 40–60 sources of varying quality. Deterministic: the same
 * figure always gives the same corpus.
 */
export function buildCorpus(figure: Figure, all: readonly Figure[]): CorpusSource[] {
  const rand = mulberry32(hashString(figure.slug))
  const count = 40 + Math.floor(rand() * 21)
  const sources: CorpusSource[] = []
  const articles: CorpusSource[] = []
  const others = all.filter((f) => f.slug !== figure.slug)

  for (let i = 0; i < count; i++) {
    const id = `${figure.slug}/${String(i + 1).padStart(2, '0')}`
    const kind = pickKind(i, rand)
    const pageBytes = Math.round(100_000 + rand() ** 2 * 1_400_000)
    const latencyMs = Math.round(20 + rand() * 60)

    if (kind === 'syndicated' && articles.length > 0) {
      const original = articles[Math.floor(rand() * articles.length)]!
      sources.push({
        ...original,
        id,
        kind,
        domain: pick(corpusDomains.medium, rand),
        sentences: original.sentences.map((s, n) => (n === 0 ? reword(s) : s)),
        latencyMs: latencyMs + 20,
        pageBytes,
        copyOf: original.id,
      })
      continue
    }

    const subject = kind === 'off-topic' ? pick(others, rand) : figure
    const facts = sample(subject.facts, 4 + Math.floor(rand() * 6), rand)
    const contradict = kind === 'dubious'
    const sentences = [
      intro(subject, rand),
      ...facts.map((fact) => {
        const shift =
          contradict && rand() < 0.5 ? (rand() < 0.5 ? -1 : 1) * (1 + Math.floor(rand() * 2)) : 0
        return render(subject, fact.claim, fact.year + shift, rand)
      }),
    ]
    const onDubiousHost = kind === 'thin' || (kind === 'dubious' && rand() < 0.6)
    const domain = onDubiousHost
      ? pick(corpusDomains.dubious, rand)
      : rand() < 0.7
        ? pick(corpusDomains.trusted, rand)
        : pick(corpusDomains.medium, rand)
    const hasMeta = kind !== 'missing-meta'
    const source: CorpusSource = {
      id,
      kind,
      domain,
      title: hasMeta ? title(subject, onDubiousHost ? kind : 'article', rand) : undefined,
      author: hasMeta && kind !== 'dubious' ? pick(authors, rand) : undefined,
      published: hasMeta
        ? `20${String(5 + Math.floor(rand() * 20)).padStart(2, '0')}-0${1 + Math.floor(rand() * 9)}-1${Math.floor(rand() * 9)}`
        : undefined,
      sentences: kind === 'thin' ? sentences.slice(0, 1) : sentences,
      status: kind === 'broken' ? pick([404, 503, 0], rand) : 200,
      latencyMs: kind === 'dubious' ? latencyMs + 40 : latencyMs,
      pageBytes,
    }
    sources.push(source)
    if (kind === 'article') articles.push(source)
  }
  return sources
}

const authors = [
  'E. Marchetti',
  'J. Okafor',
  'H. Lindqvist',
  'S. Ramanathan',
  'C. Dubois',
  'M. Kowalczyk',
  'A. Whitfield',
  'R. Tanaka',
]

const sensational = ['Shocking', 'Secret', 'Incredible', 'You won’t believe', 'Hidden']

function pickKind(index: number, rand: () => number): SourceKind {
  if (index < 6) return 'article'
  const r = rand()
  if (r < 0.4) return 'article'
  if (r < 0.55) return 'syndicated'
  if (r < 0.7) return 'dubious'
  if (r < 0.78) return 'missing-meta'
  if (r < 0.85) return 'thin'
  if (r < 0.92) return 'off-topic'
  return 'broken'
}

function intro(figure: Figure, rand: () => number): string {
  const forms = [
    `${figure.name} (${figure.born}–${figure.died}) was one of the most remarkable people of ${figure.pronoun === 'she' ? 'her' : 'his'} time.`,
    `This page looks at the life of ${figure.name}, born in ${figure.born}.`,
    `${figure.name} lived from ${figure.born} to ${figure.died}; here is what the record tells us.`,
  ]
  return pick(forms, rand)
}

function render(figure: Figure, claim: string, year: number, rand: () => number): string {
  const subject = rand() < 0.5 ? figure.surname : figure.pronoun === 'she' ? 'She' : 'He'
  switch (Math.floor(rand() * 4)) {
    case 0:
      return `In ${year}, ${subject === 'She' || subject === 'He' ? subject.toLowerCase() : subject} ${claim}.`
    case 1:
      return `${figure.surname} ${claim} in ${year}.`
    case 2:
      return `Records from ${year} show that ${figure.surname} ${claim}.`
    default:
      return `${subject} ${claim} (${year}).`
  }
}

function title(figure: Figure, kind: SourceKind, rand: () => number): string {
  if (kind === 'dubious') return `${pick(sensational, rand)} facts about ${figure.name}`
  return pick(
    [
      `${figure.name}: a life`,
      `${figure.name} — biography`,
      `The life and work of ${figure.name}`,
      `${figure.name} (${figure.born}–${figure.died})`,
    ],
    rand,
  )
}

function reword(sentence: string): string {
  return sentence.replace(/^This page looks at/, 'Here we look at').replace(/remarkable/, 'notable')
}

function pick<T>(items: readonly T[], rand: () => number): T {
  return items[Math.floor(rand() * items.length)]!
}

function sample<T>(items: readonly T[], n: number, rand: () => number): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j]!, copy[i]!]
  }
  return copy.slice(0, Math.min(n, copy.length))
}

/** 32-bit FNV-1a of a string. */
export function hashString(value: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

function mulberry32(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
