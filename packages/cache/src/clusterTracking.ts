import type { Cluster, Redis } from 'ioredis'
import { SerialRunner } from './serialRunner.js'

/** What `ClusterTracking` reports to its listener. */
export interface ClusterTrackingEvents {
  /** A tracking invalidation message from any node (`message` as ioredis delivers it). */
  message(channel: Buffer, message: unknown): void
  /** Some node stopped being tracked: every memory copy must go. */
  down(): void
  /** Every master is tracked again (after the listener emptied memory). */
  up(): void
  /** A node refused `CLIENT TRACKING` (no tracking on this server): fall back to the bus. */
  unsupported(error: unknown): void
  /** Any other failure, for the error count. */
  error(error: unknown): void
}

/** The Redis pub/sub channel tracking invalidations are redirected to. */
export const TRACKING_CHANNEL = '__redis__:invalidate'

/** How often the topology is asked for again while some master is not tracked, in milliseconds. */
const RESYNC_MS = 250

/** How long a node waits before it tries again to start tracking after a failure, in milliseconds. */
const RETRY_MS = 250

/**
 * Server-assisted client-side caching on a Redis Cluster: every master's data connection (the one
 * the Cluster client sends that master's commands on) gets `CLIENT TRACKING on REDIRECT <id> BCAST
 * PREFIX <prefix> NOLOOP`, redirected to a subscriber connected to the same node. Coherent only
 * while every current master is tracked; a node whose subscriber or data connection drops, and a
 * topology change that brings an untracked master, make it incoherent until tracking is back.
 */
export class ClusterTracking {
  readonly #cluster: Cluster
  readonly #prefix: string
  readonly #events: ClusterTrackingEvents
  readonly #nodes = new Map<string, NodeTracker>()
  readonly #onTopology: () => void
  readonly #onClusterDown: () => void
  #coherent = false
  #closed = false
  #resync: NodeJS.Timeout | undefined

