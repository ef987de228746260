import { randomBytes } from 'node:crypto'
import { Cluster, type Redis } from 'ioredis'
import { ClusterTracking, TRACKING_CHANNEL } from './clusterTracking.js'
import type { RedisClient } from './redisConnection.js'
import { SerialRunner } from './serialRunner.js'

/** How a `TieredCache` hears about writes made by other processes. */
export type InvalidationMode = 'auto' | 'tracking' | 'bus' | false

/** What the listener tells the memory tier. */
export interface InvalidationTarget {
  /** These keys (without the namespace prefix) changed in Redis: drop their memory copies. */
  evict(keys: readonly string[]): void
  /** Anything may have changed (a connection dropped, a flush): drop every memory copy. */
  evictAll(): void
  /** A failure of the invalidation machinery, for the store's error count. */
  error(error: unknown): void
}

/**
 * Keeps a memory tier coherent with Redis. In `tracking` mode the data connection is switched to
 * Redis server-assisted client-side caching (`CLIENT TRACKING on REDIRECT <subscriber> BCAST
 * PREFIX <namespace>`): Redis itself announces every change of a key of the namespace, by any
 * client, on `__redis__:invalidate` to a subscriber connection. In `bus` mode (servers or proxies
 * without tracking) our own writes are announced on a pub/sub channel of the
 * namespace. On a Cluster, tracking runs per master (see `ClusterTracking`), re-established on
 * every topology change. Memory may be served only while `coherent` is true; every time it becomes
 * false the whole memory tier is dropped. Writes made through the data connection itself are not announced
 * back to it (`NOLOOP`): two `TieredCache`s sharing one `RedisCache` do not see each other's writes.
 */
export class InvalidationListener {
  readonly #data: RedisClient
  readonly #prefix: string
  readonly #target: InvalidationTarget
  readonly #busChannel: string
  readonly #sender = randomBytes(8).toString('hex')
  readonly #subscriber: RedisClient
  #cluster: ClusterTracking | undefined
  readonly #onDataReady: () => void
  readonly #onDataClose: () => void
  #mode: 'tracking' | 'bus'
  readonly #fixed: boolean
  #subscriberId: number | undefined
  #coherent = false
  #closed = false
  readonly #starts = new SerialRunner(() => this.#start())

