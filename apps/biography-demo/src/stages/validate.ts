import { createHash } from 'node:crypto'
import { cached, cacheKey } from '@bookgen/cache'
import type { ValidationParallelizer } from '@bookgen/parallel'
import type { SearchHit } from '../corpus/corpusServer.js'
import type { Figure } from '../corpus/figures.js'
import { type FetchedPage, fetchPageStreaming, fetchWholePage } from '../pageFetcher.js'
import { countFetch, type RunContext, type RunCounters } from '../runContext.js'
import { type SourceScore, scoreSource } from '../sourceScorer.js'

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
      key: (hit) => cacheKey('validation', hit.url),
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

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
