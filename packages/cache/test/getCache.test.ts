import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { REDIS_URL } from './helpers.js'

const run = promisify(execFile)
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')

// A fresh process each time: getCache() is process-wide and reads the environment once.
async function inChild(env: Record<string, string | undefined>) {
  const script = `
    import { getCache, closeCache, MemoryCache, RedisCache } from '@bookgen/cache'
    const cache = getCache()
    const same = getCache() === cache
    await cache.set('bookgen-test-getcache', 1, 5)
    const value = await cache.get('bookgen-test-getcache')
    await cache.delete('bookgen-test-getcache')
    console.log(JSON.stringify({ kind: cache.constructor.name, same, value }))
    await closeCache()
  `
  const clean = { ...process.env }
  delete clean.REDIS_URL
  delete clean.REDIS_HOST
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: packageDir,
    env: clean,
  })
  return { result: JSON.parse(stdout), stderr }
}

describe('getCache()', () => {
  it('is an in-memory cache without REDIS_URL / REDIS_HOST, and says so once', async () => {
    const { result, stderr } = await inChild({})
    expect(result).toEqual({ kind: 'MemoryCache', same: true, value: 1 })
    expect(stderr.trim().split('\n')).toEqual([
      '[@bookgen/cache] default cache: in-memory (set REDIS_URL or REDIS_HOST to use Redis)',
    ])
  })

  it('is a RedisCache with REDIS_URL, logging the URL without its password', async () => {
    const url = new URL(REDIS_URL)
    const { result, stderr } = await inChild({ REDIS_URL })
    expect(result).toEqual({ kind: 'RedisCache', same: true, value: 1 })
    expect(stderr).toContain(`default cache: Redis at redis://${url.host}`)
    expect(stderr.trim().split('\n')).toHaveLength(1)
  })

  it('is a RedisCache with REDIS_HOST / REDIS_PORT', async () => {
    const url = new URL(REDIS_URL)
    const { result, stderr } = await inChild({
      REDIS_HOST: url.hostname,
      REDIS_PORT: url.port || '6379',
    })
    expect(result.kind).toBe('RedisCache')
    expect(result.value).toBe(1)
    expect(stderr).toContain(`Redis at ${url.hostname}:${url.port || 6379}/0 (REDIS_HOST)`)
  })
})
