import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'

/** The shared Redis of the test machine. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A namespace no other suite (or run) uses. */
export function testNamespace(what = 'cache'): string {
  return `bookgen-test-${what}-${randomBytes(4).toString('hex')}`
}

/** A raw ioredis client on the shared Redis, for looking behind the cache's back. */
export function rawClient(url = REDIS_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 })
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Options for stores in tests that are not about the call bound: on a loaded machine a round trip
 * can take longer than the 250 ms default, which (by design) turns a write into a soft `false`
 * and a read into a miss. The fault tests keep the default bound.
 */
export const STEADY = { commandTimeout: 10_000 } as const
