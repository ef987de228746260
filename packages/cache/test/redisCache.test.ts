import { Redis } from 'ioredis'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../../tools/testing/servers.mjs'
import { RedisCache } from '../src/index.js'
import { REDIS_URL, rawClient, STEADY, testNamespace } from './helpers.js'

describe('RedisCache', () => {
  let raw: Redis
  const opened: RedisCache[] = []
  const open = (options: ConstructorParameters<typeof RedisCache>[0] = {}) => {
    const cache = new RedisCache({
      url: REDIS_URL,
      namespace: testNamespace('redis'),
      ...STEADY,
      ...options,
    })
    opened.push(cache)
    return cache
  }

  beforeEach(() => {
    raw = rawClient()
  })

  afterEach(async () => {
    for (const cache of opened.splice(0)) {
      await cache.clear()
      await cache.close()
    }
    raw.disconnect()
  })

  it('clear() leaves foreign keys in the same database alone', async () => {
    const cache = open()
    const foreign = `${testNamespace('foreign')}:keep`
    const lookalike = `${cache.namespace}x:keep`
    await raw.set(foreign, 'mine', 'EX', 60)
    await raw.set(lookalike, 'also mine', 'EX', 60)
    try {
      await cache.setMany(
        Object.fromEntries(Array.from({ length: 2500 }, (_, i) => [`k${i}`, i])),
        60,
      )
      expect(await cache.clear()).toBe(2500)
      expect(await raw.get(foreign)).toBe('mine')
      expect(await raw.get(lookalike)).toBe('also mine')
      expect(await raw.exists(`${cache.namespace}:k1`)).toBe(0)
    } finally {
      await raw.del(foreign, lookalike)
    }
  })

  it('keeps nested namespaces apart: x never reads or clears x:sessions', async () => {
    const base = testNamespace('nested')
    const outer = open({ namespace: base })
    const inner = open({ namespace: `${base}:sessions` })
    expect(await inner.set('s1', 'inner', 60)).toBe(true)
    expect(await outer.set('sessions:s1', 'outer', 60)).toBe(true)
    expect(await outer.get('sessions:s1')).toBe('outer')
    expect(await inner.get('s1')).toBe('inner')
    expect(await outer.clear()).toBe(1)
    expect(await inner.get('s1')).toBe('inner')
    expect(await raw.exists(`${base}\\:sessions:s1`)).toBe(1)
    expect(await inner.clear()).toBe(1)
  })

  it('writes under <namespace>:<key> with the TTL, JSON by default, behind a codec header', async () => {
    const cache = open()
    await cache.set('user:1', { name: 'Marie' }, 120)
    expect(await raw.get(`${cache.namespace}:user:1`)).toBe('\0json\0{"name":"Marie"}')
    const ttl = await raw.ttl(`${cache.namespace}:user:1`)
    expect(ttl).toBeGreaterThan(110)
    expect(ttl).toBeLessThanOrEqual(120)
    await cache.set('forever', 1, 0)
    expect(await raw.ttl(`${cache.namespace}:forever`)).toBe(-1)
    await cache.set('default', 1)
    expect(await raw.ttl(`${cache.namespace}:default`)).toBeGreaterThan(3500)
  })

  it('stores float32 vectors as raw little-endian bytes after the header', async () => {
    const cache = open({ codec: 'float32' })
    const vector = Float32Array.from({ length: 1536 }, (_, i) => i / 7)
    await cache.set('emb', vector, 60)
    const bytes = await raw.getBuffer(`${cache.namespace}:emb`)
    const header = Buffer.from('\0float32\0', 'latin1')
    expect(bytes?.subarray(0, header.length)).toEqual(header)
    expect(bytes?.byteLength).toBe(header.length + 1536 * 4)
    expect(bytes?.readFloatLE(header.length + 4 * 10)).toBeCloseTo(10 / 7, 5)
    expect(await cache.get('emb')).toEqual(vector)
    // An odd byte count is not a vector: a miss and a counted error, not a throw.
    await raw.set(
      `${cache.namespace}:broken`,
      Buffer.concat([header, Buffer.from([1, 2, 3])]),
      'EX',
      60,
    )
    expect(await cache.get('broken')).toBeUndefined()
    expect(cache.getHealth().errors).toBe(1)
  })

  it('decodes a value with the codec that wrote it, whatever the reader asks for', async () => {
    const namespace = testNamespace('codecs')
    const json = open({ namespace })
    const msgpack = open({ namespace, codec: 'msgpack' })
    const vectors = open({ namespace, codec: 'float32' })
    await json.set('five', 5, 60)
    await msgpack.set('packed', { at: new Date(0) }, 60)
    await vectors.set('vec', new Float32Array([1, 2]), 60)
    // A JSON 5 read by a msgpack reader is 5 (not the 53 of the byte '5').
    expect(await msgpack.get('five')).toBe(5)
    expect(await json.get('packed')).toEqual({ at: new Date(0) })
    expect(await json.get('vec')).toEqual(new Float32Array([1, 2]))
    expect(await vectors.getMany(['five', 'vec'])).toEqual(
      new Map<string, unknown>([
        ['five', 5],
        ['vec', new Float32Array([1, 2])],
      ]),
    )
    expect(json.getHealth().errors + msgpack.getHealth().errors).toBe(0)
  })

  it('answers a value without a header, or of an unknown codec, as a miss and a counted error', async () => {
    const cache = open()
    const custom = open({
      namespace: cache.namespace,
      codec: {
        name: 'upper',
        binary: false,
        encode: (v) => String(v).toUpperCase(),
        decode: (d) => d,
      },
    })
    await raw.set(`${cache.namespace}:foreign`, '{"a":1}', 'EX', 60)
    await custom.set('shout', 'hey', 60)
    expect(await custom.get('shout')).toBe('HEY')
    expect(await cache.get('foreign')).toBeUndefined()
    expect(await cache.get('shout')).toBeUndefined()
    expect(await cache.exists('foreign')).toBe(false)
    expect(await cache.exists('shout')).toBe(false)
    expect(await custom.exists('shout')).toBe(true)
    expect(cache.getHealth().errors).toBe(2)
    expect(cache.getHealth().lastError?.message).toContain('unknown codec "upper"')
    expect(cache.getStats()).toMatchObject({ hits: 0, misses: 2 })
  })

  it('getMany is one MGET and setMany one pipelined batch (seen with MONITOR)', async () => {
    const cache = open()
    const monitor = await raw.monitor() // a duplicate connection of raw
    const seen: string[][] = []
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((a) => a.startsWith(cache.namespace))) seen.push(args)
    })
    try {
      await cache.setMany({ a: 1, b: 2, c: 3 }, 60)
      const found = await cache.getMany(['a', 'b', 'c', 'd'])
      expect([...found.values()]).toEqual([1, 2, 3])
      // MONITOR shows commands in the order Redis ran them: once this echo shows, so have the above.
      const end = `${cache.namespace}:end`
      await raw.echo(end)
      await waitFor(() => seen.some((args) => args[1] === end), 10_000, 'monitor end marker')
      const names = seen.filter((args) => args[1] !== end).map((args) => args[0]!.toLowerCase())
      expect(names.filter((n) => n === 'mget')).toHaveLength(1)
      expect(seen.find((args) => args[0]!.toLowerCase() === 'mget')).toHaveLength(5)
      expect(names.filter((n) => n === 'get')).toHaveLength(0)
      expect(names.filter((n) => n === 'set')).toHaveLength(3)
    } finally {
      monitor.disconnect()
    }
  })

  it('a key of the wrong type is a counted error and a miss, not a reason to open the circuit', async () => {
    const cache = open()
    await raw.rpush(`${cache.namespace}:list`, 'not a string')
    await raw.expire(`${cache.namespace}:list`, 60)
    await cache.set('good', 1, 60)
    for (let i = 0; i < 8; i++) expect(await cache.get('list')).toBeUndefined()
    // MGET answers nil for a key of another type.
    expect(await cache.getMany(['list', 'good'])).toEqual(new Map([['good', 1]]))
    const health = cache.getHealth()
    expect(health.errors).toBe(8)
    expect(health.lastError?.message).toMatch(/^WRONGTYPE/)
    expect(health.circuit).toBe('closed')
    expect(await cache.get('good')).toBe(1)
  })

  it('uses a given ioredis client and leaves it open on close()', async () => {
    const client = new Redis(REDIS_URL)
    const cache = new RedisCache({ client, namespace: testNamespace('given') })
    await cache.set('x', 1, 60)
    expect(await cache.get('x')).toBe(1)
    await cache.clear()
    await cache.close()
    expect(await client.ping()).toBe('PONG')
    client.disconnect()
  })

  it('reads REDIS_HOST / REDIS_PORT / REDIS_DB / REDIS_PASSWORD, and REDIS_URL first', async () => {
    const saved = { ...process.env }
    try {
      delete process.env.REDIS_URL
      process.env.REDIS_HOST = '127.0.0.2'
      process.env.REDIS_PORT = '6390'
      process.env.REDIS_DB = '3'
      process.env.REDIS_PASSWORD = 's3cret'
      const fromHost = new RedisCache({ redisOptions: { lazyConnect: true } })
      expect(fromHost.client.options).toMatchObject({
        host: '127.0.0.2',
        port: 6390,
        db: 3,
        password: 's3cret',
      })
      await fromHost.close()
      process.env.REDIS_URL = 'redis://127.0.0.3:6391/4'
      const fromUrl = new RedisCache({ redisOptions: { lazyConnect: true } })
      expect(fromUrl.client.options).toMatchObject({ host: '127.0.0.3', port: 6391, db: 4 })
      await fromUrl.close()
    } finally {
      process.env = saved
    }
  })

  it('turns TLS on for rediss:// URLs', async () => {
    const cache = new RedisCache({
      url: 'rediss://user:pw@cache.example.invalid:6380/2',
      redisOptions: { lazyConnect: true },
    })
    expect(cache.client.options).toMatchObject({
      host: 'cache.example.invalid',
      port: 6380,
      db: 2,
      username: 'user',
      password: 'pw',
    })
    expect((cache.client.options as { tls?: unknown }).tls).toBeDefined()
    await cache.close()
  })

  it('close() called twice at once: both resolve only once the connection is closed', async () => {
    const cache = new RedisCache({ url: REDIS_URL, namespace: testNamespace('close') })
    expect(await cache.set('c', 1, 60)).toBe(true)
    await cache.delete('c')
    const first = cache.close()
    await cache.close()
    expect(cache.client.status).toBe('end')
    await first
    await expect(cache.get('c')).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('names the environment variable when REDIS_PORT is invalid', () => {
    const saved = { ...process.env }
    try {
      delete process.env.REDIS_URL
      process.env.REDIS_PORT = 'abc'
      expect(() => new RedisCache({ redisOptions: { lazyConnect: true } })).toThrow(
        expect.objectContaining({
          code: 'INVALID_OPTION',
          message: 'REDIS_PORT must be a positive integer, got NaN',
        }),
      )
    } finally {
      process.env = saved
    }
  })

  it('validates options in the constructor', () => {
    const bad: [ConstructorParameters<typeof RedisCache>[0], string][] = [
      [{ namespace: '' }, 'INVALID_OPTION'],
      [{ commandTimeout: 0 }, 'INVALID_OPTION'],
      [{ defaultTtl: -1 }, 'INVALID_TTL'],
      [{ codec: 'xml' as never }, 'INVALID_OPTION'],
      [{ client: {} as never }, 'INVALID_OPTION'],
      [{ circuitBreaker: { failureThreshold: 0 } }, 'INVALID_OPTION'],
      [{ circuitBreaker: { cooldownMs: Number.NaN } }, 'INVALID_OPTION'],
      [{ maxKeyLength: 0 }, 'INVALID_OPTION'],
      [{ connectTimeout: -5 }, 'INVALID_OPTION'],
    ]
    for (const [options, code] of bad) {
      expect(() => new RedisCache({ redisOptions: { lazyConnect: true }, ...options })).toThrow(
        expect.objectContaining({ code, name: 'CacheError' }),
      )
    }
    const messageOf = (options: ConstructorParameters<typeof RedisCache>[0]) => {
      try {
        new RedisCache({ redisOptions: { lazyConnect: true }, ...options })
        return 'no error'
      } catch (error) {
        return (error as Error).message
      }
    }
    expect(messageOf({ commandTimeout: 0 })).toBe(
      'options.commandTimeout must be a positive integer, got 0',
    )
    expect(messageOf({ client: 'redis://x' as never })).toBe(
      'options.client must be an ioredis Redis or Cluster instance, got "redis://x"',
    )
    expect(messageOf({ circuitBreaker: { failureThreshold: -2 } })).toBe(
      'options.circuitBreaker.failureThreshold must be a positive integer, got -2',
    )
    expect(messageOf({ namespace: '' })).toBe('options.namespace must be a non-empty string, got ')
  })
})
