import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { startProfile } from '../src/index.js'
import { MemoryPeakTracker } from '../src/memoryPeakTracker.js'
import { gc, MiB, spike } from './memorySpike.js'

const linux = process.platform === 'linux'
const canResetHwm = (() => {
  try {
    readFileSync('/proc/self/clear_refs')
  } catch (error) {
    // clear_refs is write-only: EACCES/EINVAL on read means it exists
    return (error as NodeJS.ErrnoException).code !== 'ENOENT'
  }
  return true
})()

describe('memory peak', () => {
  it('catches a 200 MB spike between two samples', async () => {
    const p = startProfile({ sampleIntervalMs: 0 })
    const before = p.updateMemoryPeak()
    await spike(200 * MiB)
    const rssAfter = process.memoryUsage().rss
    p.updateMemoryPeak()
    const m = p.stop()
    // The spike is gone from the RSS, yet the peak holds it.
    expect(rssAfter).toBeLessThan(m.memoryStart + 100 * MiB)
    expect(m.memoryPeak).toBeGreaterThanOrEqual(m.memoryStart + 190 * MiB)
    expect(m.memoryPeak).toBeGreaterThanOrEqual(before)
    if (linux && canResetHwm) expect(m.memoryPeakSource).toBe('vmhwm')
    else expect(['maxrss', 'vmhwm']).toContain(m.memoryPeakSource)
  })

  it('does not report a spike from before the profile started', async () => {
    await spike(200 * MiB)
    const p = startProfile({ sampleIntervalMs: 0 })
    const m = p.stop()
    if (linux && canResetHwm) {
      expect(m.memoryPeakSource).toBe('vmhwm')
      expect(m.memoryPeak).toBeLessThan(m.memoryStart + 100 * MiB)
    } else {
      expect(m.memoryPeakSource).toBe('sampler')
    }
  })

  it('keeps an earlier profile s spike when a later profile resets the high-water mark', async () => {
    const a = startProfile({ sampleIntervalMs: 0 })
    await spike(200 * MiB)
    const b = startProfile({ sampleIntervalMs: 0 })
    const mb = b.stop()
    const ma = a.stop()
    expect(ma.memoryPeak).toBeGreaterThanOrEqual(ma.memoryStart + 190 * MiB)
    if (linux && canResetHwm) expect(mb.memoryPeak).toBeLessThan(mb.memoryStart + 100 * MiB)
  })

  it('without the kernel mark, the sampler still sees memory held across a tick', async () => {
    // The sampler's own figure, apart from VmHWM / maxRSS (which would see the block anyway).
    const tracker = new MemoryPeakTracker(5)
    let block: Buffer | null = Buffer.allocUnsafeSlow(100 * MiB)
    block.fill(1)
    await new Promise((resolve) => setTimeout(resolve, 40))
    block = null
    gc()
    tracker.stop()
    expect(tracker.sampledPeak).toBeGreaterThanOrEqual(tracker.start + 90 * MiB)
    expect(tracker.heapPeak).toBeGreaterThan(0)
  })

  it('the sampler alone misses a spike between two samples, which is why the kernel mark is used', async () => {
    const tracker = new MemoryPeakTracker(0)
    await spike(200 * MiB)
    tracker.stop()
    expect(tracker.sampledPeak).toBeLessThan(tracker.start + 100 * MiB)
  })
})
