import { AsyncLocalStorage } from 'node:async_hooks'
import { subscribe } from 'node:diagnostics_channel'
import { ProfileCounters } from './profileCounters.js'

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
  /** On a drizzle `withReplicas` database: which side ran the statement. */
  target?: 'primary' | 'replica'
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
// The handlers are subscribed once, never unsubscribed: by subscribeChannels(), or else by the
// first profile that records channels. A process that does neither pays nothing: its publishers
// see no subscriber and build no message. Subscribing swaps the channel's prototype, which
// deoptimizes every publisher that inlined `hasSubscribers`; unsubscribing would do it again at
// every profile's end, so the handlers stay and, with no profile open (`open === 0`), return at
// once. When they are subscribed, their recording path is run on messages built as the packages
// build them, into a throwaway sink (prime()): 16 times on a profile's first subscription (V8
// then has type feedback for that path: a profile starting later reaches no code without it, and
// nothing is deoptimized at its first message), 2,000 times in subscribeChannels() (enough for V8
// to compile the sink's methods then, not inside a later profile's window). The sinks are
// prototype methods of one class, read from arrays replaced on change: the per-message path
// allocates nothing and its call sites see one target.
let everywhere: readonly ChannelSink[] = []
let subscribed = false
let storage: AsyncLocalStorage<readonly ChannelSink[]> | undefined
let scoped = 0
let open = 0
const PRIME_ROUNDS = 16

const onCache = (message: unknown) => {
  if (open === 0 || message === null || typeof message !== 'object') return
  const all = everywhere
  for (let i = 0; i < all.length; i++) all[i]!.onCache(message as CacheChannelMessage)
  if (scoped === 0) return
  const own = storage!.getStore()
  if (own !== undefined)
    for (let i = 0; i < own.length; i++) own[i]!.onCache(message as CacheChannelMessage)
}
const onQuery = (message: unknown) => {
  if (open === 0 || message === null || typeof message !== 'object') return
  const all = everywhere
  for (let i = 0; i < all.length; i++) all[i]!.onQuery(message as DbQueryChannelMessage)
  if (scoped === 0) return
  const own = storage!.getStore()
  if (own !== undefined)
    for (let i = 0; i < own.length; i++) own[i]!.onQuery(message as DbQueryChannelMessage)
}
const onTask = (message: unknown) => {
  if (open === 0 || message === null || typeof message !== 'object') return
  const all = everywhere
  for (let i = 0; i < all.length; i++) all[i]!.onTask(message as ParallelTaskChannelMessage)
  if (scoped === 0) return
  const own = storage!.getStore()
  if (own !== undefined)
    for (let i = 0; i < own.length; i++) own[i]!.onTask(message as ParallelTaskChannelMessage)
}

/** Subscribes the handlers, once per copy of this package and thread; never undone. @internal */
export function subscribeHandlers(): void {
  if (subscribed) return
  subscribed = true
  subscribe(CHANNELS.cache, onCache)
  subscribe(CHANNELS.dbQuery, onQuery)
  subscribe(CHANNELS.parallelTask, onTask)
  prime(PRIME_ROUNDS)
}

/** Sends every channel message to `sink` until the returned function is called. @internal */
export function listenEverywhere(sink: ChannelSink): () => void {
  subscribeHandlers()
  everywhere = [...everywhere, sink]
  open++
  let listening = true
  return () => {
    if (!listening) return
    listening = false
    everywhere = everywhere.filter((s) => s !== sink)
    open--
  }
}

/**
 * Runs `fn` in an async context whose channel messages go to `sink` (and to the sinks of the
 * enclosing isolated profiles). Resolves or rejects like `fn`. @internal
 */
export async function runScoped<T>(sink: ChannelSink, fn: () => Promise<T> | T): Promise<T> {
  subscribeHandlers()
  storage ??= new AsyncLocalStorage()
  const chain = [...(scoped > 0 ? (storage.getStore() ?? []) : []), sink]
  scoped++
  open++
  try {
    return await storage.run(chain, fn)
  } finally {
    scoped--
    open--
    // Without any isolated profile left, AsyncLocalStorage's promise hooks would only cost time.
    if (scoped === 0) storage.disable()
  }
}

/**
 * Runs the handlers' recording path `rounds` times on messages of the documented shapes, built
 * the way the packages build them (the same literals, optional keys added in the same order, so
 * the same hidden classes), into a throwaway sink that receives them directly (no other
 * subscriber sees them). @internal
 */
export function prime(rounds: number): void {
  const probe = new ProfileCounters()
  const saved = everywhere
  everywhere = [probe]
  open++
  try {
    for (let round = 0; round < rounds; round++) primeOnce(probe, round)
  } finally {
    open--
    everywhere = saved
  }
}

const CACHE_OPS = ['hit', 'miss', 'set', 'delete', 'error'] as const

function primeOnce(probe: ProfileCounters, round: number): void {
  // As @bookgen/cache publishes: one literal.
  onCache({ op: CACHE_OPS[round % 5]!, key: 'bookgen:probe', namespace: 'probe', durationMs: 0.5 })
  // As @bookgen/db-optimizer publishes: `{ sql, durationMs }`, then name, rows or error.
  const query: DbQueryChannelMessage = { sql: 'select 1', durationMs: 0.5 }
  if (round % 2 === 0) query.name = 'probe'
  if (round % 4 < 3) query.rows = 1
  else query.error = probe
  onQuery(query)
  // As @bookgen/parallel publishes: one literal.
  onTask({ taskId: round, durationMs: 0.5, success: round % 3 !== 0 })
}
