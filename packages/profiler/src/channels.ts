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
// only the messages published from their own async context (and its descendants). The handlers
// are subscribed once, on the first profile, and never unsubscribed: every subscribe or
// unsubscribe deoptimizes the code that publishes, so toggling per profile cost more than a
// handler that returns at once while no profile is active. Arrays, replaced on change, keep the
// per-message path free of iterator allocations.
let everywhere: readonly ChannelSink[] = []
let storage: AsyncLocalStorage<readonly ChannelSink[]> | undefined
let scoped = 0
let active = 0
let subscribed = false

const onCache = (message: unknown) => {
  if (active === 0 || message === null || typeof message !== 'object') return
  const own = scoped > 0 ? storage!.getStore() : undefined
  if (own !== undefined)
    for (let i = 0; i < own.length; i++) own[i]!.onCache(message as CacheChannelMessage)
  for (let i = 0; i < everywhere.length; i++) everywhere[i]!.onCache(message as CacheChannelMessage)
}
const onQuery = (message: unknown) => {
  if (active === 0 || message === null || typeof message !== 'object') return
  const own = scoped > 0 ? storage!.getStore() : undefined
  if (own !== undefined)
    for (let i = 0; i < own.length; i++) own[i]!.onQuery(message as DbQueryChannelMessage)
  for (let i = 0; i < everywhere.length; i++)
    everywhere[i]!.onQuery(message as DbQueryChannelMessage)
}
const onTask = (message: unknown) => {
  if (active === 0 || message === null || typeof message !== 'object') return
  const own = scoped > 0 ? storage!.getStore() : undefined
  if (own !== undefined)
    for (let i = 0; i < own.length; i++) own[i]!.onTask(message as ParallelTaskChannelMessage)
  for (let i = 0; i < everywhere.length; i++)
    everywhere[i]!.onTask(message as ParallelTaskChannelMessage)
}

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
  active++
  let listening = true
  return () => {
    if (!listening) return
    listening = false
    everywhere = everywhere.filter((s) => s !== sink)
    active--
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
  active++
  try {
    return await storage.run(chain, fn)
  } finally {
    scoped--
    active--
    // Without any isolated profile left, AsyncLocalStorage's promise hooks would only cost time.
    if (scoped === 0) storage.disable()
  }
}
