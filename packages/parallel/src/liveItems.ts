/**
 * The items of a lazy input that were read and have not settled: memory bounded by maxQueue.
 * Items are read in index order and settle in about that order, so they sit in an array from the
 * oldest unsettled one (a Map entry per item costs more than a tiny task); when one straggler
 * keeps that window mostly empty, the few items still unsettled move to a Map.
 */
export class LiveItems<T> {
  /** Item `#base + k` at `k` for `k >= #head`; HOLE where it settled. */
  #window: unknown[] = []
  #base = 0
  #head = 0
  /** Items of the window that are not HOLE. */
  #live = 0
  /** Items left behind by a sparse window (a straggler among settled ones). */
  #stragglers: Map<number, T> | undefined
  /** Items read so far (the next item's index). */
  length = 0

  /** Adds the next item (index `length`). */
  push(item: T): void {
    this.#window.push(item)
    this.#live++
    this.length++
  }
  /** Item `i`, read and not deleted. */
  get(i: number): T {
    const k = i - this.#base
    if (k >= this.#head) return this.#window[k] as T
    return this.#stragglers?.get(i) as T
  }
  /** Forgets item `i` (it settled); deleting it again does nothing. */
  delete(i: number): void {
    const window = this.#window
    const k = i - this.#base
    if (k < this.#head) {
      this.#stragglers?.delete(i)
      return
    }
    if (k >= window.length || window[k] === HOLE) return
    window[k] = HOLE
    this.#live--
    let head = this.#head
    while (head < window.length && window[head] === HOLE) head++
    this.#head = head
    const span = window.length - head
    if (head === window.length) {
      this.#window = []
      this.#base += head
      this.#head = 0
    } else if (span > 1024 && span > 2 * this.#live) {
      // Memory stays bounded by the live items: the few still unsettled move to a Map.
      this.#stragglers ??= new Map()
      const stragglers = this.#stragglers
      for (let j = head; j < window.length; j++) {
        const item = window[j]
        if (item !== HOLE) stragglers.set(this.#base + j, item as T)
      }
      this.#base += window.length
      this.#window = []
      this.#head = 0
      this.#live = 0
    } else if (head > 1024 && head * 2 > window.length) {
      this.#window = window.slice(head)
      this.#base += head
      this.#head = 0
    }
  }
}

/** A settled item's place in `LiveItems`. */
const HOLE: unique symbol = Symbol('settled')
