import { cacheChannel, publishCacheEvent } from './cacheChannel.js'
import { CacheError, CacheErrorCode } from './cacheError.js'
import { argumentKeyParts, cacheKey } from './cacheKey.js'
import { getCache } from './getCache.js'
import {
  isStaleEnvelope,
  kRawRead,
  kReportError,
  kSetMs,
  type SetMs,
  type StaleEnvelope,
} from './storeProtocol.js'
import type { Cache, CodecOption } from './types.js'
import { assertTtl, describe } from './validate.js'

/** Options of `cached()` and `@Cached()`. */
export interface CachedOptions<A extends unknown[] = unknown[]> {
  /**
   * Seconds a result stays fresh; `0` means no expiry.
   * @default the cache's `defaultTtl` (3600)
   */
  ttl?: number
  /**
   * First part of the key: `cacheKey(keyPrefix, ...args)`. Required for an anonymous function
   * (unless `key` is given), so two anonymous functions never share keys.
   * @default the function's name (`cached`), `ClassName.method` (`@Cached`)
   */
  keyPrefix?: string
  /**
   * Builds the key from the arguments instead of the typed encoding of `cacheKey(keyPrefix,
   * ...args)`. Needed for arguments that are class instances.
   * @default undefined
   */
  key?: (...args: A) => string
  /**
   * Store to use.
   * @default getCache()
   */
  cache?: Cache
  /**
   * Seconds after `ttl` during which a stale result is still served while one refresh runs in
   * the background. `0` disables it. Needs a positive `ttl` and an object-capable codec.
   * @default 0
   */
  staleWhileRevalidate?: number
  /**
   * Seconds after `ttl` (and after `staleWhileRevalidate`) during which the last good result is
   * returned when the function fails, instead of its error. While the function keeps failing it is
   * retried with exponential backoff (1 s, 2 s, 4 s… at most `ttl`), the last good result served
   * in between. `0` disables it. Needs a positive `ttl` and an object-capable codec.
   * @default 0
   */
  gracePeriod?: number
  /**
   * Random extra TTL as a fraction of `ttl` (0.1 → up to +10 %), in milliseconds, so entries
   * written together do not all expire together.
   * @default 0
   */
  jitter?: number
  /**
   * Codec of the stored results.
   * @default the cache's codec
   */
  codec?: CodecOption
}

/** A function wrapped by `cached()`. */
export interface CachedFunction<A extends unknown[], R> {
  (...args: A): Promise<R>
  /** The cache key used for these arguments. */
  key(...args: A): string
  /**
   * Removes the cached result for these arguments. A computation for them that is running now
   * does not store its result, and later callers do not join it.
   */
  invalidate(...args: A): Promise<boolean>
}

/** One computation of a key: callers join it until its result is stored. */
interface Flight<R> {
  promise: Promise<R>
  /** `invalidate()` ran meanwhile: the result must not be stored, nobody may join. */
  cancelled: boolean
}

/** Consecutive failures of a key's refreshes, and when the next attempt may run (epoch ms). */
interface Backoff {
  failures: number
  retryAt: number
}

const MAX_BACKOFF_KEYS = 10_000

/**
 * Wraps a function so its results are cached under a key built from its arguments. Results that
 * are `null` are cached too (`undefined` is returned but not cached); errors are not cached.
 * Concurrent calls with the same key share one computation, and when the cache fails the function
 * still runs and its result is returned.
 */
export function cached<A extends unknown[], R>(
  fn: (...args: A) => R | Promise<R>,
  options: CachedOptions<A> = {},
): CachedFunction<A, Awaited<R>> {
  if (typeof fn !== 'function') {
    throw new CacheError(CacheErrorCode.INVALID_OPTION, `fn must be a function, got ${typeof fn}`)
  }
  const prefix = options.keyPrefix ?? fn.name
  if (prefix === '' && options.key === undefined) {
    throw new CacheError(
      CacheErrorCode.INVALID_OPTION,
      'options.keyPrefix must be given for an anonymous function (or options.key), got none',
    )
  }
  const runner = createRunner<unknown, A, R>(fn, options, () => prefix)
  const wrapped = ((...args: A) => runner.call(undefined, args)) as CachedFunction<A, Awaited<R>>
  wrapped.key = (...args: A) => runner.key(undefined, args)
  wrapped.invalidate = (...args: A) => runner.invalidate(undefined, args)
  return wrapped
}

/**
 * TypeScript 5 standard method decorator: caches the method's results like `cached()`. The key is
 * `cacheKey('ClassName.method', ...args)` unless `keyPrefix` or `key` is given; `this` is not
 * part of the key.
 */
