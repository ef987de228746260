import type {
  CacheChannelMessage,
  ChannelSink,
  DbQueryChannelMessage,
  ParallelTaskChannelMessage,
} from './channels.js'
import { LogLinearHistogram } from './logLinearHistogram.js'
import type { QueryMetrics, TaskMetrics } from './types.js'
import { validDuration } from './validate.js'

/**
 * What one profile counts, from the manual `record*` calls and from the channels: cache
 * operations, the query histogram and the tasks. `sink` receives the channel messages until
 * `close()`. @internal
 */
export class ProfileCounters implements ChannelSink {
  readonly queries = new LogLinearHistogram()
  queryErrors = 0
  hits = 0
  misses = 0
  sets = 0
  deletes = 0
  cacheErrors = 0
  tasks = 0
  tasksFailed = 0
  taskTime = 0
  #open: boolean

  constructor() {
    // Written twice so that V8 sees a mutable field from the first profile on: a field written
    // once is treated as a constant, and close()'s write would then throw away the optimized
    // channel handlers at the first profile's end.
    this.#open = false
    this.#open = true
  }

  /** Receives `bookgen:*` channel messages (this object); ignores them after `close()`. */
  get sink(): ChannelSink {
    return this
  }

  // Prototype methods, not closures: the handlers' call sites see one target whichever
  // profile receives, so V8 never recompiles them for a new profile.
  /** A `bookgen:cache` message. */
  onCache(m: CacheChannelMessage): void {
    if (!this.#open) return
    switch (m.op) {
      case 'hit':
        this.hits++
        break
      case 'miss':
        this.misses++
        break
      case 'set':
        this.sets++
        break
      case 'delete':
        this.deletes++
        break
      case 'error':
        this.cacheErrors++
        break
    }
  }

  /** A `bookgen:db:query` message. */
  onQuery(m: DbQueryChannelMessage): void {
    if (!this.#open || !validDuration(m.durationMs)) return
    this.queries.record(m.durationMs / 1000)
    if (m.error != null && m.error !== false) this.queryErrors++
  }

  /** A `bookgen:parallel:task` message. */
  onTask(m: ParallelTaskChannelMessage): void {
    if (!this.#open) return
    this.tasks++
    if (m.success === false) this.tasksFailed++
    if (validDuration(m.durationMs)) this.taskTime += m.durationMs / 1000
  }

  /** hits / (hits + misses); 0 without lookups. */
  get hitRatio(): number {
    const lookups = this.hits + this.misses
    return lookups === 0 ? 0 : this.hits / lookups
  }

  /** The query distribution, seconds. */
  queryMetrics(): QueryMetrics {
    const { mean: avg, ...distribution } = this.queries.summary()
    return { ...distribution, errors: this.queryErrors, avg }
  }

  /** The tasks seen. */
  taskMetrics(): TaskMetrics {
    return { count: this.tasks, failed: this.tasksFailed, totalDuration: this.taskTime }
  }

  /** Stops counting channel messages. */
  close(): void {
    this.#open = false
  }
}
