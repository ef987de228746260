import { setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { performanceProfile, startProfile } from '../src/index.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function block(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {}
}

describe('event loop', () => {
  it('reports delay with the timer resolution subtracted', async () => {
    const p = startProfile({ eventLoopResolutionMs: 10 })
    await sleep(30)
    block(120)
    await sleep(30)
    const { eventLoopDelay: d, eventLoopUtilization } = p.stop()
    expect(d.resolution).toBe(0.01)
    expect(d.count).toBeGreaterThan(0)
    // one 120 ms block shows as ~110 ms of delay once the 10 ms resolution is subtracted
    // (a lower bound only: a loaded machine can only make the delay longer)
    expect(d.max).toBeGreaterThan(0.09)
    expect(d.min).toBeLessThanOrEqual(d.p50)
    expect(d.p50).toBeLessThanOrEqual(d.max)
    expect(eventLoopUtilization).toBeGreaterThan(0)
    expect(eventLoopUtilization).toBeLessThanOrEqual(1)
  })

  it('freezes the delay at stop: later reads give the same figures, each in its own object', async () => {
    const p = startProfile({ eventLoopResolutionMs: 10 })
    await sleep(30)
    block(40)
    await sleep(30)
    const atStop = p.stop().eventLoopDelay
    block(60)
    await sleep(30)
    const later = p.getMetrics().eventLoopDelay
    expect(later).toEqual(atStop)
    expect(later).not.toBe(atStop)
    later.max = -1
    expect(p.toJSON().eventLoopDelay).toEqual(atStop)
  })

  it('reports a mostly idle loop as such', async () => {
    const p = startProfile()
    await sleep(100)
    const m = p.stop()
    expect(m.eventLoopUtilization).toBeLessThan(0.5)
    expect(m.eventLoopDelay.p50).toBeLessThanOrEqual(m.eventLoopDelay.max)
  })

  it('reports zeros when the monitor is off', () => {
    const p = startProfile({ eventLoop: false })
    block(30)
    expect(p.stop().eventLoopDelay).toEqual({
      count: 0,
      min: 0,
      mean: 0,
      p50: 0,
      p99: 0,
      max: 0,
      resolution: 0.01,
    })
  })
})

describe('GC pauses', () => {
  it('counts every pause per kind, including forced major GCs', async () => {
    const p = startProfile()
    for (let i = 0; i < 5; i++) gc()
    let keep: unknown[] = []
    for (let i = 0; i < 200_000; i++) keep.push({ i, s: `x${i}` })
    keep = []
    await sleep(20) // let the observer deliver its batches
    const m = p.stop()
    expect(m.gc.byKind.major.count).toBeGreaterThanOrEqual(5)
    expect(m.gc.count).toBe(
      m.gc.byKind.major.count +
        m.gc.byKind.minor.count +
        m.gc.byKind.incremental.count +
        m.gc.byKind.weakcb.count,
    )
    expect(m.gc.total).toBeGreaterThan(0)
    expect(m.gc.max).toBeGreaterThan(0)
    expect(m.gc.max).toBeLessThanOrEqual(m.gc.total)
    expect(keep).toHaveLength(0)
  })

  it("counts the pauses of synchronous work right before a synchronous stop() with heapPeak: 'gc'", () => {
    // V8's GC profiler records each collection as it happens: nothing waits for an immediate.
    const p = startProfile({ heapPeak: 'gc' })
    for (let i = 0; i < 3; i++) gc()
    const m = p.stop()
    expect(m.heapPeakSource).toBe('gc')
    expect(m.gc.byKind.major.count).toBeGreaterThanOrEqual(3)
    const off = startProfile({ heapPeak: 'gc', gc: false })
    gc()
    const n = off.stop()
    expect(n.heapPeakSource).toBe('gc')
    expect(n.gc.count).toBe(0)
  })

  it('performanceProfile() counts the GCs of fn s last synchronous stretch', async () => {
    // Node delivers GC entries from an immediate: without waiting for it, pauses that happen in
    // fn's code after its last await would be lost.
    const prof = await performanceProfile(() => {
      for (let i = 0; i < 3; i++) gc()
    })
    expect(prof.getMetrics().gc.byKind.major.count).toBeGreaterThanOrEqual(3)
    const off = await performanceProfile(() => gc(), { gc: false })
    expect(off.getMetrics().gc.count).toBe(0)
  })

  it('stops observing at stop()', async () => {
    const p = startProfile()
    await sleep(1)
    const before = p.stop().gc.count
    for (let i = 0; i < 3; i++) gc()
    await sleep(20)
    expect(p.getMetrics().gc.count).toBe(before)
  })

  it('observes nothing with gc: false', async () => {
    const p = startProfile({ gc: false })
    gc()
    await sleep(10)
    expect(p.stop().gc.count).toBe(0)
  })
})
