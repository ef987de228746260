import { DbOptimizerError } from './dbOptimizerError.js'

/**
 * Loads a value asynchronously on first `get()` and keeps it. Concurrent first calls share one
 * load; a load that fails is not cached (every waiter gets the error, the next call tries again).
 */
export class AsyncLazyLoader<T> {
  readonly #load: () => Promise<T> | T
  #pending: Promise<T> | undefined
  #loaded = false
  #value: T | undefined
  #generation = 0

  constructor(load: () => Promise<T> | T) {
    if (typeof load !== 'function') {
      throw new DbOptimizerError('INVALID_ARGUMENT', `load must be a function, got ${typeof load}`)
    }
    this.#load = load
  }

  /** The value, loading it (once, shared by concurrent callers) if needed. */
  get(): Promise<T> {
    if (this.#loaded) return Promise.resolve(this.#value as T)
    if (this.#pending !== undefined) return this.#pending
    const generation = this.#generation
    const pending = (async () => this.#load())().then(
      (value) => {
        if (generation === this.#generation) {
          this.#value = value
          this.#loaded = true
          this.#pending = undefined
        }
        return value
      },
      (error: unknown) => {
        if (generation === this.#generation) this.#pending = undefined
        throw error
      },
    )
    this.#pending = pending
    return pending
  }

  /** The value as a promise; same as `get()`. */
  get value(): Promise<T> {
    return this.get()
  }

  /** True once a load has succeeded (and not reset since). */
  get isLoaded(): boolean {
    return this.#loaded
  }

  /** Forgets the value (a load in flight still settles for its own callers). */
  reset(): void {
    this.#generation++
    this.#loaded = false
    this.#value = undefined
    this.#pending = undefined
  }
}
