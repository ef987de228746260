// A worker task module: a small deterministic text embedding (feature hashing of words into 64
// dimensions, L2-normalised). Runs on worker threads through defineWorkerTask.
const DIMENSIONS = 64

export function embed(text) {
  const vector = new Float32Array(DIMENSIONS)
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    let h = 2166136261
    for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619)
    vector[(h >>> 0) % DIMENSIONS] += h & 1 ? 1 : -1
  }
  let norm = 0
  for (const x of vector) norm += x * x
  norm = Math.sqrt(norm) || 1
  for (let i = 0; i < DIMENSIONS; i++) vector[i] /= norm
  return vector
}
