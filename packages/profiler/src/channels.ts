import { AsyncLocalStorage } from 'node:async_hooks'
import { subscribe } from 'node:diagnostics_channel'

/** The channels the profiler listens to, and the names they are published under. */
export const CHANNELS = {
  cache: 'bookgen:cache',
  dbQuery: 'bookgen:db:query',
  parallelTask: 'bookgen:parallel:task',
} as const

/** A message on `bookgen:cache`. */
export interface CacheChannelMessage {
  op: 'hit' | 'miss' | 'set' | 'delete' | 'error'
  key: string
  namespace: string
  durationMs: number
  /** For `op: 'error'`: the error. */
  error?: unknown
}

/** A message on `bookgen:db:query` (parameters are never included). */
export interface DbQueryChannelMessage {
  name?: string
  sql: string
  durationMs: number
  rows?: number
  error?: unknown
}

/** A message on `bookgen:parallel:task`. */
export interface ParallelTaskChannelMessage {
  taskId: string | number
  durationMs: number
  success: boolean
}

/** Receives channel messages for one profile. @internal */
export interface ChannelSink {
  onCache(message: CacheChannelMessage): void
  onQuery(message: DbQueryChannelMessage): void
  onTask(message: ParallelTaskChannelMessage): void
}

// Profiles started with startProfile() see every message; isolated performanceProfile() calls
// only the messages published from their own async context (and its descendants).
//
// The handlers are subscribed when the first profile that records channels starts, and never
// unsubscribed. A process that never profiles pays nothing: its publishers see no subscriber and
// build no message. Subscribing swaps the channel's prototype, which deoptimizes every publisher
// that inlined `hasSubscribers`; unsubscribing would do it again at every profile's end, so the
// handlers stay and, between profiles, find no sink and return. Their recording code ran during
// the first profile, so its type feedback is in place and a later profile's start or stop
// recompiles nothing (a branch first reached inside optimized code would be a deoptimization).
// The sinks are prototype methods of one class, read from arrays replaced on change: the
// per-message path allocates nothing and its call sites see one target.
let everywhere: readonly ChannelSink[] = []
let subscribed = false
let storage: AsyncLocalStorage<readonly ChannelSink[]> | undefined
let scoped = 0

const onCache = (message: unknown) => {
  if (message === null || typeof message !== 'object') return
  const all = everywhere
  for (let i = 0; i < all.length; i++) all[i]!.onCache(message as CacheChannelMessage)
  if (scoped === 0) return
  const own = storage!.getStore()
  if (own !== undefined)
    for (let i = 0; i < own.length; i++) own[i]!.onCache(message as CacheChannelMessage)
}
const onQuery = (message: unknown) => {
  if (message === null || typeof message !== 'object') return
  const all = everywhere
  for (let i = 0; i < all.length; i++) all[i]!.onQuery(message as DbQueryChannelMessage)
  if (scoped === 0) return
  const own = storage!.getStore()
  if (own !== undefined)
    for (let i = 0; i < own.length; i++) own[i]!.onQuery(message as DbQueryChannelMessage)
}
const onTask = (message: unknown) => {
  if (message === null || typeof message !== 'object') return
  const all = everywhere
  for (let i = 0; i < all.length; i++) all[i]!.onTask(message as ParallelTaskChannelMessage)
  if (scoped === 0) return
  const own = storage!.getStore()
  if (own !== undefined)
    for (let i = 0; i < own.length; i++) own[i]!.onTask(message as ParallelTaskChannelMessage)
}

/** Subscribes the handlers, once per copy of this package and thread; never undone. */
function subscribeOnce(): void {
  if (subscribed) return
  subscribed = true
  subscribe(CHANNELS.cache, onCache)
  subscribe(CHANNELS.dbQuery, onQuery)
  subscribe(CHANNELS.parallelTask, onTask)
}

/** Sends every channel message to `sink` until the returned function is called. @internal */
export function listenEverywhere(sink: ChannelSink): () => void {
  subscribeOnce()
  everywhere = [...everywhere, sink]
  let open = true
  return () => {
    if (!open) return
    open = false
    everywhere = everywhere.filter((s) => s !== sink)
  }
}

/**
 * Runs `fn` in an async context whose channel messages go to `sink` (and to the sinks of the
 * enclosing isolated profiles). Resolves or rejects like `fn`. @internal
 */
export async function runScoped<T>(sink: ChannelSink, fn: () => Promise<T> | T): Promise<T> {
  subscribeOnce()
  storage ??= new AsyncLocalStorage()
  const chain = [...(scoped > 0 ? (storage.getStore() ?? []) : []), sink]
  scoped++
  try {
    return await storage.run(chain, fn)
  } finally {
    scoped--
    // Without any isolated profile left, AsyncLocalStorage's promise hooks would only cost time.
    if (scoped === 0) storage.disable()
  }
}
