import { assertPositiveInteger, stripUndefined } from './validate.js'

/** Options of the circuit breaker that protects a dead or slow server from being hammered. */
export interface CircuitBreakerOptions {
  /**
   * Consecutive failures that open the circuit.
   * @default 5
   */
  failureThreshold?: number
  /**
   * How long the circuit stays open before one probe call is let through, in milliseconds.
   * Doubles after each failed probe, up to `maxCooldownMs`.
   * @default 500
   */
  cooldownMs?: number
  /**
   * Upper bound of the cooldown, in milliseconds.
   * @default 5000
   */
  maxCooldownMs?: number
}

/** Defaults of `CircuitBreakerOptions`. */
export const circuitBreakerDefaults = {
  failureThreshold: 5,
  cooldownMs: 500,
  maxCooldownMs: 5000,
} as const satisfies Required<CircuitBreakerOptions>

/**
 * Closed → open after `failureThreshold` consecutive failures; open → half-open after the cooldown,
 * letting one probe through; the probe's success closes it, its failure reopens it for longer.
 */
export class CircuitBreaker {
  #state: 'closed' | 'open' | 'half-open' = 'closed'
  #failures = 0
  #openUntil = 0
  #cooldown: number
  readonly #threshold: number
  readonly #baseCooldown: number
  readonly #maxCooldown: number

  /**
   * @param options thresholds; missing ones take `circuitBreakerDefaults`. Invalid ones throw
   *   `CacheError` `INVALID_OPTION`, named with `name` (`options.failureThreshold must be…`).
   */
  constructor(options: CircuitBreakerOptions = {}, name = 'options') {
    const o = { ...circuitBreakerDefaults, ...stripUndefined(options) }
    assertPositiveInteger(o.failureThreshold, `${name}.failureThreshold`)
    assertPositiveInteger(o.cooldownMs, `${name}.cooldownMs`)
    assertPositiveInteger(o.maxCooldownMs, `${name}.maxCooldownMs`)
    this.#threshold = o.failureThreshold
    this.#baseCooldown = o.cooldownMs
    this.#maxCooldown = Math.max(o.maxCooldownMs, o.cooldownMs)
    this.#cooldown = o.cooldownMs
  }

  /** `closed`: calls go through; `open`: calls are refused; `half-open`: one probe is out. */
  get state(): 'closed' | 'open' | 'half-open' {
    return this.#state
  }

  /** True when a call may go to the server now. */
  allow(): boolean {
    if (this.#state === 'closed') return true
    if (this.#state === 'open' && Date.now() >= this.#openUntil) {
      this.#state = 'half-open'
      return true
    }
    return false
  }

  /** Records a successful call: closes the circuit. */
  success(): void {
    if (this.#state !== 'closed') {
      this.#state = 'closed'
      this.#cooldown = this.#baseCooldown
    }
    this.#failures = 0
  }

  /** Records a failed call: may open (or reopen, for longer) the circuit. */
  failure(): void {
    this.#failures++
    if (this.#state === 'half-open') {
      this.#cooldown = Math.min(this.#cooldown * 2, this.#maxCooldown)
      this.#open()
    } else if (this.#state === 'closed' && this.#failures >= this.#threshold) {
      this.#open()
    }
  }

  /** Closes the circuit and forgets the failures (e.g. after a fresh connection). */
  reset(): void {
    this.#state = 'closed'
    this.#failures = 0
    this.#cooldown = this.#baseCooldown
  }

  #open(): void {
    this.#state = 'open'
    this.#openUntil = Date.now() + this.#cooldown
  }
}
