import { totalmem } from 'node:os'
import { getHeapStatistics } from 'node:v8'
import { cpuPercent } from './cpuPercent.js'
import { countOpenFds, readProcStatus } from './procStatus.js'

/** A point-in-time view of the process, like the original's `get_system_metrics()`. */
export interface SystemMetrics {
  /**
   * Process CPU time (user + system) over wall time since the previous call (since process start
   * on the first call), percent, within 0..100 × the cores Node may use (above 100 with busy
   * worker threads).
   */
  cpuPercent: number
  /** Resident set size, bytes. */
  memoryRss: number
  /** Virtual memory size, bytes; null where the platform cannot say (read from /proc on Linux). */
  memoryVms: number | null
  /** RSS as a percentage of the machine's total memory. */
  memoryPercent: number
  /** OS threads of the process; null where the platform cannot say. */
  numThreads: number | null
  /** Open file descriptors; null where the platform cannot say. */
  numFds: number | null
  /** V8 heap used, bytes. */
  heapUsed: number
  /** V8 heap allocated, bytes. */
  heapTotal: number
  /** V8 heap size limit, bytes. */
  heapLimit: number
  /** Memory of C++ objects bound to JS objects, bytes. */
  external: number
  /** Memory of ArrayBuffers and SharedArrayBuffers, bytes. */
  arrayBuffers: number
}

let last: { cpu: NodeJS.CpuUsage; at: number } | undefined

/** Reads the process's system metrics now: /proc on Linux, Node's own APIs elsewhere. */
export function getSystemMetrics(): SystemMetrics {
  const now = performance.now()
  const cpu = process.cpuUsage()
  const base = last ?? { cpu: { user: 0, system: 0 }, at: 0 }
  const wallMicros = (now - base.at) * 1000
  const cpuMicros = cpu.user - base.cpu.user + (cpu.system - base.cpu.system)
  last = { cpu, at: now }
  const usage = process.memoryUsage()
  const status = readProcStatus()
  const rss = status?.vmRss ?? usage.rss
  const total = totalmem()
  return {
    cpuPercent: cpuPercent(cpuMicros / 1e6, wallMicros / 1e6),
    memoryRss: rss,
    memoryVms: status?.vmSize ?? null,
    memoryPercent: total > 0 ? (rss / total) * 100 : 0,
    numThreads: status?.threads ?? null,
    numFds: countOpenFds(),
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    heapLimit: getHeapStatistics().heap_size_limit,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
  }
}
