import { MemoryCache } from './memoryCache.js'
import { RedisCache } from './redisCache.js'
import type { Cache } from './types.js'

let current: Cache | undefined

/**
 * The process-wide default cache, created on first use: a `RedisCache` when `REDIS_URL` or
 * `REDIS_HOST` is set, else a `MemoryCache`. One line on stderr says which.
 */
export function getCache(): Cache {
  if (current === undefined) {
    const env = process.env
    if (env.REDIS_URL || env.REDIS_HOST) {
      current = new RedisCache()
      log(`Redis at ${describeRedisTarget(env)}`)
    } else {
      current = new MemoryCache()
      log('in-memory (set REDIS_URL or REDIS_HOST to use Redis)')
    }
  }
  return current
}

/**
 * Replaces the process-wide default cache (or forgets it with `undefined`, so the next
 * `getCache()` creates a new one). Returns the previous one, which is not closed.
 */
export function setCache(cache: Cache | undefined): Cache | undefined {
  const previous = current
  current = cache
  return previous
}

/** Closes the process-wide default cache, if one was created, and forgets it. */
export async function closeCache(): Promise<void> {
  const previous = current
  current = undefined
  await previous?.close()
}

function log(which: string): void {
  process.stderr.write(`[@bookgen/cache] default cache: ${which}\n`)
}

function describeRedisTarget(env: NodeJS.ProcessEnv): string {
  if (env.REDIS_URL) {
    try {
      const url = new URL(env.REDIS_URL)
      if (url.password) url.password = '***'
      return `${url.toString()} (REDIS_URL)`
    } catch {
      return 'REDIS_URL (unparsable)'
    }
  }
  return `${env.REDIS_HOST}:${env.REDIS_PORT ?? 6379}/${env.REDIS_DB ?? 0} (REDIS_HOST)`
}
