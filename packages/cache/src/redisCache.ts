import { performance } from 'node:perf_hooks'
import { Cluster, Redis, type RedisOptions, ReplyError } from 'ioredis'
import {
  cacheChannel,
  eventStart,
  kMuteEvents,
  publishCacheEvent,
  publishTimedEvent,
} from './cacheChannel.js'
import { CacheError, CacheErrorCode } from './cacheError.js'
import { namespacePrefix } from './cacheKey.js'
import { StatsCounter } from './cacheStats.js'
import { CircuitBreaker, type CircuitBreakerOptions } from './circuitBreaker.js'
import { closedError } from './closedError.js'
import { codecFor, resolveCodec } from './codecs.js'
import { encodeEntries } from './encodeEntries.js'
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
   * Bound of every Redis command in milliseconds: a slower call is answered as a miss / `false`.
   * A given `client` that has its own ioredis `commandTimeout` keeps that one instead.
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

type Client = Redis | Cluster

const NOT_CONNECTED = 'Redis is not connected'

/**
 * A cache on Redis (ioredis). Never throws because of the server: when Redis is down, slow or
 * restarting, every call returns within `commandTimeout` as a miss (reads) or `false` (writes),
 * the error is counted and published, and a circuit breaker stops calls to a dead server until a
 * probe succeeds. Bad input throws `CacheError` and writes nothing.
 */
