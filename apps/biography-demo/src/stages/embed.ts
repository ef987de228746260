import { cacheKey } from '@bookgen/cache'
import type { ParallelTaskExecutor } from '@bookgen/parallel'
import type { RunContext, RunCounters } from '../runContext.js'
import { termFrequencyVector, tfidf } from '../vectorizer.js'
import { termVectorTask } from '../workerTasks.js'
import type { ValidatedSource } from './validate.js'

/** Seconds an embedding stays cached. */
export const embeddingTtl = 86_400

/** TF-IDF embeddings of the valid sources, by index into the validated list. */
export type Embeddings = ReadonlyMap<number, Float32Array>

/**
 * Embed, the naive way: every valid source's term-frequency vector computed on the main thread,
 * every run; then IDF over the figure's valid sources.
 */
export function embedNaive(
  counters: RunCounters,
  validated: readonly ValidatedSource[],
): Embeddings {
  const wanted = validIndexes(validated)
  const vectors = wanted.map((i) => termFrequencyVector(validated[i]!.page.text))
  counters.embeddingsTotal += wanted.length
  counters.embeddingsComputed += wanted.length
  return weigh(wanted, vectors)
}

/**
 * Embed, the optimized way: term-frequency vectors read from the cache in one round trip
 * (`getMany`, float32 codec), the missing ones computed on worker threads (`mapParallel` with a
 * `defineWorkerTask` task) and stored (`setMany`); then IDF over the figure's valid sources. The
 * cache holds the per-document half, so a changed corpus changes only the weights. The executor
 * decides where the misses run: local threads, or `bookgen-worker` processes (distributed run).
 */
export async function embedOptimized(
  ctx: RunContext,
  counters: RunCounters,
  executor: ParallelTaskExecutor,
  label: string,
  validated: readonly ValidatedSource[],
): Promise<Embeddings> {
  const wanted = validIndexes(validated)
  const keys = wanted.map((i) => cacheKey('embedding', validated[i]!.contentHash))
  const found = await ctx.cache.getMany<Float32Array>(keys, { codec: 'float32' })
  const vectors: (Float32Array | undefined)[] = keys.map((k) => found.get(k))
  const missing = wanted.flatMap((_, n) => (vectors[n] === undefined ? [n] : []))
  if (missing.length > 0) {
    const bar = ctx.progress.bar(label, missing.length)
    const results = await executor.mapParallel(
      termVectorTask,
      missing.map((n) => validated[wanted[n]!]!.page.text),
    )
    const fresh: Record<string, Float32Array> = {}
    results.forEach((r, m) => {
      if (!r.success) throw new Error('embedding failed on a worker thread', { cause: r.error })
      const n = missing[m]!
      vectors[n] = r.result!
      fresh[keys[n]!] = r.result!
      bar.increment()
    })
    bar.stop()
    await ctx.cache.setMany(fresh, embeddingTtl, { codec: 'float32' })
  }
  counters.embeddingsTotal += wanted.length
  counters.embeddingsComputed += missing.length
  counters.embeddingsFromCache += wanted.length - missing.length
  return weigh(wanted, vectors as Float32Array[])
}

function validIndexes(validated: readonly ValidatedSource[]): number[] {
  return validated.flatMap((v, i) => (v.verdict.valid ? [i] : []))
}

function weigh(indexes: readonly number[], vectors: readonly Float32Array[]): Embeddings {
  const embeddings = tfidf(vectors)
  return new Map(indexes.map((index, n) => [index, embeddings[n]!]))
}
