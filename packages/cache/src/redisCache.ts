import { performance } from 'node:perf_hooks'
import { Cluster, Redis, type RedisOptions, ReplyError } from 'ioredis'
import { BatchedReads, type BatchReply, type ReadBatch } from './batchedReads.js'
import {
  cacheChannel,
  eventStart,
  kMuteEvents,
  publishCacheEvent,
  publishTimedEvent,
} from './cacheChannel.js'
import { CacheError, CacheErrorCode, closedError } from './cacheError.js'
import { namespacePrefix } from './cacheKey.js'
import { StatsCounter } from './cacheStats.js'
import { CircuitBreaker, type CircuitBreakerOptions } from './circuitBreaker.js'
import { clusterSlot } from './clusterSlot.js'
import {
  codecFor,
  decodeTagged,
  decodeTaggedText,
  float32Codec,
  NEEDS_BYTES,
  resolveCodec,
  tagFloat32,
  tagValue,
} from './codecs.js'
import { Deadlines } from './deadlines.js'
import { openRedisClient, type RedisClient, RedisConnection } from './redisConnection.js'
import { kReadTimed, kReportError, kSetMs, readValue, type TimedValue } from './storeProtocol.js'
import type {
  Cache,
  CacheHealth,
  CacheStats,
  Codec,
  CodecOption,
  GetOptions,
  SetOptions,
} from './types.js'
import {
  assertKey,
  assertKeys,
  assertNamespace,
  assertPositiveInteger,
  assertTtl,
  describe,
  encodeEntries,
  encodeValue,
  stripUndefined,
} from './validate.js'

/** Options of `RedisCache`. Connection settings default to the environment. */
export interface RedisCacheOptions {
  /**
   * An existing ioredis `Redis` or `Cluster` to use instead of opening a connection. It is not
   * closed by `close()` unless `closeClient` is true.
   * @default undefined (a connection is opened from `url`/`host`… or the environment)
   */
  client?: Redis | Cluster
  /**
   * Connection URL (`redis://` or `rediss://` for TLS, optional `/db`).
   * @default process.env.REDIS_URL
   */
  url?: string
  /**
   * Host, used when no URL is given.
   * @default process.env.REDIS_HOST ?? '127.0.0.1'
   */
  host?: string
  /**
   * Port, used when no URL is given.
   * @default Number(process.env.REDIS_PORT ?? 6379)
   */
  port?: number
  /**
   * Database number, used when no URL is given.
   * @default Number(process.env.REDIS_DB ?? 0)
   */
  db?: number
  /**
   * Password, used when no URL is given.
   * @default process.env.REDIS_PASSWORD
   */
  password?: string
  /**
   * Prefix of every key this cache writes (`<namespace>:<key>`); `clear()` removes only these.
   * @default 'bookgen-cache'
   */
  namespace?: string
  /**
   * TTL in seconds used when `set` gets none; `0` means no expiry.
   * @default 3600
   */
  defaultTtl?: number
  /**
   * Codec of values: `'json'`, `'msgpack'`, `'float32'` or a `Codec`.
   * @default 'json'
   */
  codec?: CodecOption
  /**
   * Longest accepted key, in UTF-8 bytes (without the namespace).
   * @default 1024
   */
  maxKeyLength?: number
  /**
   * Bound of every call in milliseconds: a slower call is answered as a miss / `false`. It holds
   * whatever the client's own options (a given `client`'s `commandTimeout`, auto-pipelining).
   * @default 250
   */
  commandTimeout?: number
  /**
   * Connection timeout in milliseconds (own connections only).
   * @default 1000
   */
  connectTimeout?: number
  /**
   * Longest wait between reconnection attempts in milliseconds (own connections only).
   * @default 1000
   */
  maxReconnectDelay?: number
  /**
   * Batch concurrent commands into one write (ioredis `enableAutoPipelining`; own connections).
   * @default true
   */
  enableAutoPipelining?: boolean
  /**
   * Circuit breaker settings, or `false` to disable it.
   * @default { failureThreshold: 5, cooldownMs: 500, maxCooldownMs: 5000 }
   */
  circuitBreaker?: CircuitBreakerOptions | false
  /**
   * Close the client in `close()`.
   * @default true for own connections, false for a given `client`
   */
  closeClient?: boolean
  /**
   * More ioredis options for own connections (applied last).
   * @default {}
   */
  redisOptions?: RedisOptions
}

