import { cacheChannel, publishCacheEvent } from './cacheChannel.js'
import { CacheError, CacheErrorCode } from './cacheError.js'
import { argumentKeyParts, cacheKey } from './cacheKey.js'
import { getCache } from './getCache.js'
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
   * Random extra TTL as a fraction of `ttl` (0.1 → up to +10 %), so entries written together do
   * not all expire together.
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
  /** Removes the cached result for these arguments. */
  invalidate(...args: A): Promise<boolean>
}

interface Envelope {
  __bookgen_swr: 1
  /** The value. */
  v: unknown
  /** Fresh until (epoch ms). */
  f: number
}

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
  wrapped.invalidate = (...args: A) => runner.cache().delete(runner.key(undefined, args))
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
  cache(): Cache
}

function createRunner<This, A extends unknown[], R>(
  fn: (this: This, ...args: A) => R | Promise<R>,
  options: CachedOptions<A>,
  prefixOf: (self: This) => string,
): Runner<This, A, R> {
  const { ttl, staleWhileRevalidate: swr = 0, jitter = 0, codec } = options
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
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw new CacheError(
      CacheErrorCode.INVALID_OPTION,
      `options.jitter must be a number from 0 to 1, got ${String(jitter)}`,
    )
  }
  if (swr > 0 && (ttl === undefined || ttl === 0)) {
    throw new CacheError(
      CacheErrorCode.INVALID_OPTION,
      `options.ttl must be a positive integer when staleWhileRevalidate is set, got ${String(ttl)}`,
    )
  }
  if (swr > 0 && codec === 'float32') {
    throw new CacheError(
      CacheErrorCode.INVALID_OPTION,
      'options.staleWhileRevalidate needs an object codec (json or msgpack), got float32',
    )
  }
  const io = codec === undefined ? undefined : { codec }
  const inflight = new Map<string, Promise<Awaited<R>>>()
  const refreshing = new Set<string>()
  const cache = () => options.cache ?? getCache()
  const key = (self: This, args: A) =>
    options.key ? options.key(...args) : cacheKey(prefixOf(self), ...argumentKeyParts(args))

  const freshTtl = (): number | undefined => {
    if (ttl === undefined || ttl === 0 || jitter === 0) return ttl
    return ttl + Math.floor(Math.random() * ttl * jitter)
  }

  const compute = async (self: This, args: A, k: string, store: Cache): Promise<Awaited<R>> => {
    const value = (await fn.apply(self, args)) as Awaited<R>
    if (value !== undefined) {
      if (swr > 0) {
        const fresh = freshTtl()!
        const envelope: Envelope = { __bookgen_swr: 1, v: value, f: Date.now() + fresh * 1000 }
        await store.set(k, envelope, fresh + swr, io)
      } else {
        await store.set(k, value, freshTtl(), io)
      }
    }
    return value
  }

  const refresh = (self: This, args: A, k: string, store: Cache): void => {
    if (refreshing.has(k)) return
    refreshing.add(k)
    compute(self, args, k, store)
      .catch((error: unknown) => {
        if (cacheChannel.hasSubscribers) {
          publishCacheEvent({
            op: 'error',
            key: k,
            namespace: store.namespace,
            durationMs: 0,
            error: error instanceof Error ? error : new Error(String(error)),
          })
        }
      })
      .finally(() => refreshing.delete(k))
  }

  const call = (self: This, args: A): Promise<Awaited<R>> => {
    let k: string
    let store: Cache
    try {
      k = key(self, args)
      const running = inflight.get(k)
      if (running !== undefined) return running
      store = cache()
    } catch (error) {
      // A cached function is async: bad arguments reject, they never throw synchronously.
      return Promise.reject(error)
    }
    const task = (async (): Promise<Awaited<R>> => {
      const hit = await store.get<unknown>(k, io)
      if (hit !== undefined) {
        if (swr === 0 || !isEnvelope(hit)) return hit as Awaited<R>
        if (Date.now() >= hit.f) refresh(self, args, k, store)
        return hit.v as Awaited<R>
      }
      return compute(self, args, k, store)
    })()
    inflight.set(k, task)
    const done = () => {
      inflight.delete(k)
    }
    task.then(done, done)
    return task
  }

  return { call, key, cache }
}

function isEnvelope(value: unknown): value is Envelope {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Envelope).__bookgen_swr === 1 &&
    typeof (value as Envelope).f === 'number'
  )
}
