import type { ConnectionOptions } from 'bullmq'
import { describe } from '../defineWorkerTask.js'
import { ParallelError } from '../parallelError.js'

/** A Redis URL (`redis://` / `rediss://`), ioredis options, or an ioredis `Redis` / `Cluster`. */
export type RedisConnection = string | ConnectionOptions

/** What BullMQ accepts for `connection`: a URL becomes ioredis options. */
export function connectionOptions(path: string, value: unknown): ConnectionOptions {
  if (typeof value === 'string') return redisUrlOptions(path, value)
  if (value === null || typeof value !== 'object') {
    throw new ParallelError(
      'INVALID_OPTION',
      `${path} must be a redis:// URL, ioredis options or an ioredis instance, got ${describe(value)}`,
    )
  }
  return value as ConnectionOptions
}

function redisUrlOptions(path: string, url: string): ConnectionOptions {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    u = new URL('invalid:')
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new ParallelError(
      'INVALID_OPTION',
      `${path} must be a redis:// or rediss:// URL, got ${describe(url)}`,
    )
  }
  const options: Record<string, unknown> = {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
  }
  if (u.username) options.username = decodeURIComponent(u.username)
  if (u.password) options.password = decodeURIComponent(u.password)
  const db = u.pathname.replace(/^\//, '')
  if (db !== '') options.db = Number(db)
  if (u.protocol === 'rediss:') options.tls = {}
  return options as ConnectionOptions
}
