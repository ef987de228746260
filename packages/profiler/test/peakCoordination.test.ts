import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import * as source from '../src/index.js'
import { gc, heapSpike, MiB, spike } from './memorySpike.js'

const esmBuild = fileURLToPath(new URL('../dist/index.js', import.meta.url))
const cjsBuild = fileURLToPath(new URL('../dist/index.cjs', import.meta.url))
const kernelMark = (() => {
  if (process.platform !== 'linux') return false
  try {
    readFileSync('/proc/self/clear_refs')
  } catch (error) {
    // clear_refs is write-only: EACCES/EINVAL on read means it exists
    return (error as NodeJS.ErrnoException).code !== 'ENOENT'
  }
  return true
})()

type Api = typeof source

/** Runs `body` (the text of an async function of `api` and `signal`) in a worker thread. */
function inWorker(body: string): {
  worker: Worker
  messages: unknown[]
  next: () => Promise<unknown>
} {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads')
    const signal = (m) => parentPort.postMessage(m)
    const wait = () => new Promise((r) => parentPort.once('message', r))
    import(workerData.url).then((api) => (async (api, signal, wait) => { ${body} })(api, signal, wait))
      .catch((e) => signal({ error: String(e && e.stack) }))`
  const worker = new Worker(code, { eval: true, workerData: { url: pathToFileURL(esmBuild).href } })
  const messages: unknown[] = []
  const waiting: ((m: unknown) => void)[] = []
  worker.on('message', (m) => {
    const w = waiting.shift()
    if (w) w(m)
    else messages.push(m)
  })
  const next = () =>
    messages.length > 0
      ? Promise.resolve(messages.shift())
      : new Promise<unknown>((resolve) => waiting.push(resolve))
  return { worker, messages, next }
}

describe('memory peaks that hold across threads and package copies', () => {
  it.runIf(kernelMark)(
    'keeps the main thread s peak when a worker thread profile resets the kernel mark',
    async () => {
      const p = source.startProfile({ sampleIntervalMs: 0 })
      const during = await spike(200 * MiB)
      const w = inWorker(`
      const q = api.startProfile({ sampleIntervalMs: 0 })
      signal(q.stop().memoryPeakSource)`)
      expect(await w.next()).toBe('vmhwm')
      await w.worker.terminate()
      const m = p.stop()
      expect(m.memoryPeakSource).toBe('vmhwm')
      expect(m.memoryPeak).toBeGreaterThanOrEqual(during)
      expect(m.memoryPeakHandovers).toBeGreaterThanOrEqual(1)
    },
  )

  it.runIf(kernelMark)(
    'keeps a worker thread s peak when the main thread resets the kernel mark',
    async () => {
      const w = inWorker(`
      const q = api.startProfile({ sampleIntervalMs: 0 })
      signal('started')
      await wait()
      const m = q.stop()
      signal({ peak: m.memoryPeak, source: m.memoryPeakSource, handovers: m.memoryPeakHandovers })`)
      expect(await w.next()).toBe('started')
      const during = await spike(200 * MiB)
      source.startProfile({ sampleIntervalMs: 0 }).stop()
      w.worker.postMessage('stop')
      const m = (await w.next()) as { peak: number; source: string; handovers: number }
      await w.worker.terminate()
      expect(m.source).toBe('vmhwm')
      expect(m.peak).toBeGreaterThanOrEqual(during)
      expect(m.handovers).toBeGreaterThanOrEqual(1)
    },
  )

  it.runIf(kernelMark)(
    'keeps the peak when the ESM and CJS builds are loaded together',
    async () => {
      const esm = (await import(pathToFileURL(esmBuild).href)) as Api
      const cjs = createRequire(import.meta.url)(cjsBuild) as Api
      expect(esm.startProfile).not.toBe(cjs.startProfile)
      for (const [first, second] of [
        [esm, cjs],
        [cjs, esm],
        [source, cjs],
      ] as const) {
        const p = first.startProfile({ sampleIntervalMs: 0 })
        const during = await spike(150 * MiB)
        const q = second.startProfile({ sampleIntervalMs: 0 })
        const mq = q.stop()
        const m = p.stop()
        expect(m.memoryPeakSource).toBe('vmhwm')
        expect(m.memoryPeak).toBeGreaterThanOrEqual(during)
        // The later profile's window starts after the spike: its own peak stays low.
        expect(mq.memoryPeak).toBeLessThan(during - 100 * MiB)
      }
    },
  )

  it('without the kernel mark, a peak still never falls below what the sampler saw', () => {
    const p = source.startProfile({ sampleIntervalMs: 0 })
    p.updateMemoryPeak()
    const m = p.stop()
    expect(m.memoryPeak).toBeGreaterThanOrEqual(Math.max(m.memoryStart, m.memoryEnd))
    expect(['vmhwm', 'maxrss', 'sampler']).toContain(m.memoryPeakSource)
  })
})

describe('heap peak', () => {
  it("reads the heap peak from samples by default, from the GC profiler with heapPeak: 'gc', and says so", () => {
    for (const options of [{ heapPeak: 'gc' as const }, { heapPeak: 'gc' as const, gc: false }]) {
      const m = source.startProfile(options).stop()
      expect(m.heapPeakSource).toBe('gc')
      expect(m.heapPeak).toBeGreaterThanOrEqual(Math.max(m.heapStart, m.heapEnd))
    }
    for (const options of [
      {},
      { gc: false },
      { heapPeak: 'sampler' as const },
      { heapPeak: 'sampler' as const, gc: false },
    ]) {
      const m = source.startProfile(options).stop()
      expect(m.heapPeakSource).toBe('sampler')
      expect(m.heapPeak).toBeGreaterThanOrEqual(Math.max(m.heapStart, m.heapEnd))
    }
  })

  it("sees a synchronous spike built and freed without an await, with heapPeak: 'gc'", () => {
    const p = source.startProfile({ heapPeak: 'gc' })
    const during = heapSpike(2_500_000)
    const m = p.stop()
    expect(during).toBeGreaterThan(m.heapStart + 100 * MiB)
    expect(m.heapEnd).toBeLessThan(during - 100 * MiB)
    expect(m.heapPeakSource).toBe('gc')
    expect(m.heapPeak).toBeGreaterThanOrEqual(during)
  })

  it('the sampler sees a spike held across one of its ticks', async () => {
    const p = source.startProfile({ sampleIntervalMs: 5, heapPeak: 'sampler' })
    let rows: { id: number; text: string }[] | null = []
    for (let i = 0; i < 1_000_000; i++) rows.push({ id: i, text: `row ${i}` })
    const during = process.memoryUsage().heapUsed
    await new Promise((resolve) => setTimeout(resolve, 40))
    rows = null
    gc()
    const m = p.stop()
    expect(m.heapPeakSource).toBe('sampler')
    // The rows (~60 MiB) lived through at least one tick; neither end of the window saw them.
    expect(during).toBeGreaterThan(m.heapStart + 45 * MiB)
    expect(m.heapEnd).toBeLessThan(m.heapStart + 20 * MiB)
    expect(m.heapPeak).toBeGreaterThan(m.heapStart + 40 * MiB)
  })
})
