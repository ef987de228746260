import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { assertPositiveInteger } from './validate.js'

/** An ioredis client: a single server or a Cluster. */
export type RedisClient = Redis | Cluster

/** What `openRedisClient` needs of the resolved `RedisCacheOptions`. */
export interface ConnectionSettings {
  url?: string | undefined
  host?: string | undefined
  port?: number | undefined
  db?: number | undefined
  password?: string | undefined
  commandTimeout: number
  connectTimeout: number
  maxReconnectDelay: number
  enableAutoPipelining: boolean
  redisOptions?: RedisOptions | undefined
}

/**
 * The life of one ioredis client inside a store: whether it may take commands now (fail fast while
 * it is known to be down), a callback on every fresh connection, and a bounded close.
 */
export class RedisConnection {
  /** The ioredis client (own or given). */
  readonly client: RedisClient
  readonly #closeClient: boolean
  readonly #closeTimeout: number
  readonly #onError: (error: Error) => void
  readonly #onReady: () => void
  #everReady: boolean

  /**
   * @param client the ioredis client
   * @param closeClient whether `close()` closes the client
   * @param closeTimeout longest wait of `close()` for the server, in milliseconds
   * @param onError every client error (connection refused, reset…)
   * @param onReady every fresh connection (first connect and reconnects)
   */
  constructor(
    client: RedisClient,
    closeClient: boolean,
    closeTimeout: number,
    onError: (error: Error) => void,
    onReady: () => void,
  ) {
    this.client = client
    this.#closeClient = closeClient
    this.#closeTimeout = closeTimeout
    this.#everReady = client.status === 'ready'
    this.#onError = onError
    this.#onReady = () => {
      this.#everReady = true
      onReady()
    }
    client.on('error', this.#onError)
    client.on('ready', this.#onReady)
  }

  /** True for a Cluster client. */
  get isCluster(): boolean {
    return this.client instanceof Cluster
  }

  /**
   * Undefined when a command may be sent now, else why not: before the first connection commands
   * wait in ioredis' offline queue; once connected, a client that lost its server fails fast.
   */
  unavailable(): string | undefined {
    const status = this.client.status
    if (status === 'ready') return undefined
    if (!this.#everReady && (status === 'wait' || status === 'connecting' || status === 'connect'))
      return undefined
    return `Redis is not connected (status: ${status})`
  }

  /** Closes the client when it is ours to close, within `closeTimeout`; detaches the listeners. */
  async close(): Promise<void> {
    const client = this.client
    const status = client.status
    if (this.#closeClient && status !== 'end') {
      // Wait for 'end' only while a socket is open: a reconnecting client has none and would
      // never emit it. The wait is bounded, and its timer is ref'd on purpose: the caller is
      // awaiting close(), so the process must not exit in the middle of it.
      const socketOpen = status === 'ready' || status === 'connect' || status === 'connecting'
      let onEnd: () => void = ignore
      const ended = new Promise<void>((resolve) => {
        onEnd = resolve
        client.once('end', onEnd)
      })
      if (status === 'ready') await within(client.quit(), this.#closeTimeout)
      client.disconnect()
      if (socketOpen) await within(ended, this.#closeTimeout)
      client.off('end', onEnd)
    }
    // A client we closed may still report the failure of a command queued before close (ioredis
    // logs "Unhandled error event" when nobody listens): keep it quiet. A given client that stays
    // open gets back the listeners it had.
    if (this.#closeClient) client.on('error', ignore)
    client.off('error', this.#onError)
    client.off('ready', this.#onReady)
  }
}

/** Opens an ioredis client from the options, then the environment (`REDIS_URL`, `REDIS_HOST`…). */
export function openRedisClient(o: ConnectionSettings): Redis {
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
