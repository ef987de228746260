/** Dimensions of the demo's document embeddings. */
export const embeddingDims = 1024

/**
 * Hashed term-frequency vector of a text: word unigrams, word bigrams and character trigrams of
 * each word, hashed into `dims` buckets with a sign bit (feature hashing), sublinear tf (1 + ln n).
 * This is the CPU-heavy, per-document half of TF-IDF; {@link tfidf} applies the corpus weights.
 */
export function termFrequencyVector(text: string, dims = embeddingDims): Float32Array {
  const counts = new Float32Array(dims)
  const words = tokenize(text)
  let previous = ''
  for (const word of words) {
    addFeature(counts, `w:${word}`, dims)
    if (previous) addFeature(counts, `b:${previous} ${word}`, dims)
    previous = word
    const padded = `^${word}$`
    for (let i = 0; i + 3 <= padded.length; i++)
      addFeature(counts, `c:${padded.slice(i, i + 3)}`, dims)
  }
  for (let i = 0; i < dims; i++) {
    const c = counts[i]!
    counts[i] = c === 0 ? 0 : Math.sign(c) * (1 + Math.log(Math.abs(c)))
  }
  return counts
}

/** Lower-cased word tokens; numbers are dropped so that years do not dominate similarity. */
export function tokenize(text: string): string[] {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .split(/[^a-z]+/)
    .filter((w) => w.length > 1)
}

/**
 * Applies inverse document frequency over a set of term-frequency vectors and L2-normalises the
 * result, giving TF-IDF embeddings comparable by dot product.
 */
export function tfidf(vectors: readonly Float32Array[]): Float32Array[] {
  if (vectors.length === 0) return []
  const dims = vectors[0]!.length
  const df = new Float32Array(dims)
  for (const v of vectors) for (let i = 0; i < dims; i++) if (v[i] !== 0) df[i]! += 1
  const idf = new Float32Array(dims)
  for (let i = 0; i < dims; i++) idf[i] = Math.log((1 + vectors.length) / (1 + df[i]!)) + 1
  return vectors.map((v) => {
    const out = new Float32Array(dims)
    for (let i = 0; i < dims; i++) out[i] = v[i]! * idf[i]!
    return normalize(out)
  })
}

/** L2-normalises a vector in place and returns it. */
export function normalize(v: Float32Array): Float32Array {
  let sum = 0
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!
  const norm = Math.sqrt(sum)
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm
  return v
}

/** Cosine similarity of two vectors (any norm). */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!
    const y = b[i]!
    dot += x * y
    na += x * x
    nb += y * y
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}

function addFeature(counts: Float32Array, feature: string, dims: number): void {
  let h = 0x811c9dc5
  for (let i = 0; i < feature.length; i++) {
    h ^= feature.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h >>>= 0
  counts[h % dims]! += h & 0x80000000 ? -1 : 1
}
