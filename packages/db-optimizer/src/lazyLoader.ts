import { DbOptimizerError } from './dbOptimizerError.js'

const UNSET: unique symbol = Symbol('unset')

/**
 * Computes a value on first access of `.value` and keeps it (heavy content loaded on demand).
 * A loader that throws caches nothing: the next access tries again.
 */
export class LazyLoader<T> {
  readonly #load: () => T
  #value: T | typeof UNSET = UNSET

  constructor(load: () => T) {
    if (typeof load !== 'function') {
      throw new DbOptimizerError('INVALID_ARGUMENT', `load must be a function, got ${typeof load}`)
    }
    this.#load = load
  }

  /** The value, loaded now if it was not yet. */
  get value(): T {
    if (this.#value === UNSET) this.#value = this.#load()
    return this.#value
  }

  /** True once the value has been loaded (and not reset since). */
  get isLoaded(): boolean {
    return this.#value !== UNSET
  }

  /** Forgets the value; the next access loads again. */
  reset(): void {
    this.#value = UNSET
  }
}
