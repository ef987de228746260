import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { mergeProfiles, type PerformanceMetricsJSON, startProfile } from '../src/index.js'

const esmBuild = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))

/** A stopped profile's JSON with the given query durations, as if measured on `host`/`pid`. */
function measured(queries: number[], host = hostname(), pid = process.pid): PerformanceMetricsJSON {
  const p = startProfile({ channels: false, gc: false, eventLoop: false, sampleIntervalMs: 0 })
  for (const q of queries) p.recordDbQuery(q)
  p.recordCacheHit()
  p.stop()
  const json = JSON.parse(JSON.stringify(p)) as PerformanceMetricsJSON
  return { ...json, resource: { ...json.resource, host, pid } }
}

function exactPercentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!
}

describe('toJSON() v2', () => {
  it('carries the resource and the query histogram s sparse buckets', () => {
    const json = measured([0.01, 0.02, 0.02])
    expect(json.version).toBe(2)
    expect(json.resource).toEqual({
      host: hostname(),
      pid: process.pid,
      threadId: 0,
      packageVersion: pkg.version,
    })
    expect(json.dbQueries.histogram.count).toBe(3)
    expect(json.dbQueries.histogram.buckets.map(([, n]) => n)).toEqual([1, 2])
  })
})

describe('mergeProfiles()', () => {
  it('gives the true p99 of two hosts, where averaging their p99s does not', () => {
    const fast = Array.from({ length: 990 }, (_, i) => 0.005 + (i % 10) * 0.001)
    const slow = Array.from({ length: 20 }, (_, i) => 0.5 + i * 0.01)
    const a = measured(fast, 'host-a', 1)
    const b = measured(slow, 'host-b', 2)
    const m = mergeProfiles([a, b])
    const all = [...fast, ...slow]
    const truth = exactPercentile(all, 0.99)
    expect(truth).toBeGreaterThan(0.5)
    expect(m.dbQueries.p99).toBeGreaterThanOrEqual(truth)
    expect(m.dbQueries.p99).toBeLessThanOrEqual(truth * (1 + 1 / 32))
    expect((a.dbQueries.p99 + b.dbQueries.p99) / 2).toBeLessThan(truth * 0.6)
    expect(m.dbQueryCount).toBe(1010)
    expect(m.dbQueries.max).toBe(0.69)
    expect(m.dbQueries.min).toBe(0.005)
    expect(m.dbQueries.sum).toBeCloseTo(
      all.reduce((x, y) => x + y, 0),
      9,
    )
    expect(m.cacheHits).toBe(2)
    expect(m.processes).toBe(2)
    expect(m.profiles).toBe(2)
    expect(m.resources.map((r) => r.host)).toEqual(['host-a', 'host-b'])
    expect(m.cpuSeconds).toBeCloseTo(a.cpuSeconds + b.cpuSeconds, 12)
  })

  it('keeps counts and sums exact and quantiles within 1/32 for any split', () => {
    const durations = fc.array(fc.double({ min: 1e-6, max: 100, noNaN: true }), {
      minLength: 1,
      maxLength: 60,
    })
    fc.assert(
      fc.property(fc.array(durations, { minLength: 1, maxLength: 4 }), (parts) => {
        const m = mergeProfiles(parts.map((part, i) => measured(part, `h${i}`, i)))
        const all = parts.flat()
        expect(m.dbQueryCount).toBe(all.length)
        expect(m.dbQueries.max).toBe(Math.max(...all))
        expect(m.dbQueries.min).toBe(Math.min(...all))
        expect(m.dbQueries.sum).toBeCloseTo(
          all.reduce((x, y) => x + y, 0),
          6,
        )
        for (const q of [0.5, 0.95, 0.99]) {
          const truth = exactPercentile(all, q)
          const key = q === 0.5 ? 'p50' : q === 0.95 ? 'p95' : 'p99'
          expect(m.dbQueries[key]).toBeGreaterThanOrEqual(truth)
          expect(m.dbQueries[key]).toBeLessThanOrEqual(truth * (1 + 1 / 32))
        }
      }),
      { numRuns: 50 },
    )
  })

  it('merges a worker thread s profile into the main one without counting process CPU and RSS twice', async () => {
    const main = startProfile({ name: 'main' })
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads')
       import(workerData).then(({ startProfile }) => {
         const p = startProfile({ name: 'worker' })
         p.recordDbQuery(0.25)
         let x = 0
         for (let i = 0; i < 2e7; i++) x += i
         p.stop()
         parentPort.postMessage(JSON.parse(JSON.stringify(p)))
       })`,
      { eval: true, workerData: esmBuild },
    )
    const fromWorker = (await new Promise((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })) as PerformanceMetricsJSON
    await worker.terminate()
    main.recordDbQuery(0.05)
    main.stop()
    const own = main.toJSON()
    expect(fromWorker.resource.threadId).toBeGreaterThan(0)
    expect(fromWorker.resource.pid).toBe(process.pid)
    const m = mergeProfiles([main, fromWorker])
    expect(m.processes).toBe(1)
    expect(m.dbQueryCount).toBe(2)
    // the worker's window lies inside the main one: its process CPU is part of the main figure
    expect(m.cpuSeconds).toBe(Math.max(own.cpuSeconds, fromWorker.cpuSeconds))
    expect(m.memoryPeak).toBe(Math.max(own.memoryPeak, fromWorker.memoryPeak))
    expect(m.gc.count).toBe(own.gc.count + fromWorker.gc.count)
  })

  it('adds up the CPU of disjoint windows of one process', () => {
    const a = measured([0.01])
    const b = { ...measured([0.02]), startTime: a.endTime + 1, endTime: a.endTime + 2 }
    expect(mergeProfiles([b, a]).cpuSeconds).toBeCloseTo(a.cpuSeconds + b.cpuSeconds, 12)
  })

  it('rejects an empty list, a non-array and a v1 JSON with INVALID_ARGUMENT naming it', () => {
    expect(() => mergeProfiles([])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => mergeProfiles('x' as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
    const v1 = { ...measured([]), version: 1 } as never
    expect(() => mergeProfiles([measured([]), v1])).toThrow(
      'profiles[1].version must be 2 (toJSON() of this package version), got 1',
    )
    const broken = measured([0.1])
    broken.dbQueries.histogram.count = 5
    expect(() => mergeProfiles([broken])).toThrow(/add up to 1, not count 5/)
  })
})
