import diagnosticsChannel from 'node:diagnostics_channel'
import fc from 'fast-check'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeTagged, tagFloat32, tagValue } from '../src/codecs.js'
import {
  CACHE_CHANNEL,
  type CacheEvent,
  type Codec,
  float32Codec,
  jsonCodec,
  msgpackCodec,
  RedisCache,
} from '../src/index.js'
import { REDIS_URL, rawClient, STEADY, testNamespace } from './helpers.js'

const upperCodec: Codec = {
  name: 'upper',
  binary: false,
  encode: (v) => String(v).toUpperCase(),
  decode: (d) => `decoded:${String(d)}`,
}

/** What a key holds in Redis: nothing, a list (another type), or stored bytes. */
type Held = { kind: 'none' } | { kind: 'list' } | { kind: 'bytes'; bytes: Buffer }

const held: fc.Arbitrary<Held> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'none' } as const) },
  { weight: 1, arbitrary: fc.constant({ kind: 'list' } as const) },
  {
    weight: 8,
    arbitrary: fc
      .oneof(
        fc.jsonValue().map((v) => Buffer.from(tagValue(jsonCodec, jsonCodec.encode(v)) as string)),
        fc
          .jsonValue()
          .filter((v) => !JSON.stringify(v).includes('"__proto__"'))
          .map((v) => tagValue(msgpackCodec, msgpackCodec.encode(v)) as Buffer),
        fc.float32Array({ maxLength: 8 }).map((v) => tagFloat32(v)),
        fc.string().map((s) => Buffer.from(tagValue(upperCodec, upperCodec.encode(s)) as string)),
        fc.string({ unit: 'binary' }).map((s) => Buffer.from(s)),
        fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)),
        fc
          .tuple(fc.constantFrom('json', 'msgpack', 'float32', 'upper', 'jsön'), fc.string())
          .map(([name, rest]) => Buffer.from(`\0${name}\0${rest}`)),
      )
      .map((bytes) => ({ kind: 'bytes', bytes }) as const),
  },
)

const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'

type Read = { value: unknown; error: string | undefined; hit: boolean }

/** What one plain GET of the key gives: the decoded bytes, a miss, or the counted error. */
function expected(h: Held, reader: Codec, many: boolean): Read {
  if (h.kind === 'none') return { value: undefined, error: undefined, hit: false }
  // GET answers WRONGTYPE (a counted error); MGET (getMany) answers nil.
  if (h.kind === 'list') {
    return { value: undefined, error: many ? undefined : WRONGTYPE, hit: false }
  }
  try {
    return { value: decodeTagged(h.bytes, reader), error: undefined, hit: true }
  } catch (error) {
    return { value: undefined, error: (error as Error).message, hit: false }
  }
}

describe('RedisCache coalesced reads', () => {
  let raw: Redis
  const namespace = testNamespace('batched')
  const codecs: Codec[] = [jsonCodec, msgpackCodec, float32Codec as Codec, upperCodec]
  const readers: RedisCache[] = []
  /** The errors published meanwhile, by key (the message). */
  let errors: Map<string, string> | undefined
  const onEvent = (m: unknown) => {
    const event = m as CacheEvent
    if (event.op === 'error' && event.namespace === namespace) {
      errors?.set(event.key, event.error?.message ?? '')
    }
  }

  beforeAll(() => {
    raw = rawClient()
    for (const codec of codecs) {
      readers.push(new RedisCache({ url: REDIS_URL, namespace, codec, ...STEADY }))
    }
    diagnosticsChannel.subscribe(CACHE_CHANNEL, onEvent)
  })

  afterAll(async () => {
    diagnosticsChannel.unsubscribe(CACHE_CHANNEL, onEvent)
    await readers[0]!.clear()
    for (const cache of readers) await cache.close()
    raw.disconnect()
  })

  /** Reads every key once through `reader` with `read`, one reader at a time, errors collected. */
  async function readAll(
    reader: RedisCache,
    keys: string[],
    read: (keys: string[]) => Promise<unknown[]>,
  ): Promise<{ values: unknown[]; errors: Map<string, string>; stats: object }> {
    const seen = new Map<string, string>()
    errors = seen
    reader.resetStats()
    const values = await read(keys)
    errors = undefined
    return { values, errors: seen, stats: reader.getStats() }
  }

  it('every get of a tick gives what its own GET would (values, misses, errors, codec tags)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(held, { minLength: 1, maxLength: 12 }), async (contents) => {
        const keys = contents.map((_, i) => `k${i}`)
        const full = (k: string) => `${readers[0]!.keyPrefix}${k}`
        const pipeline = raw.pipeline()
        contents.forEach((h, i) => {
          pipeline.del(full(keys[i]!))
          if (h.kind === 'list') pipeline.rpush(full(keys[i]!), 'x')
          if (h.kind === 'bytes') pipeline.set(full(keys[i]!), h.bytes)
          pipeline.expire(full(keys[i]!), 60)
        })
        await pipeline.exec()
        for (const [n, reader] of readers.entries()) {
          const want = contents.map((h) => expected(h, codecs[n]!, false))
          const wantMany = contents.map((h) => expected(h, codecs[n]!, true))
          const wantErrors = (list: Read[]) =>
            new Map(
              list.flatMap((r, i) => (r.error === undefined ? [] : [[keys[i]!, r.error] as const])),
            )
          const hits = (list: Read[]) => list.filter((r) => r.hit).length
          // Concurrent: one MGET, then GETs for what it cannot answer exactly.
          const together = await readAll(reader, keys, (ks) =>
            Promise.all(ks.map((k) => reader.get(k))),
          )
          // One by one: a lone GET each.
          const alone = await readAll(reader, keys, async (ks) => {
            const out: unknown[] = []
            for (const k of ks) out.push(await reader.get(k))
            return out
          })
          const many = await readAll(reader, keys, async (ks) => {
            const found = await reader.getMany(ks)
            return ks.map((k) => found.get(k))
          })
          for (const run of [together, alone]) {
            expect(run.values).toEqual(want.map((r) => r.value))
            expect(run.errors).toEqual(wantErrors(want))
            expect(run.stats).toMatchObject({ hits: hits(want), misses: keys.length - hits(want) })
          }
          expect(many.values).toEqual(wantMany.map((r) => r.value))
          expect(many.errors).toEqual(wantErrors(wantMany))
          expect(many.stats).toMatchObject({ hits: hits(wantMany) })
        }
      }),
      { numRuns: 40 },
    )
  })

  it('a text reader reads another codec’s value among the others of its tick (as bytes, again)', async () => {
    const [json, msgpack] = readers as [RedisCache, RedisCache]
    await msgpack.set('packed', { at: new Date(0) }, 60)
    await json.set('plain', { a: 1 }, 60)
    json.resetStats()
    const values = await Promise.all([json.get('plain'), json.get('packed'), json.get('none')])
    expect(values).toEqual([{ a: 1 }, { at: new Date(0) }, undefined])
    expect(json.getHealth().errors).toBe(0)
  })
})
