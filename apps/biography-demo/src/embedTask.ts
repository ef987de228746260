import { tallyTask } from './taskTally.js'
import { termFrequencyVector } from './vectorizer.js'

/**
 * Worker-thread entry (built to dist/embedTask.js): the hashed term-frequency vector of one
 * source text, the CPU-heavy half of its TF-IDF embedding.
 */
export function termVector(text: string, context?: { idempotencyKey?: string }): Float32Array {
  const vector = termFrequencyVector(text)
  tallyTask('termVector', context?.idempotencyKey)
  return vector
}
