import { AsyncLocalStorage } from 'node:async_hooks'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'

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

// Profiles started with startProfile() see every message; those of performanceProfile() only the
// messages published from their own async context (and its descendants). Arrays, replaced on
// change, keep the per-message path free of iterator allocations.
let everywhere: readonly ChannelSink[] = []
let storage: AsyncLocalStorage<readonly ChannelSink[]> | undefined
let scoped = 0
let subscribed = false

const onCache = (message: unknown) => {
  if (message === null || typeof message !== 'object') return
  const own = scoped > 0 ? storage!.getStore() : undefined
  if (own !== undefined)
    for (let i = 0; i < own.length; i++) own[i]!.onCache(message as CacheChannelMessage)
  for (let i = 0; i < everywhere.length; i++) everywhere[i]!.onCache(message as CacheChannelMessage)
}
const onQuery = (message: unknown) => {
  if (message === null || typeof message !== 'object') return
  const own = scoped > 0 ? storage!.getStore() : undefined
  if (own !== undefined)
    for (let i = 0; i < own.length; i++) own[i]!.onQuery(message as DbQueryChannelMessage)
  for (let i = 0; i < everywhere.length; i++)
    everywhere[i]!.onQuery(message as DbQueryChannelMessage)
}
const onTask = (message: unknown) => {
  if (message === null || typeof message !== 'object') return
  const own = scoped > 0 ? storage!.getStore() : undefined
  if (own !== undefined)
    for (let i = 0; i < own.length; i++) own[i]!.onTask(message as ParallelTaskChannelMessage)
  for (let i = 0; i < everywhere.length; i++)
    everywhere[i]!.onTask(message as ParallelTaskChannelMessage)
}

function update(): void {
  const want = everywhere.length > 0 || scoped > 0
  if (want === subscribed) return
  const toggle = want ? subscribe : unsubscribe
  toggle(CHANNELS.cache, onCache)
  toggle(CHANNELS.dbQuery, onQuery)
  toggle(CHANNELS.parallelTask, onTask)
  subscribed = want
}

/** Sends every channel message to `sink` until the returned function is called. @internal */
export function listenEverywhere(sink: ChannelSink): () => void {
  everywhere = [...everywhere, sink]
  update()
  return () => {
    everywhere = everywhere.filter((s) => s !== sink)
    update()
  }
}

/**
 * Runs `fn` in an async context whose channel messages go to `sink` (and to the sinks of the
 * enclosing scoped profiles). Resolves or rejects like `fn`. @internal
 */
export async function runScoped<T>(sink: ChannelSink, fn: () => Promise<T> | T): Promise<T> {
  storage ??= new AsyncLocalStorage()
  const chain = [...(scoped > 0 ? (storage.getStore() ?? []) : []), sink]
  scoped++
  update()
  try {
    return await storage.run(chain, fn)
  } finally {
    scoped--
    // Without any scoped profile left, AsyncLocalStorage's promise hooks would only cost time.
    if (scoped === 0) storage.disable()
    update()
  }
}