/** Defaults of `RedisCacheOptions`. */
export const redisCacheDefaults = {
  namespace: 'bookgen-cache',
  defaultTtl: 3600,
  codec: 'json',
  maxKeyLength: 1024,
  commandTimeout: 250,
  connectTimeout: 1000,
  maxReconnectDelay: 1000,
  enableAutoPipelining: true,
} as const

/** What a guarded command resolves to when it failed (the failure is already counted). */
const FAILED: unique symbol = Symbol('failed')
type Failed = typeof FAILED

/** A value as read: text (UTF-8) for text codecs, bytes for binary ones, `null` for nothing. */
type Raw = string | Buffer | null

/**
 * A cache on Redis (ioredis). Never throws because of the server: when Redis is down, slow or
 * restarting, every call returns within `commandTimeout` as a miss (reads) or `false` (writes),
 * the error is counted and published, and a circuit breaker stops calls to a dead server until a
 * probe succeeds. Bad input throws `CacheError` and writes nothing. Every value is stored with a
 * small header naming its codec, so a value is only ever decoded by the codec that wrote it.
 */
export class RedisCache implements Cache {
  /** The namespace this cache owns. */
  readonly namespace: string
  /** The ioredis client (own or given). */
  readonly client: RedisClient
  /** TTL in seconds of writes that give none (`0`: no expiry). */
  readonly defaultTtl: number
  /** The prefix of every Redis key of this cache (the namespace, escaped, and `:`). */
  readonly keyPrefix: string
  readonly #connection: RedisConnection
  readonly #stats: StatsCounter
  /** The breaker of a single server; undefined when disabled or on a Cluster. */
  readonly #breaker: CircuitBreaker | undefined
  /** On a Cluster: one breaker per master address (`host:port`), made on first use. */
  readonly #nodeBreakers = new Map<string, CircuitBreaker>()
  readonly #breakerOptions: CircuitBreakerOptions | false | undefined
  readonly #codec: Codec
  readonly #maxKeyLength: number
  readonly #commandTimeout: number
  /** The deadlines of the commands in flight (few shared timers). */
  readonly #deadlines: Deadlines
  /**
   * The reads of a tick coalesced into one command (single server only): text replies for text
   * codecs, Buffers for binary ones.
   */
  readonly #textReads: BatchedReads | undefined
  readonly #bufferReads: BatchedReads | undefined
  #errors = 0
  #lastError: Error | undefined
  #closed = false
  #closing: Promise<void> | undefined
  #events = true

  constructor(options: RedisCacheOptions = {}) {
    const o = { ...redisCacheDefaults, ...stripUndefined(options) }
    assertNamespace(o.namespace)
    assertTtl(o.defaultTtl, 'options.defaultTtl')
    assertPositiveInteger(o.maxKeyLength, 'options.maxKeyLength')
    assertPositiveInteger(o.commandTimeout, 'options.commandTimeout')
    assertPositiveInteger(o.connectTimeout, 'options.connectTimeout')
    assertPositiveInteger(o.maxReconnectDelay, 'options.maxReconnectDelay')
    if (o.client !== undefined && !(o.client instanceof Redis) && !(o.client instanceof Cluster)) {
      throw new CacheError(
        CacheErrorCode.INVALID_OPTION,
        `options.client must be an ioredis Redis or Cluster instance, got ${describe(o.client)}`,
      )
    }
    this.#codec = resolveCodec(o.codec)
    this.namespace = o.namespace
    this.#stats = new StatsCounter(o.namespace)
    this.keyPrefix = namespacePrefix(o.namespace)
    this.defaultTtl = o.defaultTtl
    this.#maxKeyLength = o.maxKeyLength
    this.#commandTimeout = o.commandTimeout
    this.#deadlines = new Deadlines(o.commandTimeout)
    this.#breakerOptions = o.circuitBreaker
    // Built once here so invalid options throw in the constructor, also for a Cluster.
    const breaker =
      o.circuitBreaker === false
        ? undefined
        : new CircuitBreaker(o.circuitBreaker, 'options.circuitBreaker')
    const own = o.client === undefined
    this.client = o.client ?? openRedisClient(o)
    if (!(this.client instanceof Cluster)) {
      this.#breaker = breaker
      this.#textReads = new BatchedReads(this.client, o.commandTimeout, true)
      this.#bufferReads = new BatchedReads(this.client, o.commandTimeout, false)
    }
    this.#connection = new RedisConnection(
      this.client,
      o.closeClient ?? own,
      o.commandTimeout,
      (error) => this.#recordError('', error, -1),
      // A fresh connection proves the server is back: stop answering locally at once.
      () => {
        this.#breaker?.reset()
        for (const b of this.#nodeBreakers.values()) b.reset()
      },
    )
  }

