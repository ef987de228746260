import { describe, expect, it } from 'vitest'
import { CircuitBreaker, circuitBreakerDefaults } from '../src/index.js'
import { sleep } from './helpers.js'

describe('CircuitBreaker', () => {
  it('opens after failureThreshold consecutive failures (default 5); a success resets the count', () => {
    const breaker = new CircuitBreaker()
    for (let i = 0; i < circuitBreakerDefaults.failureThreshold - 1; i++) breaker.failure()
    breaker.success()
    for (let i = 0; i < circuitBreakerDefaults.failureThreshold - 1; i++) breaker.failure()
    expect(breaker.state).toBe('closed')
    expect(breaker.allow()).toBe(true)
    breaker.failure()
    expect(breaker.state).toBe('open')
    expect(breaker.allow()).toBe(false)
  })

  it('lets one probe through after the cooldown, doubles it after a failed probe, closes on success', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 40, maxCooldownMs: 1000 })
    breaker.failure()
    expect(breaker.allow()).toBe(false)
    await sleep(60)
    expect(breaker.allow()).toBe(true) // the probe
    expect(breaker.state).toBe('half-open')
    expect(breaker.allow()).toBe(false) // only one
    breaker.failure()
    expect(breaker.state).toBe('open')
    await sleep(60) // past the first cooldown, not the doubled one (80 ms)
    expect(breaker.allow()).toBe(false)
    await sleep(60)
    expect(breaker.allow()).toBe(true)
    breaker.success()
    expect(breaker.state).toBe('closed')
    expect(breaker.allow()).toBe(true)
  })

  it('validates its options with INVALID_OPTION, naming the option and the value', () => {
    for (const [options, message] of [
      [{ failureThreshold: 0 }, 'options.failureThreshold must be a positive integer, got 0'],
      [{ cooldownMs: -1 }, 'options.cooldownMs must be a positive integer, got -1'],
      [{ maxCooldownMs: 1.5 }, 'options.maxCooldownMs must be a positive integer, got 1.5'],
    ] as const) {
      expect(() => new CircuitBreaker(options)).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION', name: 'CacheError', message }),
      )
    }
  })
})