// biome-ignore lint/suspicious/noExplicitAny: `key` receives whatever the decorated method takes
export function Cached(options: CachedOptions<any[]> = {}) {
  return <This, A extends unknown[], R>(
    method: (this: This, ...args: A) => Promise<R>,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => Promise<R>>,
  ): ((this: This, ...args: A) => Promise<R>) => {
    const name = String(context.name)
    const runner = createRunner<This, A, R>(
      method,
      options,
      (self) => options.keyPrefix ?? `${ownerName(self)}.${name}`,
    )
    return function (this: This, ...args: A) {
      return runner.call(this, args) as Promise<R>
    }
  }
}

function ownerName(self: unknown): string {
  if (typeof self === 'function') return self.name || 'anonymous'
  return (self as object | undefined)?.constructor?.name ?? 'anonymous'
}

interface Runner<This, A extends unknown[], R> {
  call(self: This, args: A): Promise<Awaited<R>>
  key(self: This, args: A): string
  invalidate(self: This, args: A): Promise<boolean>
}

function createRunner<This, A extends unknown[], R>(
  fn: (this: This, ...args: A) => R | Promise<R>,
  options: CachedOptions<A>,
  prefixOf: (self: This) => string,
): Runner<This, A, R> {
  const { ttl, staleWhileRevalidate: swr = 0, gracePeriod: grace = 0, jitter = 0, codec } = options
  if (
    options.keyPrefix !== undefined &&
    (typeof options.keyPrefix !== 'string' || options.keyPrefix === '')
  ) {
    throw new CacheError(
      CacheErrorCode.INVALID_OPTION,
      `options.keyPrefix must be a non-empty string, got ${describe(options.keyPrefix)}`,
    )
  }
  if (options.key !== undefined && typeof options.key !== 'function') {
    throw new CacheError(
      CacheErrorCode.INVALID_OPTION,
      `options.key must be a function, got ${describe(options.key)}`,
    )
  }
  if (ttl !== undefined) assertTtl(ttl, 'options.ttl')
  assertTtl(swr, 'options.staleWhileRevalidate')
  assertTtl(grace, 'options.gracePeriod')
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw new CacheError(
      CacheErrorCode.INVALID_OPTION,
      `options.jitter must be a number from 0 to 1, got ${String(jitter)}`,
    )
  }
  const enveloped = swr > 0 || grace > 0
  if (enveloped && (ttl === undefined || ttl === 0)) {
    throw new CacheError(
      CacheErrorCode.INVALID_OPTION,
      `options.ttl must be a positive integer when staleWhileRevalidate or gracePeriod is set, got ${String(ttl)}`,
    )
  }
  if (enveloped && codec === 'float32') {
    throw new CacheError(
      CacheErrorCode.INVALID_OPTION,
      'options.staleWhileRevalidate and options.gracePeriod need an object codec (json or msgpack), got float32',
    )
  }
  const io = codec === undefined ? undefined : { codec }
  // Reads see the envelope; what the function returns is always its value.
  const rawRead = { ...io, [kRawRead]: true }
  const flights = new Map<string, Flight<Awaited<R>>>()
  const refreshing = new Set<string>()
  const backoffs = new Map<string, Backoff>()
  const cache = () => options.cache ?? getCache()
  const key = (self: This, args: A) =>
    options.key ? options.key(...args) : cacheKey(prefixOf(self), ...argumentKeyParts(args))

  /** Fresh lifetime of a result in ms, jittered in ms; undefined: the store's default. */
  const freshMs = (): number | undefined => {
    if (ttl === undefined || ttl === 0) return ttl
    return Math.round(ttl * 1000 * (1 + Math.random() * jitter))
  }

  /** Stores a result; never rejects (an unencodable result is a counted error, not a throw). */
  const persist = async (k: string, store: Cache, value: unknown): Promise<void> => {
    const fresh = freshMs()
    try {
      if (enveloped) {
        const now = Date.now()
        const envelope: StaleEnvelope = {
          __bookgen_swr: 1,
          v: value,
          f: now + fresh!,
          s: now + fresh! + swr * 1000,
        }
        await setWithMs(store, k, envelope, fresh! + Math.max(swr, grace) * 1000, io)
      } else {
        await setWithMs(store, k, value, fresh, io)
      }
    } catch (error) {
      report(store, k, error)
    }
  }

  /** Runs the function; on success stores the result (unless cancelled) and forgets failures. */
  const compute = async (
    self: This,
    args: A,
    k: string,
    store: Cache,
    flight: Flight<unknown> | undefined,
  ): Promise<{ value: Awaited<R>; stored: Promise<void> | undefined }> => {
    const value = (await fn.apply(self, args)) as Awaited<R>
    backoffs.delete(k)
    const stored = value === undefined || flight?.cancelled ? undefined : persist(k, store, value)
    return { value, stored }
  }

  const failed = (k: string): void => {
    const previous = backoffs.get(k)
    const failures = (previous?.failures ?? 0) + 1
    const delay = Math.min(1000 * 2 ** (failures - 1), (ttl || 1) * 1000)
    if (previous === undefined && backoffs.size >= MAX_BACKOFF_KEYS) {
      backoffs.delete(backoffs.keys().next().value!)
    }
    backoffs.set(k, { failures, retryAt: Date.now() + delay })
  }

  const mayRetry = (k: string): boolean => {
    const backoff = backoffs.get(k)
    return backoff === undefined || Date.now() >= backoff.retryAt
  }

  const refresh = (self: This, args: A, k: string, store: Cache): void => {
    if (refreshing.has(k) || !mayRetry(k)) return
    refreshing.add(k)
    compute(self, args, k, store, undefined)
      .then(({ stored }) => stored)
      .catch((error: unknown) => {
        failed(k)
        report(store, k, error)
      })
      .finally(() => refreshing.delete(k))
  }

  const call = (self: This, args: A): Promise<Awaited<R>> => {
    let k: string
    let store: Cache
    try {
      k = key(self, args)
      const running = flights.get(k)
      if (running !== undefined) return running.promise
      store = cache()
    } catch (error) {
      // A cached function is async: bad arguments reject, they never throw synchronously.
      return Promise.reject(error)
    }
    let settled: Promise<unknown> | undefined
    const flight: Flight<Awaited<R>> = { promise: undefined as never, cancelled: false }
    flight.promise = (async (): Promise<Awaited<R>> => {
      const hit = await store.get<unknown>(k, enveloped ? rawRead : io)
      let stale: StaleEnvelope | undefined
      if (hit !== undefined) {
        if (!enveloped || !isStaleEnvelope(hit)) return hit as Awaited<R>
        const now = Date.now()
        if (now < hit.f) return hit.v as Awaited<R>
        if (now < (hit.s ?? hit.f)) {
          refresh(self, args, k, store)
          return hit.v as Awaited<R>
        }
        // Past the stale window: compute now, and fall back on this value within the grace.
        stale = hit
        if (!mayRetry(k)) return hit.v as Awaited<R>
      }
      try {
        const { value, stored } = await compute(self, args, k, store, flight)
        settled = stored
        return value
      } catch (error) {
        if (stale === undefined || grace === 0) throw error
        failed(k)
        report(store, k, error)
        return stale.v as Awaited<R>
      }
    })()
    flights.set(k, flight)
    // Later callers join until the result is stored, so none recomputes it meanwhile; the caller
    // itself does not wait for the store.
    const forget = () => {
      if (flights.get(k) === flight) flights.delete(k)
    }
    const done = () => {
      if (settled === undefined) forget()
      else void settled.then(forget)
    }
    flight.promise.then(done, done)
    return flight.promise
  }

  const invalidate = (self: This, args: A): Promise<boolean> => {
    let k: string
    try {
      k = key(self, args)
    } catch (error) {
      return Promise.reject(error)
    }
    const running = flights.get(k)
    if (running !== undefined) {
      running.cancelled = true
      flights.delete(k)
    }
    backoffs.delete(k)
    return cache().delete(k)
  }

  return { call, key, invalidate }
}

/** Counts (when the store can) and publishes an error that the caller does not see. */
function report(store: Cache, key: string, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error))
  const reporter = (store as Partial<Record<typeof kReportError, (k: string, e: unknown) => void>>)[
    kReportError
  ]
  if (typeof reporter === 'function') {
    reporter.call(store, key, err)
  } else if (cacheChannel.hasSubscribers) {
    publishCacheEvent({ op: 'error', key, namespace: store.namespace, durationMs: 0, error: err })
  }
}

/** `store.set` with a TTL in milliseconds where the store takes one, else rounded up to seconds. */
function setWithMs(
  store: Cache,
  key: string,
  value: unknown,
  ttlMs: number | undefined,
  io: { codec: CodecOption } | undefined,
): Promise<boolean> {
  if (ttlMs === undefined || ttlMs === 0) return store.set(key, value, ttlMs, io)
  if (typeof (store as Partial<Record<typeof kSetMs, unknown>>)[kSetMs] === 'function') {
    return (store as unknown as Record<typeof kSetMs, SetMs>)[kSetMs](key, value, ttlMs, io)
  }
  return store.set(key, value, Math.ceil(ttlMs / 1000), io)
}