export class RedisCache implements Cache {
  /** The key prefix this cache owns. */
  readonly namespace: string
  /** The ioredis client (own or given). */
  readonly client: Client
  readonly #prefix: string
  readonly #isCluster: boolean
  readonly #stats: StatsCounter
  readonly #breaker: CircuitBreaker | undefined
  readonly #codec: Codec
  readonly #defaultTtl: number
  readonly #maxKeyLength: number
  readonly #commandTimeout: number
  readonly #ownTimeout: boolean
  readonly #closeClient: boolean
  readonly #onClientError: (error: Error) => void
  readonly #onReady: () => void
  #everReady: boolean
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
    this.#codec = resolveCodec(o.codec)
    this.namespace = o.namespace
    this.#stats = new StatsCounter(o.namespace)
    this.#prefix = namespacePrefix(o.namespace)
    this.#defaultTtl = o.defaultTtl
    this.#maxKeyLength = o.maxKeyLength
    this.#commandTimeout = o.commandTimeout
    if (o.circuitBreaker !== false) {
      this.#breaker = new CircuitBreaker(o.circuitBreaker, 'options.circuitBreaker')
    }
    if (o.client !== undefined) {
      if (!(o.client instanceof Redis) && !(o.client instanceof Cluster)) {
        throw new CacheError(
          CacheErrorCode.INVALID_OPTION,
          `options.client must be an ioredis Redis or Cluster instance, got ${describe(o.client)}`,
        )
      }
      this.client = o.client
      this.#closeClient = o.closeClient ?? false
      this.#ownTimeout = !hasCommandTimeout(o.client)
    } else {
      this.client = openClient(o)
      this.#closeClient = o.closeClient ?? true
      this.#ownTimeout = false
    }
    this.#isCluster = this.client instanceof Cluster
    this.#everReady = this.client.status === 'ready'
    this.#onClientError = (error) => this.#recordError('', error, -1)
    this.#onReady = () => {
      this.#everReady = true
      // A fresh connection proves the server is back: stop answering locally at once.
      this.#breaker?.reset()
    }
    this.client.on('error', this.#onClientError)
    this.client.on('ready', this.#onReady)
  }

  /** Errors, circuit state and the last error. */
  getHealth(): CacheHealth {
    return {
      errors: this.#errors,
      circuit: this.#breaker?.state ?? 'closed',
      lastError: this.#lastError,
    }
  }

  async get<T = unknown>(key: string, options?: GetOptions): Promise<T | undefined> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const codec = codecFor(options, this.#codec)
    const start = eventStart(this.#events)
    let raw: string | Buffer | null
    try {
      this.#gate()
      const full = this.#prefix + key
      const pending: Promise<string | Buffer | null> = codec.binary
        ? this.client.getBuffer(full)
        : this.client.get(full)
      raw = await (this.#ownTimeout ? this.#withTimeout(pending) : pending)
      this.#breaker?.success()
    } catch (error) {
      this.#fail(key, error, start)
      // The read's outcome is a miss, as getStats() counts it; the fault itself was an 'error'.
      this.#stats.miss(key, start)
      return undefined
    }
    return this.#decoded<T>(key, raw, codec, start)
  }

  async set(
    key: string,
    value: unknown,
    ttlSeconds?: number,
    options?: SetOptions,
  ): Promise<boolean> {
    const ttl = ttlSeconds ?? this.#defaultTtl
    assertKey(key, this.#maxKeyLength)
    assertTtl(ttl)
    const codec = codecFor(options, this.#codec)
    const encoded = encodeValue(codec, value)
    if (this.#closed) throw closedError()
    const start = eventStart(this.#events)
    try {
      this.#gate()
      const full = this.#prefix + key
      const pending =
        ttl === 0 ? this.client.set(full, encoded) : this.client.set(full, encoded, 'EX', ttl)
      await (this.#ownTimeout ? this.#withTimeout(pending) : pending)
      this.#breaker?.success()
    } catch (error) {
      this.#fail(key, error, start)
      return false
    }
    if (start >= 0) publishTimedEvent('set', key, this.namespace, start)
    return true
  }

  async delete(key: string): Promise<boolean> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    const start = eventStart(this.#events)
    let removed: number
    try {
      this.#gate()
      const pending = this.client.unlink(this.#prefix + key)
      removed = await (this.#ownTimeout ? this.#withTimeout(pending) : pending)
      this.#breaker?.success()
    } catch (error) {
      this.#fail(key, error, start)
      return false
    }
    if (start >= 0) publishTimedEvent('delete', key, this.namespace, start)
    return removed > 0
  }

  async exists(key: string): Promise<boolean> {
    assertKey(key, this.#maxKeyLength)
    if (this.#closed) throw closedError()
    try {
      this.#gate()
      const pending = this.client.exists(this.#prefix + key)
      const count = await (this.#ownTimeout ? this.#withTimeout(pending) : pending)
      this.#breaker?.success()
      return count > 0
    } catch (error) {
      this.#fail(key, error, -1)
      return false
    }
  }

  /**
   * Removes this cache's keys with SCAN + UNLINK (on every master of a Cluster) and resolves how
   * many were removed. Keys outside the namespace are never touched; no database-wide flush and no
   * blocking full-keyspace listing is ever sent.
   */
  async clear(): Promise<number> {
    if (this.#closed) throw closedError()
    const pattern = `${escapeGlob(this.#prefix)}*`
    const nodes: Redis[] = this.#isCluster
      ? (this.client as Cluster).nodes('master')
      : [this.client as Redis]
    let removed = 0
    try {
      this.#gate()
      for (const node of nodes) {
        let cursor = '0'
        do {
          const [next, keys] = await this.#withTimeout(
            node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000),
          )
          cursor = next
          if (keys.length === 0) continue
          if (this.#isCluster) {
            const pipeline = node.pipeline()
            for (const k of keys) pipeline.unlink(k)
            const results = (await this.#withTimeout(pipeline.exec())) ?? []
            for (const [error, count] of results) {
              if (error) throw error
              removed += Number(count)
            }
          } else {
            removed += await this.#withTimeout(node.unlink(...keys))
          }
        } while (cursor !== '0')
      }
      this.#breaker?.success()
    } catch (error) {
      this.#fail('', error, -1)
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
    let raws: (string | Buffer | null)[]
    try {
      this.#gate()
      const full = keys.map((k) => this.#prefix + k)
      let pending: Promise<(string | Buffer | null)[]>
      if (this.#isCluster) {
        // Keys of different slots cannot share an MGET; auto-pipelining batches them per node.
        pending = Promise.all(
          full.map((k) => (codec.binary ? this.client.getBuffer(k) : this.client.get(k))),
        )
      } else {
        pending = codec.binary ? this.client.mgetBuffer(full) : this.client.mget(full)
      }
      raws = await (this.#ownTimeout ? this.#withTimeout(pending) : pending)
      this.#breaker?.success()
    } catch (error) {
      this.#fail(keys[0]!, error, start)
      for (const key of keys) this.#stats.miss(key, start)
      return out
    }
    for (let i = 0; i < keys.length; i++) {
      const value = this.#decoded<T>(keys[i]!, raws[i] ?? null, codec, start)
      if (value !== undefined) out.set(keys[i]!, value)
    }
    return out
  }

  async setMany(
    entries: Readonly<Record<string, unknown>> | ReadonlyMap<string, unknown>,
    ttlSeconds?: number,
    options?: SetOptions,
  ): Promise<boolean> {
    const ttl = ttlSeconds ?? this.#defaultTtl
    assertTtl(ttl)
    const { list, encoded } = encodeEntries(
      entries,
      codecFor(options, this.#codec),
      this.#maxKeyLength,
    )
    if (this.#closed) throw closedError()
    if (list.length === 0) return true
    const start = eventStart(this.#events)
    try {
      this.#gate()
      if (this.#isCluster) {
        await this.#withTimeout(
          Promise.all(
            list.map(([key], i) =>
              ttl === 0
                ? this.client.set(this.#prefix + key, encoded[i]!)
                : this.client.set(this.#prefix + key, encoded[i]!, 'EX', ttl),
            ),
          ),
        )
      } else {
        const pipeline = (this.client as Redis).pipeline()
        for (let i = 0; i < list.length; i++) {
          const full = this.#prefix + list[i]![0]
          if (ttl === 0) pipeline.set(full, encoded[i]!)
          else pipeline.set(full, encoded[i]!, 'EX', ttl)
        }
        const results = (await this.#withTimeout(pipeline.exec())) ?? []
        for (const [error] of results) if (error) throw error
      }
      this.#breaker?.success()
    } catch (error) {
      this.#fail(list[0]![0], error, start)
      return false
    }
    if (start >= 0) for (const [key] of list) publishTimedEvent('set', key, this.namespace, start)
    return true
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
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#closed = true
    const status = this.client.status
    if (this.#closeClient && status !== 'end') {
      // Wait for 'end' only while a socket is open: a reconnecting client has none and would
      // never emit it. The wait is bounded, and its timer is ref'd on purpose: the caller is
      // awaiting close(), so the process must not exit in the middle of it.
      const socketOpen = status === 'ready' || status === 'connect' || status === 'connecting'
      let onEnd: () => void = ignore
      const ended = new Promise<void>((resolve) => {
        onEnd = resolve
        this.client.once('end', onEnd)
      })
      if (status === 'ready') {
        await within(this.client.quit(), this.#commandTimeout) // graceful: pending replies first
      }
      this.client.disconnect()
      if (socketOpen) await within(ended, this.#commandTimeout)
      this.client.off('end', onEnd)
    }
    // A client we closed may still report the failure of a command queued before close (ioredis
    // logs "Unhandled error event" when nobody listens): keep it quiet. A given client that stays
    // open gets back the listeners it had.
    if (this.#closeClient) this.client.on('error', ignore)
    this.client.off('error', this.#onClientError)
    this.client.off('ready', this.#onReady)
  }

  /** @internal */
  [kMuteEvents](): void {
    this.#events = false
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** Throws when the breaker is open or the connection is known to be down (fail fast). */
  #gate(): void {
    if (this.#breaker !== undefined && !this.#breaker.allow()) throw circuitOpen
    const status = this.client.status
    if (status === 'ready') return
    if (!this.#everReady && (status === 'wait' || status === 'connecting' || status === 'connect'))
      return
    throw new Error(`${NOT_CONNECTED} (status: ${status})`)
  }

  #decoded<T>(
    key: string,
    raw: string | Buffer | null,
    codec: Codec,
    start: number,
  ): T | undefined {
    if (raw === null) {
      this.#stats.miss(key, start)
      return undefined
    }
    let value: T
    try {
      value = codec.decode(raw) as T
    } catch (error) {
      this.#recordError(key, error, start)
      this.#stats.miss(key, start)
      return undefined
    }
    this.#stats.hit(key, start)
    return value
  }

  #fail(key: string, error: unknown, start: number): void {
    if (error === circuitOpen) return
    // A reply error (WRONGTYPE on a key someone else wrote, OOM...) comes from a server that
    // answers: count it, but do not let it open the circuit for every other key.
    if (error instanceof ReplyError) this.#breaker?.success()
    else this.#breaker?.failure()
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

  #withTimeout<T>(pending: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis command timed out after ${this.#commandTimeout} ms`)),
        this.#commandTimeout,
      )
      timer.unref()
    })
    return Promise.race([pending, timeout]).finally(() => clearTimeout(timer))
  }
}

const circuitOpen = new Error('circuit open')

function ignore(): void {}

/** Waits for `pending` (its outcome ignored) at most `ms`, with a timer that keeps the process up. */
async function within(pending: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    pending.then(ignore, ignore),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms)
    }),
  ])
  clearTimeout(timer)
}

function hasCommandTimeout(client: Client): boolean {
  const options =
    client instanceof Cluster ? client.options.redisOptions : (client as Redis).options
  return typeof options?.commandTimeout === 'number'
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}

type ResolvedOptions = Required<Pick<RedisCacheOptions, keyof typeof redisCacheDefaults>> &
  RedisCacheOptions

function openClient(o: ResolvedOptions): Redis {
  const env = process.env
  const base: RedisOptions = {
    commandTimeout: o.commandTimeout,
    connectTimeout: o.connectTimeout,
    enableAutoPipelining: o.enableAutoPipelining,
    // One MGET already carries a whole batch; deferring it to the next tick only adds latency.
    autoPipeliningIgnoredCommands: ['mget'],
    maxRetriesPerRequest: 0,
    // ioredis waits this long for a socket to close after disconnect(), holding the process open
    // (2 s by default, even for a socket that never connected): keep it as short as a command.
    disconnectTimeout: o.commandTimeout,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), o.maxReconnectDelay),
  }
  const url = o.url ?? (o.host === undefined ? env.REDIS_URL : undefined)
  if (url !== undefined && url !== '') {
    return new Redis(url, { ...base, ...o.redisOptions })
  }
  const port = o.port ?? Number(env.REDIS_PORT ?? 6379)
  const db = o.db ?? Number(env.REDIS_DB ?? 0)
  assertPositiveInteger(port, o.port === undefined ? 'REDIS_PORT' : 'options.port')
  assertPositiveInteger(db, o.db === undefined ? 'REDIS_DB' : 'options.db', true)
  const password = o.password ?? env.REDIS_PASSWORD
  return new Redis({
    ...base,
    host: o.host ?? env.REDIS_HOST ?? '127.0.0.1',
    port,
    db,
    ...(password ? { password } : {}),
    ...o.redisOptions,
  })
}
