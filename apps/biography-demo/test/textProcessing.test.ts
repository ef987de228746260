import { describe, expect, it } from 'vitest'
import { buildChapters } from '../src/chapterBuilder.js'
import { findFigure } from '../src/corpus/figures.js'
import { deduplicate } from '../src/deduplicate.js'
import { cosineSimilarity, embeddingDims, termFrequencyVector, tfidf } from '../src/vectorizer.js'

const a = 'In 1903, Curie shared the Nobel Prize in Physics with Pierre Curie and Henri Becquerel.'
const b = 'Curie shared the Nobel Prize in Physics with Pierre Curie and Henri Becquerel in 1903.'
const c = 'Tesla patented the resonant transformer known as the Tesla coil in 1891.'

describe('vectorizer', () => {
  it('hashes text into a fixed-size float32 vector, deterministically', () => {
    const v = termFrequencyVector(a)
    expect(v).toBeInstanceOf(Float32Array)
    expect(v.length).toBe(embeddingDims)
    expect(termFrequencyVector(a)).toEqual(v)
    expect(v.some((x) => x !== 0)).toBe(true)
  })

  it('gives paraphrases a high and unrelated texts a low TF-IDF cosine similarity', () => {
    const [ea, eb, ec] = tfidf([a, b, c].map((t) => termFrequencyVector(t)))
    expect(cosineSimilarity(ea!, eb!)).toBeGreaterThan(0.8)
    expect(cosineSimilarity(ea!, ec!)).toBeLessThan(0.3)
    const norm = Math.sqrt(ea!.reduce((s, x) => s + x * x, 0))
    expect(norm).toBeCloseTo(1, 5)
  })

  it('keeps the best-scored item of each near-duplicate group', () => {
    const [ea, eb, ec] = tfidf([a, b, c].map((t) => termFrequencyVector(t)))
    const twins = deduplicate(
      [
        { index: 0, score: 0.7, embedding: ea! },
        { index: 1, score: 0.9, embedding: eb! },
        { index: 2, score: 0.5, embedding: ec! },
      ],
      0.8,
    )
    expect(twins.get(1)).toBeUndefined()
    expect(twins.get(0)).toBe(1)
    expect(twins.get(2)).toBeUndefined()
  })
})

describe('chapters', () => {
  const curie = findFigure('Marie Curie')!

  it('groups claims by period, cites every supporting source once and settles year conflicts by vote', () => {
    const chapters = buildChapters(curie, [
      {
        ref: 1,
        score: 0.95,
        text: 'Curie was born in Warsaw, then part of the Russian Empire in 1867. ' + a,
      },
      {
        ref: 2,
        score: 0.9,
        text: 'In 1867, she was born in Warsaw, then part of the Russian Empire.',
      },
      {
        ref: 3,
        score: 0.3,
        text: 'Curie was born in Warsaw, then part of the Russian Empire in 1866.',
      },
      { ref: 4, score: 0.8, text: b },
    ])
    expect(chapters.map((c) => c.title)).toEqual([
      'Childhood in Warsaw',
      'Paris and the discovery of radium',
    ])
    const [childhood, paris] = chapters
    expect(childhood!.content).toMatch(
      /Warsaw.*1867.*\[1\]\[2\] \(Some sources give 1866 \[3\]\.\)/,
    )
    expect(childhood!.conflicts).toEqual([{ retained: 1867, rejected: [1866] }])
    expect(childhood!.citations).toEqual([1, 2, 3])
    expect(paris!.content.match(/Nobel Prize/g)).toHaveLength(1)
    expect(paris!.citations).toEqual([1, 4])
    expect(chapters.map((c) => c.position)).toEqual([1, 2])
  })
})

describe('dissenting years', () => {
  const curie = findFigure('Marie Curie')!
  const born = (year: number) =>
    `Curie was born in Warsaw, then part of the Russian Empire in ${year}.`

  it('names each dissenting year once, with every source that gives it', () => {
    const [childhood] = buildChapters(curie, [
      { ref: 1, score: 0.95, text: born(1867) },
      { ref: 2, score: 0.9, text: born(1867) },
      { ref: 3, score: 0.3, text: born(1866) },
      { ref: 4, score: 0.2, text: born(1868) },
      { ref: 5, score: 0.3, text: born(1866) },
    ])
    expect(childhood!.content).toContain('(Some sources give 1866 [3][5], 1868 [4].)')
    expect(childhood!.conflicts).toEqual([{ retained: 1867, rejected: [1866, 1868] }])
  })
})