  /**
   * Errors, circuit state and the last error. On a Cluster, `circuit` is the worst state of the
   * per-master breakers (`open` when any master's is open).
   */
  getHealth(): CacheHealth {
    let circuit: CacheHealth['circuit'] = this.#breaker?.state ?? 'closed'
    for (const b of this.#nodeBreakers.values()) {
      if (b.state === 'open') circuit = 'open'
      else if (b.state === 'half-open' && circuit === 'closed') circuit = 'half-open'
    }
    return { errors: this.#errors, circuit, lastError: this.#lastError }
  }

  /**
   * Concurrent reads on a single server are coalesced: the reads of one tick go as one MGET (one
   * GET when alone), bounded together by one deadline; a key the MGET cannot answer exactly (`nil`
   * is also its answer for a key of another type, and a text reply cannot carry another codec's
   * bytes) is read again with GET within the same deadline, so every call gets what its own GET
   * would give.
   */
  async get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const codec = codecFor(options, this.#codec)
    const start = eventStart(this.#events)
    const reads = codec.binary ? this.#bufferReads : this.#textReads
    if (reads === undefined) {
      const raw = await this.#command(key, start, (c) => c.getBuffer(this.keyPrefix + key))
      if (raw === FAILED) {
        // The read's outcome is a miss, as getStats() counts it; the fault itself was an 'error'.
        this.#stats.miss(key, start)
        return undefined
      }
      return readValue(this.#decoded<T>(key, raw, codec, start), options)
    }
    const breaker = this.#breaker
    if (this.#refused(key, start, breaker)) {
      this.#stats.miss(key, start)
      return undefined
    }
    const full = this.keyPrefix + key
    const batch = reads.join(full)
    const index = batch.keys.length - 1
    let raw = replyAt(await batch.reply, index)
    if (raw instanceof Error) return this.#failedRead(key, raw, start, breaker)
    breaker?.success()
    if (raw !== null || batch.exact) {
      const value = this.#decodedRaw<T>(key, raw, codec, start)
      if (value !== NEEDS_BYTES) return readValue(value, options)
    }
    const retry: ReadBatch = batch.retry()
    const again = retry.add(full)
    raw = replyAt(await retry.reply, again)
    if (raw instanceof Error) return this.#failedRead(key, raw, start, breaker)
    breaker?.success()
    return readValue(this.#decoded<T>(key, raw as Buffer | null, codec, start), options)
  }

  async set(
    key: string,
    value: unknown,
    ttlSeconds?: number,
    options?: SetOptions,
  ): Promise<boolean> {
    const ttl = ttlSeconds ?? this.defaultTtl
    assertTtl(ttl)
    return this.#set(key, value, ttl, 'EX', options)
  }

  /** @internal */
  [kSetMs](key: string, value: unknown, ttlMs: number, options?: SetOptions): Promise<boolean> {
    assertTtl(ttlMs, 'ttlMs')
    return this.#set(key, value, ttlMs, 'PX', options)
  }

  async #set(
    key: string,
    value: unknown,
    ttl: number,
    unit: 'EX' | 'PX',
    options: SetOptions | undefined,
  ): Promise<boolean> {
    assertKey(key, this.#maxKeyLength)
    const codec = codecFor(options, this.#codec)
    const stored =
      codec === float32Codec && value instanceof Float32Array
        ? tagFloat32(value)
        : tagValue(codec, encodeValue(codec, value))
    if (this.#closed) throw closedError()
    const start = eventStart(this.#events)
    const full = this.keyPrefix + key
    const done = await this.#command(key, start, (c) =>
      ttl === 0
        ? c.set(full, stored)
        : unit === 'EX'
          ? c.set(full, stored, 'EX', ttl)
          : c.set(full, stored, 'PX', ttl),
    )
    if (done === FAILED) return false
    if (start >= 0) publishTimedEvent('set', key, this.namespace, start)
    return true
  }

  async delete(key: string): Promise<boolean> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(this.#events)
    const removed = await this.#command(key, start, (c) => c.unlink(this.keyPrefix + key))
    if (removed === FAILED) return false
    if (start >= 0) publishTimedEvent('delete', key, this.namespace, start)
    return removed > 0
  }

  /**
   * Resolves `true` exactly when `get(key)` would find a value: the stored bytes are read and
   * checked (a key another client wrote without a codec header, or of another Redis type, is not a
   * value of this cache). Not counted as a hit or miss.
   */
  async exists(key: string): Promise<boolean> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const raw = await this.#command(key, -1, (c) => c.getBuffer(this.keyPrefix + key))
    if (raw === FAILED || raw === null) return false
    try {
      decodeTagged(raw, this.#codec)
      return true
    } catch {
      return false
    }
  }

  /**
   * Removes this cache's keys with SCAN + UNLINK (on every master of a Cluster, after refreshing
   * its view of the masters) and resolves how many were removed. Keys outside the namespace are
   * never touched; no database-wide flush and no blocking full-keyspace listing is ever sent. When
   * a server (or a master) cannot be reached, it rejects with `CLEAR_INCOMPLETE`, whose `removed`
   * says how many keys did go.
   */
  async clear(): Promise<number> {
    if (this.#closed) throw closedError()
    const pattern = `${escapeGlob(this.keyPrefix)}*`
    let nodes: Redis[]
    const failures: string[] = []
    let firstError: unknown
    if (this.#connection.isCluster) {
      nodes = await this.#clusterMasters().catch((error: unknown) => {
        firstError = error
        failures.push(`the cluster (${errorMessage(error)})`)
        return []
      })
    } else {
      const down =
        this.#breaker !== undefined && !this.#breaker.allow()
          ? 'the circuit is open'
          : this.#connection.unavailable()
      nodes = down === undefined ? [this.client as Redis] : []
      if (down !== undefined) failures.push(`the server (${down})`)
    }
    let removed = 0
    for (const node of nodes) {
      try {
        removed += await this.#clearNode(node, pattern)
        this.#breaker?.success()
      } catch (error) {
        firstError ??= error
        failures.push(`${node.options.host}:${node.options.port} (${errorMessage(error)})`)
        // A master that cannot be reached during clear() says nothing about the others' breakers.
        if (error !== circuitOpen) this.#fail('', error, -1, this.#breaker)
      }
    }
    if (failures.length > 0) {
      throw new CacheError(
        CacheErrorCode.CLEAR_INCOMPLETE,
        `clear() removed ${removed} keys but could not reach ${failures.join(', ')}`,
        { cause: firstError, removed },
      )
    }
    return removed
  }

  async getMany<T = unknown>(
    keys: readonly string[],
    options?: GetOptions,
  ): Promise<Map<string, T>> {
    assertKeys(keys, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const codec = codecFor(options, this.#codec)
    const out = new Map<string, T>()
    if (keys.length === 0) return out
    const start = eventStart(this.#events)
    const { values } = await this.#readDecoded<T>(keys, codec, start, false)
    for (let i = 0; i < keys.length; i++) {
      const value = values[i]
      if (value === undefined) continue
      const read = readValue(value, options)
      if (read !== undefined) out.set(keys[i]!, read)
    }
    return out
  }

  /**
   * The decoded values of `keys` (`undefined` for a miss), hits and misses counted, and their
   * PTTLs when `withTtl`. Text codecs read text; the keys whose text cannot give the exact value
   * (another codec's bytes) are read again as bytes, within the same deadline.
   */
  async #readDecoded<T>(
    keys: readonly string[],
    codec: Codec,
    start: number,
    withTtl: boolean,
  ): Promise<{ values: (T | undefined)[]; ttls: number[] }> {
    const deadline = performance.now() + this.#commandTimeout
    const { values: raws, ttls } = await this.#readRaw(keys, start, withTtl, !codec.binary)
    const values: (T | undefined)[] = new Array(keys.length)
    const again: number[] = []
    for (let i = 0; i < keys.length; i++) {
      const raw = raws[i]!
      if (raw === FAILED) {
        this.#stats.miss(keys[i]!, start)
        continue
      }
      const value = this.#decodedRaw<T>(keys[i]!, raw, codec, start)
      if (value === NEEDS_BYTES) again.push(i)
      else values[i] = value
    }
    if (again.length === 0) return { values, ttls }
    const bytes = await this.#readRaw(
      again.map((i) => keys[i]!),
      start,
      withTtl,
      false,
      deadline - performance.now(),
    )
    again.forEach((i, n) => {
      const raw = bytes.values[n]!
      if (withTtl) ttls[i] = bytes.ttls[n]!
      if (raw === FAILED) this.#stats.miss(keys[i]!, start)
      else values[i] = this.#decoded<T>(keys[i]!, raw as Buffer | null, codec, start)
    })
    return { values, ttls }
  }

  /**
   * The stored values of `keys` as text or bytes (and their PTTL when `withTtl`, else `ttls` is
   * empty), in their order: one MGET on a single server; on a Cluster one guarded batch per
   * master, so a dead master fails only its own keys. `FAILED` for the keys whose batch failed.
   */
  async #readRaw(
    keys: readonly string[],
    start: number,
    withTtl: boolean,
    text: boolean,
    timeoutMs?: number,
  ): Promise<{ values: (Raw | Failed)[]; ttls: number[] }> {
    const read = (groupKeys: readonly string[]) =>
      this.#command(
        groupKeys[0]!,
        start,
        (c): Promise<[Raw[], number[] | undefined]> =>
          withTtl
            ? Promise.all([
                this.#mget(c, groupKeys, text),
                Promise.all(groupKeys.map((k) => c.pttl(this.keyPrefix + k))),
              ])
            : this.#mget(c, groupKeys, text).then(valuesOnly),
        timeoutMs,
      )
    if (!this.#connection.isCluster) {
      const replies = await read(keys)
      if (replies === FAILED) return { values: new Array(keys.length).fill(FAILED), ttls: [] }
      return { values: replies[0], ttls: replies[1] ?? [] }
    }
    const values: (Raw | Failed)[] = new Array(keys.length)
    const ttls: number[] = withTtl ? new Array(keys.length).fill(-1) : []
    await Promise.all(
      this.#byNode(keys).map(async (group) => {
        const replies = await read(group.map((i) => keys[i]!))
        for (let n = 0; n < group.length; n++) {
          const index = group[n]!
          if (replies === FAILED) {
            values[index] = FAILED
            continue
          }
          values[index] = replies[0][n] ?? null
          if (withTtl) ttls[index] = replies[1]?.[n] ?? -1
        }
      }),
    )
    return { values, ttls }
  }

  async setMany(
    entries: Readonly<Record<string, unknown>> | ReadonlyMap<string, unknown>,
    ttlSeconds?: number,
    options?: SetOptions,
  ): Promise<boolean> {
    const ttl = ttlSeconds ?? this.defaultTtl
    assertTtl(ttl)
    const codec = codecFor(options, this.#codec)
    const { list, encoded } = encodeEntries(entries, codec, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    if (list.length === 0) return true
    const stored = encoded.map((e) => tagValue(codec, e))
    const start = eventStart(this.#events)
    const results = await Promise.all(
      this.#byNode(list.map(([key]) => key)).map((group) =>
        this.#command(list[group[0]!]![0], start, async (c) => {
          if (c instanceof Cluster) {
            // Keys of different slots cannot share a pipeline: auto-pipelining batches them.
            return Promise.all(
              group.map((i) =>
                ttl === 0
                  ? c.set(this.keyPrefix + list[i]![0], stored[i]!)
                  : c.set(this.keyPrefix + list[i]![0], stored[i]!, 'EX', ttl),
              ),
            )
          }
          const pipeline = c.pipeline()
          for (const i of group) {
            const full = this.keyPrefix + list[i]![0]
            if (ttl === 0) pipeline.set(full, stored[i]!)
            else pipeline.set(full, stored[i]!, 'EX', ttl)
          }
          const replies = (await pipeline.exec()) ?? []
          for (const [error] of replies) if (error) throw error
          return replies
        }),
      ),
    )
    if (results.includes(FAILED)) return false
    if (start >= 0) for (const [key] of list) publishTimedEvent('set', key, this.namespace, start)
    return true
  }

  /**
   * The keys of this namespace, with SCAN (on every master of a Cluster). A server that cannot be
   * reached rejects the iteration with the client's error.
   */
  async *keys(): AsyncIterableIterator<string> {
    if (this.#closed) throw closedError()
    const pattern = `${escapeGlob(this.keyPrefix)}*`
    const nodes = this.#connection.isCluster ? await this.#clusterMasters() : [this.client as Redis]
    for (const node of nodes) {
      let cursor = '0'
      do {
        const [next, found] = await this.#bounded(() =>
          node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000),
        )
        cursor = next
        for (const full of found) yield full.slice(this.keyPrefix.length)
      } while (cursor !== '0')
    }
  }

  getStats(): CacheStats {
    return this.#stats.snapshot()
  }

  resetStats(): void {
    this.#stats.reset()
    this.#errors = 0
    this.#lastError = undefined
  }

  /**
   * Closes the connection (own clients, or given ones with `closeClient: true`). Idempotent: every
   * call resolves once the connection is closed.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true
      this.#closing = this.#connection.close()
    }
    return this.#closing
  }

  /** @internal */
  [kMuteEvents](): void {
    this.#events = false
  }

  /** @internal */
  async [kReadTimed]<T>(
    keys: readonly string[],
    options?: GetOptions,
  ): Promise<(TimedValue<T> | undefined)[]> {
    assertKeys(keys, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const codec = codecFor(options, this.#codec)
    const out: (TimedValue<T> | undefined)[] = new Array(keys.length).fill(undefined)
    if (keys.length === 0) return out
    const start = eventStart(this.#events)
    const { values, ttls } = await this.#readDecoded<T>(keys, codec, start, true)
    for (let i = 0; i < keys.length; i++) {
      const value = values[i]
      if (value === undefined) continue
      const read = readValue(value, options)
      if (read !== undefined) out[i] = { value: read, ttlMs: ttls[i]! }
    }
    return out
  }

  /** @internal */
  [kReportError](key: string, error: unknown): void {
    this.#recordError(key, error, -1)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /**
   * Runs one command behind the guards every call shares: fail fast while the breaker is open or
   * the connection is known to be down, bound by `commandTimeout` (whatever the client's own
   * settings), breaker bookkeeping, and the failure counted and published. Resolves `FAILED`
   * instead of rejecting.
   */
  #command<T>(
    key: string,
    start: number,
    run: (client: RedisClient) => Promise<T>,
    timeoutMs?: number,
  ): Promise<T | Failed> {
    const breaker = this.#breakerFor(key)
    if (this.#refused(key, start, breaker)) return Promise.resolve(FAILED)
    if (timeoutMs !== undefined) {
      // What is left of an earlier deadline (a read again within the call's bound): its own timer.
      return this.#bounded(() => run(this.client), timeoutMs).then(
        (value) => {
          breaker?.success()
          return value
        },
        (error: unknown) => {
          this.#fail(key, error, start, breaker)
          return FAILED
        },
      )
    }
    return new Promise<T | Failed>((resolve) => {
      let settled = false
      // The deadline is armed before the command is handed to ioredis, so time spent queueing it
      // (behind an auto-pipeline still in flight, in the offline queue) counts against the bound;
      // once it passes the call settles at once and a late reply is ignored.
      const call = {
        expire: () => {
          if (settled) return
          settled = true
          this.#fail(key, this.#timeoutError(), start, breaker)
          resolve(FAILED)
        },
      }
      const bucket = this.#deadlines.start(call)
      const failed = (error: unknown) => {
        if (settled) return
        settled = true
        this.#deadlines.settle(bucket, call)
        this.#fail(key, error, start, breaker)
        resolve(FAILED)
      }
      let pending: Promise<T>
      try {
        pending = run(this.client)
      } catch (error) {
        failed(error)
        return
      }
      pending.then((value) => {
        if (settled) return
        settled = true
        this.#deadlines.settle(bucket, call)
        breaker?.success()
        resolve(value)
      }, failed)
    })
  }

  /**
   * True when a call must not go to the server now (the breaker is open, the connection is known
   * to be down); the failure is then counted.
   */
  #refused(key: string, start: number, breaker: CircuitBreaker | undefined): boolean {
    if (breaker !== undefined && !breaker.allow()) {
      this.#fail(key, circuitOpen, start, breaker)
      return true
    }
    const down = this.#connection.unavailable()
    if (down !== undefined) {
      this.#fail(key, new Error(down), start, breaker)
      return true
    }
    return false
  }

  /** A read that failed: the failure counted, the read a miss. */
  #failedRead(
    key: string,
    error: Error,
    start: number,
    breaker: CircuitBreaker | undefined,
  ): undefined {
    this.#fail(key, error, start, breaker)
    // The read's outcome is a miss, as getStats() counts it; the fault itself was an 'error'.
    this.#stats.miss(key, start)
    return undefined
  }

  #timeoutError(): Error {
    return new Error(`Redis command timed out after ${this.#commandTimeout} ms`)
  }

  /**
   * The breaker that guards `key`: the single one, or on a Cluster the one of the master serving
   * the key's slot, so one dead master does not fail the calls of the healthy ones.
   */
  #breakerFor(key: string): CircuitBreaker | undefined {
    if (!this.#connection.isCluster) return this.#breaker
    if (this.#breakerOptions === false) return undefined
    const node = (this.client as Cluster).slots[clusterSlot(this.keyPrefix + key)]?.[0] ?? '?'
    let breaker = this.#nodeBreakers.get(node)
    if (breaker === undefined) {
      breaker = new CircuitBreaker(this.#breakerOptions, 'options.circuitBreaker')
      this.#nodeBreakers.set(node, breaker)
    }
    return breaker
  }

  /** `keys` grouped by the master that serves them (one group when not on a Cluster). */
  #byNode(keys: readonly string[]): number[][] {
    if (!this.#connection.isCluster) return [keys.map((_, i) => i)]
    const slots = (this.client as Cluster).slots
    const groups = new Map<string, number[]>()
    keys.forEach((key, i) => {
      const node = slots[clusterSlot(this.keyPrefix + key)]?.[0] ?? '?'
      const group = groups.get(node)
      if (group === undefined) groups.set(node, [i])
      else group.push(i)
    })
    return [...groups.values()]
  }

  /**
   * The values of `keys` as text or Buffers: one MGET, or one GET per key (auto-pipelined) on a
   * Cluster.
   */
  #mget(c: RedisClient, keys: readonly string[], text: boolean): Promise<Raw[]> {
    const full = keys.map((k) => this.keyPrefix + k)
    // Keys of different slots cannot share an MGET on a Cluster.
    if (c instanceof Cluster) {
      return Promise.all(full.map((k) => (text ? c.get(k) : c.getBuffer(k))))
    }
    return text ? c.mget(full) : c.mgetBuffer(full)
  }

  async #clusterMasters(): Promise<Redis[]> {
    const cluster = this.client as Cluster
    if (cluster.status !== 'ready') {
      await this.#bounded(
        () =>
          new Promise<void>((resolve, reject) => {
            if (cluster.status === 'end') reject(new Error('the cluster connection is closed'))
            cluster.once('ready', resolve)
          }),
      )
    }
    // ioredis' view of the masters may predate a failover: ask the cluster again.
    await this.#bounded(
      () =>
        new Promise<void>((resolve, reject) =>
          cluster.refreshSlotsCache((error) => (error ? reject(error) : resolve())),
        ),
    )
    return cluster.nodes('master')
  }

  async #clearNode(node: Redis, pattern: string): Promise<number> {
    let removed = 0
    let cursor = '0'
    do {
      const [next, keys] = await this.#bounded(() =>
        node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000),
      )
      cursor = next
      if (keys.length === 0) continue
      if (this.#connection.isCluster) {
        // One node may hold keys of many slots: UNLINK them one by one, in one pipeline.
        const pipeline = node.pipeline()
        for (const k of keys) pipeline.unlink(k)
        const results = (await this.#bounded(() => pipeline.exec())) ?? []
        for (const [error, count] of results) {
          if (error) throw error
          removed += Number(count)
        }
      } else {
        removed += await this.#bounded(() => node.unlink(...keys))
      }
    } while (cursor !== '0')
    return removed
  }

  /**
   * `#decoded` for a value read as text or bytes: `NEEDS_BYTES` (nothing counted) when text cannot
   * give the exact value and the bytes must be read.
   */
  #decodedRaw<T>(
    key: string,
    raw: Raw,
    codec: Codec,
    start: number,
  ): T | undefined | typeof NEEDS_BYTES {
    if (typeof raw !== 'string') return this.#decoded<T>(key, raw, codec, start)
    let value: T | typeof NEEDS_BYTES
    try {
      value = decodeTaggedText(raw, codec) as T | typeof NEEDS_BYTES
    } catch (error) {
      this.#recordError(key, error, start)
      this.#stats.miss(key, start)
      return undefined
    }
    if (value !== NEEDS_BYTES) this.#stats.hit(key, start)
    return value
  }

  #decoded<T>(key: string, raw: Buffer | null, codec: Codec, start: number): T | undefined {
    if (raw === null) {
      this.#stats.miss(key, start)
      return undefined
    }
    let value: T
    try {
      value = decodeTagged(raw, codec) as T
    } catch (error) {
      this.#recordError(key, error, start)
      this.#stats.miss(key, start)
      return undefined
    }
    this.#stats.hit(key, start)
    return value
  }

  #fail(key: string, error: unknown, start: number, breaker = this.#breakerFor(key)): void {
    if (error === circuitOpen) return
    // A reply error (WRONGTYPE on a key someone else wrote, OOM...) comes from a server that
    // answers: count it, but do not let it open the circuit for every other key.
    if (error instanceof ReplyError) breaker?.success()
    else breaker?.failure()
    this.#recordError(key, error, start)
  }

  #recordError(key: string, error: unknown, start: number): void {
    const err = error instanceof Error ? error : new Error(String(error))
    this.#errors++
    this.#lastError = err
    if (cacheChannel.hasSubscribers) {
      publishCacheEvent({
        op: 'error',
        key,
        namespace: this.namespace,
        durationMs: start >= 0 ? performance.now() - start : 0,
        error: err,
      })
    }
  }

  /**
   * What `send` resolves, or a rejection once `commandTimeout` has passed (a late reply is then
   * ignored). The timer is armed before the command is handed to ioredis, so time spent queueing
   * it (behind an auto-pipeline still in flight, in the offline queue) counts against the bound,
   * and a call settles on its own timer, with no further work after the deadline.
   */
  #bounded<T>(send: () => Promise<T>, timeoutMs = this.#commandTimeout): Promise<T> {
    if (timeoutMs <= 0) return Promise.reject(this.#timeoutError())
    return new Promise<T>((resolve, reject) => {
      let settled = false
      const timer = setTimeout(() => {
        settled = true
        reject(this.#timeoutError())
      }, timeoutMs)
      timer.unref()
      let pending: Promise<T>
      try {
        pending = send()
      } catch (error) {
        clearTimeout(timer)
        reject(error)
        return
      }
      pending.then(
        (value) => {
          if (settled) return
          clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          if (settled) return
          clearTimeout(timer)
          reject(error)
        },
      )
    })
  }
}

const circuitOpen = new Error('circuit open')

/** The reply of one call of a batch: its value, or the error of the batch or of its key. */
function replyAt(reply: BatchReply, index: number): Raw | Error {
  if (reply instanceof Error) return reply
  const raw = reply[index]
  return raw === undefined ? new Error('no reply for the key in its batch') : raw
}

function valuesOnly(values: Raw[]): [Raw[], undefined] {
  return [values, undefined]
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}
