// What the stores actually send to Redis, seen with MONITOR on a private redis-server (so no other
// client's commands can show up).
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type ThrowawayRedis, waitFor } from '../../../tools/testing/servers.mjs'
import { RedisCache, TieredCache } from '../src/index.js'
import { STEADY, sleep, testNamespace } from './helpers.js'

describe('commands sent to Redis', () => {
  let server: ThrowawayRedis
  let raw: Redis
  let monitor: Redis
  const seen: string[][] = []

  beforeAll(async () => {
    server = await startRedis()
    raw = new Redis(server.url)
    // raw's own ready check (INFO) must be over before MONITOR starts, or the monitor connection
    // sees it echoed while ioredis still waits for a reply ("Command queue state error").
    await raw.ping()
    // monitor() opens its own duplicate connection; the client it was called on is not needed.
    monitor = await raw.monitor()
    monitor.on('monitor', (_time: string, args: string[]) => {
      seen.push(args)
    })
  })

  afterAll(async () => {
    monitor.disconnect()
    raw.disconnect()
    await server.stop()
  })

  /** Runs `work` and returns the commands MONITOR saw meanwhile (lower-case names). */
  async function commandsOf(work: () => Promise<unknown>): Promise<string[][]> {
    const marker = `marker-${Math.random()}`
    await raw.echo(marker)
    await waitFor(() => seen.some((a) => a[1] === marker), 2000, 'monitor marker')
    seen.length = 0
    await work()
    const end = `end-${Math.random()}`
    await raw.echo(end)
    await waitFor(() => seen.some((a) => a[1] === end), 2000, 'monitor end marker')
    return seen.filter((a) => a[1] !== end).map(([name, ...rest]) => [name!.toLowerCase(), ...rest])
  }

  it('clear() sends only SCAN and UNLINK, never FLUSHDB/FLUSHALL/KEYS, and spares foreign keys', async () => {
    const cache = new RedisCache({
      url: server.url,
      namespace: testNamespace('monitor'),
      ...STEADY,
    })
    try {
      await raw.set('foreign:key', 'stays')
      await cache.setMany(
        Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`k${i}`, i])),
        60,
      )
      let removed = 0
      const commands = await commandsOf(async () => {
        removed = await cache.clear()
      })
      expect(removed).toBe(1500)
      const names = new Set(commands.map((c) => c[0]))
      expect([...names].sort()).toEqual(['scan', 'unlink'])
      for (const scan of commands.filter((c) => c[0] === 'scan')) {
        expect(scan).toContain(`${cache.namespace}:*`)
      }
      for (const unlink of commands.filter((c) => c[0] === 'unlink')) {
        for (const key of unlink.slice(1)) expect(key.startsWith(`${cache.namespace}:`)).toBe(true)
      }
      expect(await raw.get('foreign:key')).toBe('stays')
      expect(await raw.dbsize()).toBe(1)
    } finally {
      await raw.del('foreign:key')
      await cache.close()
    }
  })

  it('concurrent gets are one MGET; a lone get is one GET; what MGET cannot tell is read again', async () => {
    const cache = new RedisCache({
      url: server.url,
      namespace: testNamespace('monitor-get'),
      ...STEADY,
    })
    try {
      await cache.setMany({ a: 1, b: 2, c: 3 }, 60)
      const ns = cache.namespace
      await raw.rpush(`${ns}:list`, 'x')
      // A batch takes the gets of one tick for at most 1 ms: a stall of a millisecond between two
      // synchronous calls (a GC pause, a busy machine) may split one. So every tick below is
      // checked for what always holds (each key read once, by GET alone or MGET of several), and
      // the single MGET is asked of at least one of five ticks.
      const tick = async (keys: string[]) => {
        let values: unknown[] = []
        const commands = await commandsOf(async () => {
          values = await Promise.all(keys.map((k) => cache.get(k)))
        })
        for (const [name, ...sent] of commands) {
          expect(name).toBe(sent.length === 1 ? 'get' : 'mget')
        }
        return { values, commands }
      }
      const shapes: string[][][] = []
      for (let i = 0; i < 5; i++) {
        const { values, commands } = await tick(['a', 'b', 'c'])
        expect(values).toEqual([1, 2, 3])
        expect(commands.flatMap((c) => c.slice(1)).sort()).toEqual([
          `${ns}:a`,
          `${ns}:b`,
          `${ns}:c`,
        ])
        shapes.push(commands)
      }
      expect(shapes).toContainEqual([['mget', `${ns}:a`, `${ns}:b`, `${ns}:c`]])
      const alone = await commandsOf(() => cache.get('a'))
      expect(alone).toEqual([['get', `${ns}:a`]])
      // nil from MGET is a miss or a key of another type (GET tells: WRONGTYPE, a counted error):
      // each key MGET answered nil for is read again by GET; a key that went alone by GET is not.
      const { values, commands: mixed } = await tick(['a', 'none', 'list'])
      expect(values).toEqual([1, undefined, undefined])
      // A GET of a key that an earlier MGET of this tick held is a read again; the rest are first reads.
      const isReadAgain = (c: string[], i: number) =>
        c[0] === 'get' && mixed.slice(0, i).some((m) => m[0] === 'mget' && m.includes(c[1]!))
      const firstReads = mixed.filter((c, i) => !isReadAgain(c, i))
      expect(firstReads.flatMap((c) => c.slice(1)).sort()).toEqual([
        `${ns}:a`,
        `${ns}:list`,
        `${ns}:none`,
      ])
      const nilInMget = mixed
        .filter((c) => c[0] === 'mget')
        .flatMap((c) => c.slice(1))
        .filter((k) => k !== `${ns}:a`)
      expect(mixed.filter(isReadAgain)).toEqual(nilInMget.map((k) => ['get', k]))
      expect(cache.getHealth().errors).toBe(1)
      expect(cache.getStats()).toMatchObject({ hits: 17, misses: 2 })
    } finally {
      await raw.del(`${cache.namespace}:list`)
      await cache.clear()
      await cache.close()
    }
  })

  it('sends the gets of a big tick as MGETs of at most 1,000 keys', async () => {
    const cache = new RedisCache({
      url: server.url,
      namespace: testNamespace('monitor-big'),
      ...STEADY,
    })
    const n = 2500
    try {
      await cache.setMany(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])), 60)
      let values: unknown[] = []
      const commands = await commandsOf(async () => {
        values = await Promise.all(Array.from({ length: n }, (_, i) => cache.get(`k${i}`)))
      })
      expect(values).toEqual(Array.from({ length: n }, (_, i) => i))
      // A batch also ends after 1 ms: on a slow machine there may be more, smaller ones (a batch
      // of one key goes as GET).
      expect(commands.length).toBeGreaterThanOrEqual(3)
      for (const [name, ...keys] of commands) {
        expect(name).toBe(keys.length === 1 ? 'get' : 'mget')
        expect(keys.length).toBeLessThanOrEqual(1000)
      }
      // Every key is asked for exactly once (the order of the commands on the wire is not a
      // contract: under heavy load a batch of one was seen to arrive after the MGETs).
      const sent = commands.flatMap((c) => c.slice(1))
      expect(sent).toHaveLength(n)
      expect(new Set(sent)).toEqual(
        new Set(Array.from({ length: n }, (_, i) => `${cache.namespace}:k${i}`)),
      )
    } finally {
      await cache.clear()
      await cache.close()
    }
  })

  it('TieredCache.getMany asks Redis only for what memory lacks, in one MGET (and PTTLs)', async () => {
    const tiered = new TieredCache({
      remote: new RedisCache({
        url: server.url,
        namespace: testNamespace('monitor-tiered'),
        ...STEADY,
      }),
    })
    try {
      await waitFor(() => tiered.coherent, 10_000, 'coherent')
      await tiered.setMany({ warm1: 1, warm2: 2 }, 60)
      await tiered.remote.setMany({ cold1: 'c' }, 60) // in Redis only
      let found = new Map<string, unknown>()
      const commands = await commandsOf(async () => {
        found = await tiered.getMany(['warm1', 'cold1', 'warm2', 'none'])
      })
      expect(found).toEqual(
        new Map<string, unknown>([
          ['warm1', 1],
          ['cold1', 'c'],
          ['warm2', 2],
        ]),
      )
      const ns = tiered.namespace
      // The PTTLs bound the memory copies by what is left of the Redis TTL.
      expect(commands).toEqual([
        ['mget', `${ns}:cold1`, `${ns}:none`],
        ['pttl', `${ns}:cold1`],
        ['pttl', `${ns}:none`],
      ])
    } finally {
      await tiered.clear()
      await tiered.close()
    }
  })

  it('bounds a given client without commandTimeout by options.commandTimeout when Redis hangs', async () => {
    const client = new Redis(server.url) // ioredis defaults: no command timeout, 20 retries
    const cache = new RedisCache({ client, namespace: testNamespace('given'), commandTimeout: 200 })
    try {
      expect(await cache.set('g', 1, 60)).toBe(true)
      server.pause()
      try {
        const start = performance.now()
        // a 1 s timer started with the calls: the cache's own 200 ms timeouts fire before it,
        // however late a loaded machine runs both (no wall-clock ceiling)
        let ceilingPassed = false
        const ceiling = setTimeout(() => {
          ceilingPassed = true
        }, 1000)
        const [read, write, many] = await Promise.all([
          cache.get('g'),
          cache.set('h', 2, 60),
          cache.getMany(['g', 'h']),
        ])
        clearTimeout(ceiling)
        const ms = performance.now() - start
        expect([read, write, many]).toEqual([undefined, false, new Map()])
        expect(ms).toBeGreaterThanOrEqual(150)
        expect(ceilingPassed).toBe(false)
        expect(cache.getHealth().errors).toBeGreaterThanOrEqual(3)
      } finally {
        server.resume()
      }
      // The server answers the queued commands once resumed; the cache keeps working.
      await sleep(50)
      await waitFor(async () => (await cache.get('g')) === 1, 5000, 'given client after resume')
    } finally {
      await cache.clear()
      await cache.close()
      client.disconnect()
    }
  })
})
