// Standard (TypeScript 5) decorators: this file is compiled by esbuild (see vitest.config.ts).
import { afterAll, describe, expect, it } from 'vitest'
import { Cached, RedisCache } from '../src/index.js'
import { REDIS_URL, STEADY, sleep, testNamespace } from './helpers.js'

const cache = new RedisCache({
  url: REDIS_URL,
  namespace: testNamespace('decorator'),
  ...STEADY,
})

class SourceValidator {
  calls = 0

  @Cached({ ttl: 60, cache })
  async validate(url: string): Promise<{ valid: boolean; score: number }> {
    this.calls++
    await sleep(20)
    return { valid: url.startsWith('https://'), score: 0.85 }
  }

  @Cached({ ttl: 60, cache, keyPrefix: 'lookup' })
  async lookup(_id: number): Promise<null> {
    this.calls++
    return null
  }
}

describe('@Cached()', () => {
  afterAll(async () => {
    await cache.clear()
    await cache.close()
  })

  it('caches method results under ClassName.method keys and shares concurrent calls', async () => {
    const v = new SourceValidator()
    const results = await Promise.all(
      Array.from({ length: 100 }, () => v.validate('https://a.org')),
    )
    expect(v.calls).toBe(1)
    expect(results[99]).toEqual({ valid: true, score: 0.85 })
    expect(await cache.get('bookgen:SourceValidator.validate:https://a.org')).toEqual({
      valid: true,
      score: 0.85,
    })
    expect(await v.lookup(1)).toBeNull()
    expect(await v.lookup(1)).toBeNull()
    expect(v.calls).toBe(2)
    expect(await cache.exists('bookgen:lookup:1')).toBe(true)
  })
})
