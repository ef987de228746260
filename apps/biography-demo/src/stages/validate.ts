import { createHash } from 'node:crypto'
import { cached, cacheKey } from '@bookgen/cache'
import type { ParallelTaskExecutor, ValidationParallelizer } from '@bookgen/parallel'
import type { SearchHit } from '../corpus/corpusServer.js'
import type { Figure } from '../corpus/figures.js'
import { type FetchedPage, fetchPageStreaming, fetchWholePage } from '../pageFetcher.js'
import { countFetch, type RunContext, type RunCounters } from '../runContext.js'
import { type SourceScore, scoreSource } from '../sourceScorer.js'
import { validateSourceTask } from '../workerTasks.js'

/** Seconds a validation result stays cached. */
export const validationTtl = 1800

/** A source after validation. */
export interface ValidatedSource {
  readonly hit: SearchHit
  readonly page: FetchedPage
  readonly verdict: SourceScore
  /** SHA-256 of the page text: the key of its cached embedding. */
  readonly contentHash: string
}

/**
 * Validate, the naive way: one page after the other, each downloaded whole and kept (with its
 * HTML) until the figure is done; nothing cached.
 */
export async function validateNaive(
  ctx: RunContext,
  counters: RunCounters,
  figure: Figure,
  hits: readonly SearchHit[],
): Promise<ValidatedSource[]> {
  const validated: ValidatedSource[] = []
  const bar = ctx.progress.bar(`naive: validating ${figure.name}`, hits.length)
  for (const hit of hits) {
    const page = await fetchWholePage(hit.url, hit.fetchUrl, ctx.fetchPolicy)
    countFetch(counters, page)
    validated.push({ hit, page, verdict: scoreSource(figure, page), contentHash: hash(page.text) })
    bar.increment()
  }
  bar.stop()
  counters.validationTotal += hits.length
  counters.validationMaxInFlight = Math.max(counters.validationMaxInFlight, 1)
  return validated
}

interface CachedValidation {
  page: Omit<FetchedPage, 'html'>
  verdict: SourceScore
}

/** Carries a verdict on a transient failure out of `cached()` without it being stored. */
class TransientFailure extends Error {
  readonly outcome: CachedValidation
  constructor(outcome: CachedValidation) {
    super(`${outcome.page.url}: ${outcome.page.failure}`)
    this.outcome = outcome
  }
}

/**
 * Validate, the optimized way: `cached()` verdicts (`@bookgen/cache`) run through
 * `ValidationParallelizer` (`@bookgen/parallel`), pages streamed and only their article kept.
 * Only definitive verdicts are cached: a page that failed transiently (timeout, reset, 5xx,
 * after every retry) is scored for this run but thrown past `cached()`, which never stores
 * errors, so the next run fetches it again.
 */
export async function validateOptimized(
  ctx: RunContext,
  counters: RunCounters,
  parallelizer: ValidationParallelizer,
  label: string,
  figure: Figure,
  hits: readonly SearchHit[],
): Promise<ValidatedSource[]> {
  let computed = 0
  const fetchAndScore = cached(
    async (hit: SearchHit): Promise<CachedValidation> => {
      computed++
      const page = await fetchPageStreaming(hit.url, hit.fetchUrl, ctx.fetchPolicy)
      countFetch(counters, page)
      const outcome = { page, verdict: scoreSource(figure, page) }
      if (page.failure) throw new TransientFailure(outcome)
      return outcome
    },
    {
      ttl: validationTtl,
      keyPrefix: 'validation',
      key: validationKey,
      cache: ctx.cache,
    },
  )
  const bar = ctx.progress.bar(`${label}: validating ${figure.name}`, hits.length)
  let inFlight = 0
  const results = await parallelizer.validateSourcesParallel(hits, async (hit: SearchHit) => {
    counters.validationMaxInFlight = Math.max(counters.validationMaxInFlight, ++inFlight)
    const outcome = await fetchAndScore(hit).catch((error: unknown) => {
      if (error instanceof TransientFailure) return error.outcome
      throw error
    })
    inFlight--
    bar.increment()
    return outcome
  })
  bar.stop()
  counters.validationTotal += hits.length
  counters.validationFromCache += hits.length - computed
  return results.map((r, i): ValidatedSource => {
    if (!r.success) throw new Error(`validation of ${hits[i]!.url} failed`, { cause: r.error })
    const { page, verdict } = r.result as CachedValidation
    return { hit: hits[i]!, page, verdict, contentHash: hash(page.text) }
  })
}

/**
 * Validate, distributed: the same cache entries as {@link validateOptimized}, looked up on the
 * caller in one round trip (`getMany`); only the misses leave this process, as plain inputs of
 * the `validateSource` worker task (the hit, the figure's name fields, the fetch policy), run by
 * the executor's backend (`bookgen-worker` processes behind `bullmqBackend`). The definitive
 * verdicts that come back are stored (`setMany`); a transient failure is used for this run and
 * not stored, as in the local run.
 */
export async function validateDistributed(
  ctx: RunContext,
  counters: RunCounters,
  executor: ParallelTaskExecutor,
  label: string,
  figure: Figure,
  hits: readonly SearchHit[],
): Promise<ValidatedSource[]> {
  const keys = hits.map(validationKey)
  const found = await ctx.cache.getMany<CachedValidation>(keys)
  const outcomes: (CachedValidation | undefined)[] = keys.map((k) => found.get(k))
  const missing = hits.flatMap((_, i) => (outcomes[i] === undefined ? [i] : []))
  const bar = ctx.progress.bar(`${label}: validating ${figure.name}`, hits.length)
  bar.increment(hits.length - missing.length)
  const figureFields = { name: figure.name, surname: figure.surname }
  const results = await executor.mapParallel(
    validateSourceTask,
    missing.map((i) => ({ hit: hits[i]!, figure: figureFields, policy: ctx.fetchPolicy })),
    { onResult: () => bar.increment() },
  )
  bar.stop()
  const fresh: Record<string, CachedValidation> = {}
  results.forEach((r, m) => {
    const i = missing[m]!
    if (!r.success) throw new Error(`validation of ${hits[i]!.url} failed`, { cause: r.error })
    const outcome = r.result!
    countFetch(counters, outcome.page)
    outcomes[i] = outcome
    if (!outcome.page.failure) fresh[keys[i]!] = outcome
  })
  if (Object.keys(fresh).length > 0) await ctx.cache.setMany(fresh, validationTtl)
  counters.validationTotal += hits.length
  counters.validationFromCache += hits.length - missing.length
  return outcomes.map((outcome, i): ValidatedSource => {
    const { page, verdict } = outcome!
    return { hit: hits[i]!, page, verdict, contentHash: hash(page.text) }
  })
}

function validationKey(hit: SearchHit): string {
  return cacheKey('validation', hit.url)
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