  constructor(cluster: Cluster, prefix: string, events: ClusterTrackingEvents) {
    this.#cluster = cluster
    this.#prefix = prefix
    this.#events = events
    this.#onTopology = () => this.sync()
    this.#onClusterDown = () => this.#down()
    cluster.on('ready', this.#onTopology)
    cluster.on('refresh', this.#onTopology)
    cluster.on('+node', this.#onTopology)
    cluster.on('-node', this.#onTopology)
    cluster.on('close', this.#onClusterDown)
    this.sync()
  }

  /** True while every master of the cluster is tracked. */
  get coherent(): boolean {
    return this.#coherent
  }

  /** The addresses (`host:port`) of the nodes tracked now. */
  get trackedNodes(): string[] {
    return [...this.#nodes.values()].filter((n) => n.established).map((n) => n.address)
  }

  /** Compares the tracked nodes with the cluster's masters now, and starts or stops trackers. */
  sync(): void {
    if (this.#closed) return
    const masters = this.#cluster.status === 'ready' ? this.#cluster.nodes('master') : []
    const current = new Map(masters.map((m) => [address(m), m]))
    for (const [key, tracker] of this.#nodes) {
      if (current.get(key) !== tracker.data) {
        this.#nodes.delete(key)
        tracker.close()
      }
    }
    for (const [key, data] of current) {
      if (!this.#nodes.has(key)) {
        this.#nodes.set(
          key,
          new NodeTracker(data, key, this.#prefix, {
            message: (channel, message) => this.#events.message(channel, message),
            changed: () => this.#changed(),
            unsupported: (error) => this.#events.unsupported(error),
            error: (error) => this.#events.error(error),
          }),
        )
      }
    }
    this.#changed()
  }

  /** Stops every tracker. */
  close(): void {
    this.#closed = true
    this.#coherent = false
    clearTimeout(this.#resync)
    const c = this.#cluster
    c.off('ready', this.#onTopology)
    c.off('refresh', this.#onTopology)
    c.off('+node', this.#onTopology)
    c.off('-node', this.#onTopology)
    c.off('close', this.#onClusterDown)
    for (const tracker of this.#nodes.values()) tracker.close()
    this.#nodes.clear()
  }

  #changed(): void {
    if (this.#closed) return
    const all =
      this.#nodes.size > 0 &&
      this.#cluster.status === 'ready' &&
      [...this.#nodes.values()].every((n) => n.established)
    if (all && !this.#coherent) {
      this.#coherent = true
      this.#events.up()
    } else if (!all) {
      this.#down()
    }
  }

  #down(): void {
    if (this.#coherent) {
      this.#coherent = false
    }
    this.#events.down()
    // A failed master is replaced by a promoted replica that ioredis learns about only on its next
    // topology refresh: ask for one until every master is tracked again.
    if (this.#resync === undefined && !this.#closed) {
      this.#resync = setTimeout(() => {
        this.#resync = undefined
        if (this.#closed || this.#coherent) return
        if (this.#cluster.status === 'ready') {
          this.#cluster.refreshSlotsCache(() => this.sync())
        }
        if (!this.#coherent) this.#down()
      }, RESYNC_MS)
      this.#resync.unref()
    }
  }
}

interface NodeEvents {
  message(channel: Buffer, message: unknown): void
  changed(): void
  unsupported(error: unknown): void
  error(error: unknown): void
}

/** Tracking on one master: its data connection, redirected to a subscriber on the same node. */
class NodeTracker {
  readonly data: Redis
  readonly address: string
  readonly #prefix: string
  readonly #events: NodeEvents
  readonly #subscriber: Redis
  readonly #onDataReady: () => void
  readonly #onDataClose: () => void
  #established = false
  #closed = false
  /** The subscriber connection's id while it is subscribed (a subscribed connection refuses CLIENT ID). */
  #subscriberId: number | undefined
  #retry: NodeJS.Timeout | undefined
  readonly #starts = new SerialRunner(() => this.#start())

  constructor(data: Redis, nodeAddress: string, prefix: string, events: NodeEvents) {
    this.data = data
    this.address = nodeAddress
    this.#prefix = prefix
    this.#events = events
    this.#subscriber = data.duplicate({
      autoResubscribe: false,
      lazyConnect: false,
      enableAutoPipelining: false,
      readOnly: false,
    })
    this.#subscriber.on('error', (error: Error) => events.error(error))
    this.#subscriber.on('ready', () => this.#starts.request())
    this.#subscriber.on('close', () => {
      // A new connection has a new id and no subscriptions (autoResubscribe is off).
      this.#subscriberId = undefined
      this.#lost()
    })
    this.#subscriber.on('messageBuffer', (channel: Buffer, message: unknown) =>
      events.message(channel, message),
    )
    // Tracking belongs to a connection: a reconnected data connection has none.
    this.#onDataReady = () => {
      this.#lost()
      this.#starts.request()
    }
    this.#onDataClose = () => this.#lost()
    data.on('ready', this.#onDataReady)
    data.on('close', this.#onDataClose)
  }

  /** True while this node's changes reach the subscriber. */
  get established(): boolean {
    return this.#established
  }

  close(): void {
    this.#closed = true
    this.#established = false
    clearTimeout(this.#retry)
    this.data.off('ready', this.#onDataReady)
    this.data.off('close', this.#onDataClose)
    this.#subscriber.disconnect()
    // Leave the Cluster's connection as it was: no redirect to a subscriber that is gone.
    if (this.data.status === 'ready') {
      this.data.call('CLIENT', 'TRACKING', 'OFF').catch(() => {})
    }
  }

  #lost(): void {
    if (!this.#established) return
    this.#established = false
    this.#events.changed()
  }

  async #start(): Promise<void> {
    if (this.#closed || this.#subscriber.status !== 'ready') return
    try {
      if (this.#subscriberId === undefined) {
        const id = Number(await this.#subscriber.client('ID'))
        await this.#subscriber.subscribe(TRACKING_CHANNEL)
        this.#subscriberId = id
      }
      const id = this.#subscriberId
      // The Cluster's node connection may be lazy: this connects it if needed.
      await this.data.call('CLIENT', 'TRACKING', 'OFF')
      await this.data.call(
        'CLIENT',
        'TRACKING',
        'ON',
        'REDIRECT',
        String(id),
        'BCAST',
        'PREFIX',
        this.#prefix,
        'NOLOOP',
      )
      if (this.#closed) return
      if (this.#subscriber.status !== 'ready' || this.data.status !== 'ready') return
      this.#established = true
      this.#events.changed()
    } catch (error) {
      if (this.#closed) return
      if (isUnsupported(error)) {
        this.#events.unsupported(error)
        return
      }
      this.#events.error(error)
      // A failure on the way (a connection dropped, a command timed out) is tried again: nothing
      // else would start this node's tracking while its connections stay up.
      if (this.#retry === undefined) {
        this.#retry = setTimeout(() => {
          this.#retry = undefined
          if (!this.#closed && !this.#established) this.#starts.request()
        }, RETRY_MS)
        this.#retry.unref()
      }
    }
  }
}

function address(node: Redis): string {
  return `${node.options.host}:${node.options.port}`
}

/** A server that does not know `CLIENT TRACKING` (Redis < 6, some proxies). */
function isUnsupported(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error)
  return /unknown (sub)?command|unknown subcommand/i.test(message)
}
