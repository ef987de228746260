import { describe, expect, it } from 'vitest'
import { SerialRunner } from '../src/serialRunner.js'

describe('SerialRunner', () => {
  it('never runs the job twice at once, and runs it once more for requests made during a run', async () => {
    let running = 0
    let most = 0
    let runs = 0
    const gates: (() => void)[] = []
    const runner = new SerialRunner(async () => {
      runs++
      running++
      most = Math.max(most, running)
      await new Promise<void>((resolve) => gates.push(resolve))
      running--
    })
    runner.request()
    runner.request()
    runner.request()
    expect(runs).toBe(1)
    gates.shift()!()
    await new Promise((resolve) => setImmediate(resolve))
    // the three requests during the first run made one more run, not three
    expect(runs).toBe(2)
    gates.shift()!()
    await new Promise((resolve) => setImmediate(resolve))
    expect(runs).toBe(2)
    expect(most).toBe(1)
    runner.request()
    expect(runs).toBe(3)
    gates.shift()!()
  })
})