  constructor(
    data: RedisClient,
    prefix: string,
    mode: 'auto' | 'tracking' | 'bus',
    target: InvalidationTarget,
  ) {
    this.#data = data
    this.#prefix = prefix
    this.#target = target
    this.#busChannel = `bookgen-cache:invalidate:${prefix}`
    this.#mode = mode === 'bus' ? 'bus' : 'tracking'
    this.#fixed = mode !== 'auto'
    // The subscriber subscribes itself on every connection, after asking for its id.
    this.#subscriber =
      data instanceof Cluster
        ? data.duplicate()
        : data.duplicate({ autoResubscribe: false, lazyConnect: false })
    this.#subscriber.on('error', (error: Error) => this.#target.error(error))
    this.#subscriber.on('ready', () => this.#starts.request())
    this.#subscriber.on('close', () => {
      // A new connection has a new id and no subscriptions (autoResubscribe is off).
      this.#subscriberId = undefined
      this.#incoherent()
    })
    this.#subscriber.on('messageBuffer', (channel: Buffer, message: unknown) =>
      this.#onMessage(channel, message),
    )
    this.#onDataReady = () => {
      // Tracking belongs to a connection: a reconnected data connection has none.
      this.#incoherent()
      this.#starts.request()
    }
    this.#onDataClose = () => this.#incoherent()
    data.on('ready', this.#onDataReady)
    data.on('close', this.#onDataClose)
    if (data instanceof Cluster && this.#mode === 'tracking') this.#trackCluster(data)
  }

  /** True while every change made in Redis is known to reach this process. */
  get coherent(): boolean {
    return this.#cluster !== undefined ? this.#cluster.coherent : this.#coherent
  }

  /** On a Cluster in tracking mode: the nodes (`host:port`) tracked now; else empty. */
  get trackedNodes(): string[] {
    return this.#cluster?.trackedNodes ?? []
  }

  #trackCluster(data: Cluster): void {
    this.#cluster = new ClusterTracking(data, this.#prefix, {
      message: (channel, message) => this.#onMessage(channel, message),
      down: () => this.#target.evictAll(),
      // Whatever changed while a node was not tracked is unknown: start from an empty memory tier.
      up: () => this.#target.evictAll(),
      unsupported: (error) => {
        this.#target.error(error)
        if (this.#fixed || this.#closed) return
        // A Cluster of servers without tracking: our own pub/sub bus takes over.
        this.#cluster?.close()
        this.#cluster = undefined
        this.#mode = 'bus'
        this.#incoherent()
        this.#starts.request()
      },
      error: (error) => this.#target.error(error),
    })
  }

  /** `tracking` or `bus`: the mechanism in use. */
  get mode(): 'tracking' | 'bus' {
    return this.#mode
  }

  /** In bus mode, tells the other instances that these keys changed (a no-op with tracking). */
  announce(keys: readonly string[] | '*'): void {
    if (this.#mode !== 'bus' || this.#closed) return
    const payload = JSON.stringify({ s: this.#sender, k: keys })
    this.#data.publish(this.#busChannel, payload).catch((error: unknown) => {
      this.#target.error(error)
    })
  }

  /** Stops listening and closes the subscriber connection. */
  async close(): Promise<void> {
    this.#closed = true
    this.#coherent = false
    this.#data.off('ready', this.#onDataReady)
    this.#data.off('close', this.#onDataClose)
    this.#cluster?.close()
    this.#subscriber.disconnect()
  }

  async #start(): Promise<void> {
    // On a Cluster in tracking mode the per-node trackers do the work.
    if (this.#cluster !== undefined) return
    if (this.#closed || this.#subscriber.status !== 'ready' || this.#data.status !== 'ready') return
    try {
      const subscriber = this.#subscriber as Redis
      if (this.#mode === 'tracking') {
        // A subscribed connection refuses CLIENT ID: a second start on the same connection (the
        // data connection reconnected) reuses the id it learnt.
        if (this.#subscriberId === undefined) {
          const id = Number(await subscriber.client('ID'))
          await subscriber.subscribe(TRACKING_CHANNEL)
          this.#subscriberId = id
        }
        const data = this.#data as Redis
        await data.call('CLIENT', 'TRACKING', 'OFF')
        await data.call(
          'CLIENT',
          'TRACKING',
          'ON',
          'REDIRECT',
          String(this.#subscriberId),
          'BCAST',
          'PREFIX',
          this.#prefix,
          // This connection's own writes are this process's: its memory tier already has them.
          'NOLOOP',
        )
      } else {
        await subscriber.subscribe(this.#busChannel)
      }
      if (this.#closed) return
      // Whatever changed while nobody listened is unknown: start from an empty memory tier.
      this.#target.evictAll()
      this.#coherent = true
    } catch (error) {
      this.#target.error(error)
      if (this.#mode === 'tracking' && !this.#fixed && !this.#closed) {
        this.#mode = 'bus'
        this.#starts.request()
      }
    }
  }

  #incoherent(): void {
    this.#coherent = false
    this.#target.evictAll()
  }

  #onMessage(channelBytes: Buffer, message: unknown): void {
    const channel = channelBytes.toString()
    if (channel === TRACKING_CHANNEL) {
      // A flush of the database arrives as a null message.
      if (!Array.isArray(message)) {
        this.#target.evictAll()
        return
      }
      const keys: string[] = []
      for (const raw of message as Buffer[]) {
        const full = raw.toString()
        if (full.startsWith(this.#prefix)) keys.push(full.slice(this.#prefix.length))
      }
      this.#target.evict(keys)
    } else if (channel === this.#busChannel) {
      let parsed: { s?: unknown; k?: unknown }
      try {
        parsed = JSON.parse(String(message))
      } catch (error) {
        this.#target.error(error)
        return
      }
      if (parsed.s === this.#sender) return
      if (Array.isArray(parsed.k)) this.#target.evict(parsed.k.map(String))
      else this.#target.evictAll()
    }
  }
}
