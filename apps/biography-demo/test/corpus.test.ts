import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCorpus } from '../src/corpus/corpusBuilder.js'
import { CorpusServer, type SearchHit } from '../src/corpus/corpusServer.js'
import { figures, findFigure } from '../src/corpus/figures.js'
import { fetchPageStreaming, fetchWholePage } from '../src/pageFetcher.js'
import { scoreSource } from '../src/sourceScorer.js'

describe('offline corpus', () => {
  it('expands every figure into 40–60 sources of every kind, the same way each time', () => {
    for (const figure of figures) {
      const corpus = buildCorpus(figure, figures)
      expect(corpus.length).toBeGreaterThanOrEqual(40)
      expect(corpus.length).toBeLessThanOrEqual(60)
      expect(buildCorpus(figure, figures)).toEqual(corpus)
      const kinds = new Set(corpus.map((s) => s.kind))
      for (const kind of ['article', 'syndicated', 'dubious'])
        expect(kinds, figure.name).toContain(kind)
      expect(
        corpus.some((s) => s.status !== 200),
        figure.name,
      ).toBe(true)
    }
  })

  it('has near-duplicates, contradictions and pages without metadata', () => {
    const curie = findFigure('marie curie')!
    const corpus = buildCorpus(curie, figures)
    const copy = corpus.find((s) => s.kind === 'syndicated')!
    const original = corpus.find((s) => s.id === copy.copyOf)!
    expect(copy.sentences.slice(1)).toEqual(original.sentences.slice(1))
    expect(copy.domain).not.toBe(original.domain)
    const years = new Set(curie.facts.map((f) => f.year))
    const contradicting = corpus
      .filter((s) => s.kind === 'dubious')
      .flatMap((s) => s.sentences.slice(1))
      .filter((s) => !years.has(Number(/\b1[89]\d\d\b/.exec(s)?.[0])))
    expect(contradicting.length).toBeGreaterThan(0)
    expect(corpus.some((s) => s.kind === 'missing-meta' && s.title === undefined)).toBe(true)
  })

  it('finds figures by name, slug or surname, ignoring case and accents', () => {
    expect(findFigure('ADA lovelace')?.slug).toBe('ada-lovelace')
    expect(findFigure('alan-turing')?.name).toBe('Alan Turing')
    expect(findFigure('Nobody')).toBeUndefined()
  })
})

describe('corpus server and source scoring', () => {
  const server = new CorpusServer()
  let base: string
  let hits: SearchHit[]
  const tesla = findFigure('Nikola Tesla')!

  beforeAll(async () => {
    base = await server.start()
    hits = (await (await fetch(`${base}/search?figure=nikola-tesla`)).json()) as SearchHit[]
  })

  afterAll(() => server.close())

  it('listens on a loopback ephemeral port and lists a figure’s sources', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(hits.length).toBe(server.sourceCount(tesla))
    expect(hits[0]!.url).toMatch(/^https:\/\/[a-z0-9.-]+\/nikola-tesla\/01$/)
    expect(hits[0]!.fetchUrl.startsWith(base)).toBe(true)
  })

  it('serves the same article to the whole-page and the streaming fetcher', async () => {
    const hit = hits[0]!
    const whole = await fetchWholePage(hit.url, hit.fetchUrl, 5000)
    const streamed = await fetchPageStreaming(hit.url, hit.fetchUrl, 5000)
    expect(whole.status).toBe(200)
    expect(streamed.text).toBe(whole.text)
    expect(streamed.title).toBe(whole.title)
    expect(whole.text).toContain('Tesla')
    expect(whole.html!.length).toBeGreaterThan(90_000)
    expect(streamed.bytes).toBeLessThan(whole.bytes)
  })

  it('scores trusted articles valid and broken, off-topic or clickbait pages invalid', async () => {
    const corpus = buildCorpus(tesla, figures)
    const verdicts = await Promise.all(
      hits.map(async (hit, i) => ({
        kind: corpus[i]!.kind,
        domain: corpus[i]!.domain,
        verdict: scoreSource(tesla, await fetchPageStreaming(hit.url, hit.fetchUrl, 5000)),
      })),
    )
    const of = (kind: string) => verdicts.filter((v) => v.kind === kind)
    expect(of('article').length).toBeGreaterThan(5)
    expect(of('broken').length).toBeGreaterThan(0)
    expect(of('off-topic').length + of('thin').length).toBeGreaterThan(0)
    expect(of('article').every((v) => v.verdict.valid)).toBe(true)
    expect(of('broken').every((v) => !v.verdict.valid && v.verdict.score === 0)).toBe(true)
    expect(of('off-topic').every((v) => !v.verdict.valid)).toBe(true)
    expect(of('thin').every((v) => !v.verdict.valid)).toBe(true)
    const dubiousHosts = verdicts.filter((v) => v.kind === 'dubious' && v.verdict.credibility < 0.5)
    expect(dubiousHosts.every((v) => !v.verdict.valid)).toBe(true)
  })

  it('answers 404 for unknown pages', async () => {
    const res = await fetch(`${base}/nowhere.example.org/x`)
    expect(res.status).toBe(404)
  })
})
