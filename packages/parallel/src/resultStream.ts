/**
 * An async iterator over values pushed by a producer: O(1) per value (a queue with a moving
 * head, never `shift()`), any number of pending `next()` calls (served in call order), and a
 * `return()` that stops the producer. `onConsumed` runs each time a value is handed to a reader,
 * so that the producer can read more input (backpressure).
 */
interface Reader<T> {
  resolve: (result: IteratorResult<T>) => void
  reject: (error: unknown) => void
}

export class ResultStream<T> implements AsyncIterableIterator<T> {
  #values: T[] = []
  #head = 0
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
    return this.#values.length - this.#head
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
    this.#values.push(value)
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
    if (this.#head < this.#values.length) {
      const value = this.#values[this.#head] as T
      this.#values[this.#head++] = undefined as T
      if (this.#head === this.#values.length) {
        this.#values = []
        this.#head = 0
      } else if (this.#head > 1024 && this.#head * 2 > this.#values.length) {
        this.#values = this.#values.slice(this.#head)
        this.#head = 0
      }
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
    this.#values = []
    this.#head = 0
    this.#failure = undefined
    this.end()
    return { value: undefined, done: true }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this
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
