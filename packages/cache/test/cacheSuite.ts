// One behavioural suite that every store passes, against the real Redis where the store uses it.
import diagnosticsChannel from 'node:diagnostics_channel'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  CACHE_CHANNEL,
  type Cache,
  CacheError,
  type CacheEvent,
  type Codec,
  cacheChannel,
} from '../src/index.js'
import { sleep } from './helpers.js'

/** A custom codec that fails the way a user's codec may: with a plain Error. */
const throwingCodec: Codec = {
  name: 'throwing',
  binary: false,
  encode() {
    throw new Error('cannot encode this')
  },
  decode: (data) => data,
}

export interface SuiteContext {
  cache: Cache
}

/** Registers the shared behavioural tests for a store built by `factory`. */
export function describeCacheSuite(name: string, factory: () => Cache | Promise<Cache>): void {
  describe(`${name}: shared cache behaviour`, () => {
    let cache: Cache

    beforeEach(async () => {
      cache = await factory()
    })

    afterEach(async () => {
      await cache.clear()
      await cache.close()
    })

    it('returns undefined on a miss and counts it', async () => {
      expect(await cache.get('missing')).toBeUndefined()
      expect(cache.getStats()).toEqual({ hits: 0, misses: 1, totalRequests: 1, hitRatio: 0 })
    })

    it('stores and returns values, overwriting on a second set', async () => {
      expect(await cache.set('k', { valid: true, score: 0.85 }, 60)).toBe(true)
      expect(await cache.get('k')).toEqual({ valid: true, score: 0.85 })
      await cache.set('k', [1, 'two'], 60)
      expect(await cache.get('k')).toEqual([1, 'two'])
    })

    it('keeps null, 0, empty string and false as values', async () => {
      const values = { n: null, zero: 0, empty: '', no: false }
      for (const [k, v] of Object.entries(values)) expect(await cache.set(k, v, 60)).toBe(true)
      for (const [k, v] of Object.entries(values)) {
        expect(await cache.get(k)).toBe(v)
        expect(await cache.exists(k)).toBe(true)
      }
      expect(cache.getStats().hits).toBe(4)
      expect(cache.getStats().misses).toBe(0)
    })

    it('round-trips every JSON value (property-based)', async () => {
      let i = 0
      await fc.assert(
        fc.asyncProperty(fc.jsonValue(), async (value) => {
          const key = `prop:${i++}`
          expect(await cache.set(key, value, 60)).toBe(true)
          const back = await cache.get(key)
          // -0 is the one JSON value that comes back different (as 0); compare as JSON text.
          expect(JSON.stringify(back)).toBe(JSON.stringify(value))
          expect(back).not.toBeUndefined()
        }),
        { numRuns: 150 },
      )
    })

    it('expires values after their TTL', async () => {
      await cache.set('short', 'v', 1)
      await cache.set('long', 'v', 60)
      expect(await cache.get('short')).toBe('v')
      await sleep(1150)
      expect(await cache.get('short')).toBeUndefined()
      expect(await cache.exists('short')).toBe(false)
      expect(await cache.get('long')).toBe('v')
    })

    it('keeps a TTL of 0 without expiry', async () => {
      expect(await cache.set('forever', 1, 0)).toBe(true)
      expect(await cache.get('forever')).toBe(1)
    })

    it('deletes keys and reports whether they existed', async () => {
      await cache.set('d', 1, 60)
      expect(await cache.exists('d')).toBe(true)
      expect(await cache.delete('d')).toBe(true)
      expect(await cache.exists('d')).toBe(false)
      expect(await cache.get('d')).toBeUndefined()
      expect(await cache.delete('d')).toBe(false)
    })

    it('getMany returns a Map of the keys that exist; setMany writes them all', async () => {
      expect(await cache.setMany({ a: 1, b: null, c: 'x' }, 60)).toBe(true)
      const found = await cache.getMany(['a', 'b', 'nope', 'c'])
      expect(found).toEqual(
        new Map<string, unknown>([
          ['a', 1],
          ['b', null],
          ['c', 'x'],
        ]),
      )
      expect(cache.getStats()).toMatchObject({ hits: 3, misses: 1, totalRequests: 4 })
      expect(await cache.getMany([])).toEqual(new Map())
      expect(await cache.setMany(new Map([['m', { deep: [1] }]]), 60)).toBe(true)
      expect(await cache.get('m')).toEqual({ deep: [1] })
    })

    it('setMany applies its TTL to every entry', async () => {
      await cache.setMany({ t1: 1, t2: 2 }, 1)
      await sleep(1150)
      expect(await cache.getMany(['t1', 't2'])).toEqual(new Map())
    })

    it('clear() removes its own keys and says how many', async () => {
      await cache.setMany({ x: 1, y: 2, z: 3 }, 60)
      expect(await cache.clear()).toBe(3)
      expect(await cache.getMany(['x', 'y', 'z'])).toEqual(new Map())
      expect(await cache.clear()).toBe(0)
    })

    it('computes hitRatio and resets the counters', async () => {
      await cache.set('h', 1, 60)
      await cache.get('h')
      await cache.get('h')
      await cache.get('h')
      await cache.get('m')
      expect(cache.getStats()).toEqual({ hits: 3, misses: 1, totalRequests: 4, hitRatio: 0.75 })
      cache.resetStats()
      expect(cache.getStats()).toEqual({ hits: 0, misses: 0, totalRequests: 0, hitRatio: 0 })
    })

    it('round-trips msgpack and float32 values selected per call', async () => {
      const when = new Date('2024-01-02T03:04:05.000Z')
      await cache.set('mp', { when, list: [1, 2] }, 60, { codec: 'msgpack' })
      expect(await cache.get('mp', { codec: 'msgpack' })).toEqual({ when, list: [1, 2] })
      const vector = Float32Array.from({ length: 1536 }, (_, i) => Math.sin(i))
      await cache.set('vec', vector, 60, { codec: 'float32' })
      const back = await cache.get<Float32Array>('vec', { codec: 'float32' })
      expect(back).toBeInstanceOf(Float32Array)
      expect(back).toEqual(vector)
      const many = await cache.getMany<Float32Array>(['vec', 'none'], { codec: 'float32' })
      expect([...many.keys()]).toEqual(['vec'])
      expect(many.get('vec')).toEqual(vector)
    })

    it('rejects bad input with a CacheError code and writes nothing', async () => {
      const circular: Record<string, unknown> = {}
      circular.self = circular
      const cases: [() => Promise<unknown>, string][] = [
        [() => cache.set('', 1, 60), 'INVALID_KEY'],
        [() => cache.get(''), 'INVALID_KEY'],
        [() => cache.set('k'.repeat(2000), 1, 60), 'KEY_TOO_LONG'],
        [() => cache.get('é'.repeat(600)), 'KEY_TOO_LONG'],
        [() => cache.set('bad', 1, -1), 'INVALID_TTL'],
        [() => cache.set('bad', 1, Number.NaN), 'INVALID_TTL'],
        [() => cache.set('bad', 1, 1.5), 'INVALID_TTL'],
        [() => cache.set('bad', 1, 1e16), 'INVALID_TTL'],
        [() => cache.set('bad', 1, Number.POSITIVE_INFINITY), 'INVALID_TTL'],
        [() => cache.set('bad', 10n), 'UNENCODABLE_VALUE'],
        [() => cache.set('bad', { n: 10n }), 'UNENCODABLE_VALUE'],
        [() => cache.set('bad', circular), 'UNENCODABLE_VALUE'],
        [() => cache.set('bad', () => 1), 'UNENCODABLE_VALUE'],
        [() => cache.set('bad', { f: () => 1 }), 'UNENCODABLE_VALUE'],
        [() => cache.set('bad', undefined), 'UNENCODABLE_VALUE'],
        [() => cache.set('bad', Number.NaN), 'UNENCODABLE_VALUE'],
        [() => cache.set('bad', { f: () => 1 }, 60, { codec: 'msgpack' }), 'UNENCODABLE_VALUE'],
        [() => cache.set('bad', circular, 60, { codec: 'msgpack' }), 'UNENCODABLE_VALUE'],
        [() => cache.set('bad', [1, 2], 60, { codec: 'float32' }), 'UNENCODABLE_VALUE'],
        [
          () => cache.set('bad', new Float64Array(2), 60, { codec: 'float32' }),
          'UNENCODABLE_VALUE',
        ],
        [() => cache.setMany({ good: 1, bad: 10n }, 60), 'UNENCODABLE_VALUE'],
        [() => cache.setMany({ good: 1, '': 2 }, 60), 'INVALID_KEY'],
        [() => cache.setMany({ good: 1 }, -5), 'INVALID_TTL'],
        [() => cache.getMany(['ok', '']), 'INVALID_KEY'],
        [() => cache.get('k', { codec: 'yaml' as never }), 'INVALID_OPTION'],
        [() => cache.setMany(null as never, 60), 'INVALID_ARGUMENT'],
        [() => cache.setMany([['bad', 1]] as never, 60), 'INVALID_ARGUMENT'],
        [() => cache.getMany('bad' as never), 'INVALID_ARGUMENT'],
        [() => cache.set('bad', 1, 60, { codec: throwingCodec }), 'UNENCODABLE_VALUE'],
        [
          () => cache.setMany({ good: 1, bad: 2 }, 60, { codec: throwingCodec }),
          'UNENCODABLE_VALUE',
        ],
      ]
      for (const [run, code] of cases) {
        const error = await run().then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(error, code).toBeInstanceOf(CacheError)
        expect((error as CacheError).code).toBe(code)
        expect((error as CacheError).name).toBe('CacheError')
      }
      expect(await cache.exists('bad')).toBe(false)
      expect(await cache.exists('good')).toBe(false)
    })

    it('a rejected write leaves the previous value in place', async () => {
      await cache.set('keep', 'old', 60)
      await expect(cache.set('keep', 10n, 60)).rejects.toMatchObject({ code: 'UNENCODABLE_VALUE' })
      await expect(
        cache.setMany({ keep: 'new', other: 1, bad: () => 1 }, 60),
      ).rejects.toMatchObject({ code: 'UNENCODABLE_VALUE' })
      await expect(cache.setMany({ keep: 'new' }, -1)).rejects.toMatchObject({
        code: 'INVALID_TTL',
      })
      expect(await cache.get('keep')).toBe('old')
      expect(await cache.exists('other')).toBe(false)
    })

    it('names the argument and the value in error messages', async () => {
      const messageOf = (run: () => Promise<unknown>) =>
        run().then(
          () => 'no error',
          (e: Error) => e.message,
        )
      expect(await messageOf(() => cache.set('', 1, 60))).toBe(
        'key must be a non-empty string, got ""',
      )
      expect(await messageOf(() => cache.set('k', 1, -3))).toBe(
        'ttlSeconds must be a non-negative integer number of seconds, got -3',
      )
      expect(await messageOf(() => cache.set('k', 10n, 60))).toContain('got 10n')
      expect(await messageOf(() => cache.setMany({ ok: 1, bad: 10n }, 60))).toMatch(
        /^entries\["bad"\]: .*got 10n/,
      )
      expect(await messageOf(() => cache.getMany('bad' as never))).toBe(
        'keys must be an array of strings, got "bad"',
      )
      expect(await messageOf(() => cache.setMany(null as never))).toBe(
        'entries must be a record or a Map, got null',
      )
    })

    it('publishes hit, miss, set and delete events shaped { op, key, namespace, durationMs }', async () => {
      const events: CacheEvent[] = []
      const listener = (message: unknown) => {
        events.push(message as CacheEvent)
      }
      diagnosticsChannel.subscribe(CACHE_CHANNEL, listener)
      try {
        await cache.set('ev', 1, 60)
        await cache.get('ev')
        await cache.get('ev-missing')
        await cache.setMany({ m1: 1 }, 60)
        await cache.getMany(['m1', 'm-missing'])
        await cache.delete('ev')
        await cache.delete('never-there')
      } finally {
        diagnosticsChannel.unsubscribe(CACHE_CHANNEL, listener)
      }
      const mine = events.filter((e) => e.namespace === cache.namespace)
      expect(mine.map((e) => [e.op, e.key])).toEqual([
        ['set', 'ev'],
        ['hit', 'ev'],
        ['miss', 'ev-missing'],
        ['set', 'm1'],
        ['hit', 'm1'],
        ['miss', 'm-missing'],
        ['delete', 'ev'],
        ['delete', 'never-there'],
      ])
      for (const e of mine) {
        expect(Object.keys(e).sort()).toEqual(['durationMs', 'key', 'namespace', 'op'])
        expect(e.durationMs).toBeGreaterThanOrEqual(0)
      }
    })

    it('publishes nothing while the channel has no subscribers', async () => {
      expect(cacheChannel.hasSubscribers).toBe(false)
      const publish = vi.spyOn(cacheChannel, 'publish')
      try {
        await cache.set('quiet', 1, 60)
        await cache.get('quiet')
        await cache.get('quiet-missing')
        await cache.setMany({ q1: 1 }, 60)
        await cache.getMany(['q1', 'q2'])
        await cache.delete('quiet')
        expect(publish).not.toHaveBeenCalled()
      } finally {
        publish.mockRestore()
      }
      expect(cache.getStats()).toMatchObject({ hits: 2, misses: 2 })
    })

    it('throws CLOSED after close(), and close() is idempotent', async () => {
      const other = await factory()
      await other.set('c', 1, 60)
      await other.clear()
      await other[Symbol.asyncDispose]()
      await other.close()
      await expect(other.get('c')).rejects.toMatchObject({ code: 'CLOSED' })
    })
  })
}
