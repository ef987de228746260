import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { gcProfilerCounts, HeapPeakMonitor } from '../src/heapPeakMonitor.js'
import { startProfile } from '../src/index.js'
import { gc, heapSpike, MiB } from './memorySpike.js'

// Node's GCProfiler.stop() leaves the profiler's GC callbacks in place until V8 collects its
// object (a full collection, once it lived through two scavenges): every GC profiler started is
// one that may linger after it stops. These tests pin how many the profiler starts.

/** Runs full collections until every stopped GC profiler's object has been reclaimed. */
async function reclaimAll(): Promise<void> {
  for (let i = 0; i < 50 && gcProfilerCounts().lingering > 0; i++) {
    gc()
    // FinalizationRegistry callbacks run from the event loop after the collection.
    await sleep(5)
  }
  expect(gcProfilerCounts().lingering).toBe(0)
}

/** Waits (at most 10 s) until `n` GC profilers were started after `from` of them. */
async function restartsReach(from: number, n: number): Promise<void> {
  for (let i = 0; i < 1000 && gcProfilerCounts().started - from < n; i++) await sleep(10)
}

describe("the GC profiler behind heapPeak: 'gc'", () => {
  it('is started once per profile, however often a running profile is read', () => {
    const before = gcProfilerCounts().started
    const p = startProfile({ sampleIntervalMs: 0, heapPeak: 'gc' })
    for (let i = 0; i < 25; i++) {
      p.getMetrics()
      p.toJSON()
    }
    p.stop()
    p.toJSON()
    expect(gcProfilerCounts().started - before).toBe(1)
  })

  it('counts a stopped profiler as lingering until a full collection reclaims it', async () => {
    await reclaimAll()
    const p = startProfile({ sampleIntervalMs: 0, heapPeak: 'gc' })
    p.stop()
    expect(gcProfilerCounts().lingering).toBe(1)
    await reclaimAll()
  })

  it('still gives every collection of the window at stop, after live reads', () => {
    const p = startProfile({ sampleIntervalMs: 0, heapPeak: 'gc' })
    const live = p.getMetrics()
    const during = heapSpike(2_000_000)
    const m = p.stop()
    expect(during).toBeGreaterThan(m.heapStart + 80 * MiB)
    expect(m.heapEnd).toBeLessThan(during - 80 * MiB)
    expect(m.heapPeakSource).toBe('gc')
    expect(m.heapPeak).toBeGreaterThanOrEqual(during)
    // The forced collections are in the final figures, not in the live read before them.
    expect(m.gc.byKind.major.count).toBeGreaterThan(live.gc.byKind.major.count)
  })

  it('restarts on its interval while no stopped one lingers, and waits while one does', async () => {
    await reclaimAll()
    const free = new HeapPeakMonitor(0, true, { rollMs: 10 })
    const before = gcProfilerCounts().started
    await restartsReach(before, 1)
    // The first restart leaves a lingering profiler: the ticks after it wait for its reclaim.
    await sleep(60)
    expect(gcProfilerCounts().started - before).toBe(1)
    gc()
    const peak = free.stop(0)
    expect(peak).toBeGreaterThan(0)
    expect(free.gcPauses().byKind.major.count).toBeGreaterThanOrEqual(1)

    // Beyond forceRollMs, a restart does not wait.
    const forced = new HeapPeakMonitor(0, true, { rollMs: 10, forceRollMs: 0 })
    const from = gcProfilerCounts().started
    await restartsReach(from, 3)
    expect(gcProfilerCounts().started - from).toBeGreaterThanOrEqual(3)
    forced.stop(0)
    await reclaimAll()
  })
})
