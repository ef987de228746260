/**
 * An async iterator over values pushed by a producer: O(1) per value (a ring that doubles when
 * full, never `shift()`), any number of pending `next()` calls (served in call order), and a
 * `return()` that stops the producer. `onConsumed` runs each time a value is handed to a reader,
 * so that the producer can read more input (backpressure).
 */
interface Reader<T> {
  resolve: (result: IteratorResult<T>) => void
  reject: (error: unknown) => void
}

export class ResultStream<T> implements AsyncIterableIterator<T> {
  /** A ring of buffered values: `#size` of them from `#head` (capacity a power of 2). */
  #values: (T | undefined)[] = new Array(16)
  #head = 0
  #size = 0
  #readers: Reader<T>[] = []
  #readerHead = 0
  #ended = false
  #failure: { error: unknown } | undefined
  readonly #stop: () => Promise<void>
  readonly #onConsumed: () => void

  constructor(stop: () => Promise<void>, onConsumed: () => void) {
    this.#stop = stop
    this.#onConsumed = onConsumed
  }

  /** Values waiting for a reader. */
  get buffered(): number {
    return this.#size
  }

  /** Producer side: one more value. */
  push(value: T): void {
    if (this.#ended) return
    if (this.#readerHead < this.#readers.length) {
      const reader = this.#takeReader()
      reader.resolve({ value, done: false })
      this.#onConsumed()
      return
    }
    const values = this.#values
    const capacity = values.length
    if (this.#size === capacity) {
      this.#grow()
      this.push(value)
      return
    }
    values[(this.#head + this.#size++) & (capacity - 1)] = value
  }

  /** Producer side: no more values; `error` is thrown to the reader after the buffered values. */
  end(error?: { error: unknown }): void {
    if (this.#ended) return
    this.#ended = true
    this.#failure = error
    while (this.#readerHead < this.#readers.length) {
      const reader = this.#takeReader()
      if (this.#failure !== undefined) {
        const { error: e } = this.#failure
        this.#failure = undefined
        reader.reject(e)
      } else reader.resolve({ value: undefined, done: true })
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#size > 0) {
      const values = this.#values
      const head = this.#head
      const value = values[head] as T
      values[head] = undefined
      this.#head = (head + 1) & (values.length - 1)
      this.#size--
      this.#onConsumed()
      return Promise.resolve({ value, done: false })
    }
    if (this.#ended) {
      if (this.#failure !== undefined) {
        const { error } = this.#failure
        this.#failure = undefined
        return Promise.reject(error)
      }
      return Promise.resolve({ value: undefined, done: true })
    }
    return new Promise((resolve, reject) => this.#readers.push({ resolve, reject }))
  }

  async return(): Promise<IteratorResult<T>> {
    await this.#stop()
    this.#values = new Array(16)
    this.#head = 0
    this.#size = 0
    this.#failure = undefined
    this.end()
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this
  }

  /** Doubles the ring, its values kept in order from index 0. */
  #grow(): void {
    const old = this.#values
    const capacity = old.length
    const values: (T | undefined)[] = new Array(capacity * 2)
    for (let k = 0; k < capacity; k++) values[k] = old[(this.#head + k) & (capacity - 1)]
    this.#values = values
    this.#head = 0
  }

  #takeReader(): Reader<T> {
    const reader = this.#readers[this.#readerHead] as Reader<T>
    this.#readers[this.#readerHead++] = undefined as never
    if (this.#readerHead === this.#readers.length) {
      this.#readers = []
      this.#readerHead = 0
    }
    return reader
  }
}
