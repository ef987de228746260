import { afterEach, describe, expect, it } from 'vitest'
import { Progress, progressEnabled } from '../src/progress.js'

describe('progress bars', () => {
  const tty = process.stderr.isTTY
  const ci = process.env.CI

  afterEach(() => {
    process.stderr.isTTY = tty
    if (ci === undefined) delete process.env.CI
    else process.env.CI = ci
  })

  it('draws only on a TTY, never with --quiet or in CI', () => {
    delete process.env.CI
    process.stderr.isTTY = true
    expect(progressEnabled(false)).toBe(true)
    expect(progressEnabled(true)).toBe(false)
    process.env.CI = 'true'
    expect(progressEnabled(false)).toBe(false)
    delete process.env.CI
    process.stderr.isTTY = false
    expect(progressEnabled(false)).toBe(false)
  })

  it('hands out no-op bars when disabled', () => {
    const progress = new Progress(false)
    expect(progress.enabled).toBe(false)
    const bar = progress.bar('validating', 3)
    bar.increment()
    bar.stop()
    progress.stop()
  })
})
