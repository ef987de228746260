import { closeSync, openSync } from 'node:fs'
import { totalmem } from 'node:os'
import { describe, expect, it } from 'vitest'
import { getSystemMetrics } from '../src/index.js'

const linux = process.platform === 'linux'

describe('getSystemMetrics()', () => {
  it('returns every field of the original, with numbers where the platform can say', () => {
    const m = getSystemMetrics()
    expect(Object.keys(m).sort()).toEqual(
      [
        'arrayBuffers',
        'cpuPercent',
        'external',
        'heapLimit',
        'heapTotal',
        'heapUsed',
        'memoryPercent',
        'memoryRss',
        'memoryVms',
        'numFds',
        'numThreads',
        'heapLimit',
      ]
        .filter((k, i, a) => a.indexOf(k) === i)
        .sort(),
    )
    const rss = process.memoryUsage().rss
    expect(Math.abs(m.memoryRss - rss)).toBeLessThan(32 * 1024 ** 2)
    expect(m.memoryPercent).toBeCloseTo((m.memoryRss / totalmem()) * 100, 6)
    expect(m.heapUsed).toBeGreaterThan(0)
    expect(m.heapLimit).toBeGreaterThan(m.heapTotal)
    if (linux) {
      expect(m.memoryVms).toBeGreaterThan(m.memoryRss)
      expect(m.numThreads).toBeGreaterThanOrEqual(5) // main + libuv pool + V8 platform
      expect(m.numFds).toBeGreaterThanOrEqual(3)
    }
  })

  it('counts file descriptors as they are opened', () => {
    const before = getSystemMetrics().numFds
    const fds = [openSync(__filename, 'r'), openSync(__filename, 'r'), openSync(__filename, 'r')]
    const during = getSystemMetrics().numFds
    for (const fd of fds) closeSync(fd)
    if (before === null) expect(during).toBeNull()
    else expect(during).toBe(before + 3)
  })

  it('measures CPU since the previous call', () => {
    const cpuBefore = process.cpuUsage()
    const wallBefore = performance.now()
    getSystemMetrics()
    const until = performance.now() + 80
    while (performance.now() < until) {}
    const busy = getSystemMetrics().cpuPercent
    const cpu = process.cpuUsage(cpuBefore)
    const outer = ((cpu.user + cpu.system) / 1000 / (performance.now() - wallBefore)) * 100
    // a busy loop: close to what process.cpuUsage() saw around it (the machine may be busy)
    expect(busy).toBeGreaterThan(0)
    expect(Math.abs(busy - outer)).toBeLessThan(15)
  })
})
