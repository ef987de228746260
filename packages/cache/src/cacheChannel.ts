import diagnosticsChannel from 'node:diagnostics_channel'
import type { CacheEvent } from './types.js'

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
 * Internal: stores implement this method so a `TieredCache` can keep its tiers quiet and
 * publish one event per operation itself.
 */
export const kMuteEvents: unique symbol = Symbol('bookgen.cache.muteEvents')
