import diagnosticsChannel from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import type { CacheEvent, CacheEventOp } from './types.js'

/** Name of the diagnostics channel the stores publish on. */
export const CACHE_CHANNEL = 'bookgen:cache'

/**
 * The `bookgen:cache` diagnostics channel. Stores publish `CacheEvent` messages on it, only
 * while it has subscribers.
 */
export const cacheChannel: diagnosticsChannel.Channel = diagnosticsChannel.channel(CACHE_CHANNEL)

/** Publishes one event (callers check `cacheChannel.hasSubscribers` first). */
export function publishCacheEvent(event: CacheEvent): void {
  cacheChannel.publish(event)
}

/**
 * Start time of an operation to publish (`performance.now()`), or `-1` when nothing will be
 * published: `enabled` is false (a muted tier) or the channel has no subscribers.
 */
export function eventStart(enabled: boolean): number {
  return enabled && cacheChannel.hasSubscribers ? performance.now() : -1
}

/** Publishes `op` on `key` timed from `start` (from `eventStart`; callers check `start >= 0`). */
export function publishTimedEvent(
  op: CacheEventOp,
  key: string,
  namespace: string,
  start: number,
): void {
  publishCacheEvent({ op, key, namespace, durationMs: performance.now() - start })
}

/**
 * Internal: stores implement this method so a `TieredCache` can keep its tiers quiet and
 * publish one event per operation itself.
 */
export const kMuteEvents: unique symbol = Symbol('bookgen.cache.muteEvents')
