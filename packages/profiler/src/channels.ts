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
// The handlers are subscribed once, when this module loads, and never unsubscribed, and they do
// the same work whether a profile runs or not: between profiles the messages go to a discarded
// sink of the same class as a profile's. Measured with instruction counts, nearly all of a
// profile's cost on Node 20 was V8 recompiling the publishers, not the handlers' work: a
// subscribe swaps the channel's prototype (every publisher inlining `hasSubscribers` is
// deoptimized), and a handler that returned early between profiles had its recording branch
// compiled as a deoptimization point, so the first message of every profile threw the
// publishers' optimized code away again. Subscribing at load, before the publishers are
// optimized, and keeping the type feedback of the handlers identical in and between profiles
// leaves nothing to recompile when a profile starts or stops. The price: once this package is
// loaded, publishers build their messages and the discarded sink counts them (tens of ns a
// message, see bench/RESULTS.md). Arrays, replaced on change, keep the per-message path free of
// iterator allocations.
let discard: readonly ChannelSink[] = []
let everywhere: readonly ChannelSink[] = []
let listening = 0
let storage: AsyncLocalStorage<readonly ChannelSink[]> | undefined
let scoped = 0

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

/**
 * Subscribes the handlers (once per copy of this package), with `sink` receiving the messages
 * published while no profile listens everywhere. Called by profileCounters.ts when it loads,
 * before any publisher is likely to be optimized. @internal
 */
export function subscribeChannels(sink: ChannelSink): void {
  if (discard.length > 0) return
  discard = [sink]
  everywhere = discard
  subscribe(CHANNELS.cache, onCache)
  subscribe(CHANNELS.dbQuery, onQuery)
  subscribe(CHANNELS.parallelTask, onTask)
}

/** Sends every channel message to `sink` until the returned function is called. @internal */
export function listenEverywhere(sink: ChannelSink): () => void {
  everywhere = listening === 0 ? [sink] : [...everywhere, sink]
  listening++
  let open = true
  return () => {
    if (!open) return
    open = false
    listening--
    everywhere = listening === 0 ? discard : everywhere.filter((s) => s !== sink)
  }
}

/**
 * Runs `fn` in an async context whose channel messages go to `sink` (and to the sinks of the
 * enclosing isolated profiles). Resolves or rejects like `fn`. @internal
 */
export async function runScoped<T>(sink: ChannelSink, fn: () => Promise<T> | T): Promise<T> {
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
