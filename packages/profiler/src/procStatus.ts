import { closeSync, openSync, readdirSync, readSync, writeSync } from 'node:fs'

/** The fields of /proc/self/status the profiler uses, in bytes or counts. */
export interface ProcStatus {
  vmHwm: number | null
  vmRss: number | null
  vmSize: number | null
  threads: number | null
}

const isLinux = process.platform === 'linux'
let clearRefsWorks: boolean | undefined
let buffer: Buffer | undefined

/** Reads /proc/self/status; null where there is no procfs or it cannot be read. */
export function readProcStatus(): ProcStatus | null {
  if (!isLinux) return null
  let text: string
  try {
    text = readSmallFile('/proc/self/status')
  } catch {
    return null
  }
  return {
    vmHwm: kib(text, 'VmHWM:'),
    vmRss: kib(text, 'VmRSS:'),
    vmSize: kib(text, 'VmSize:'),
    threads: field(text, 'Threads:'),
  }
}

/** The kernel's resident-set high-water mark in bytes, or null where there is none. */
export function readVmHwm(): number | null {
  return readProcStatus()?.vmHwm ?? null
}

/**
 * Resets the kernel's high-water mark to the current RSS (writes "5" to /proc/self/clear_refs).
 * Returns false, and stops trying, where this is not permitted or not Linux.
 */
export function resetVmHwm(): boolean {
  if (!isLinux || clearRefsWorks === false) return false
  try {
    const fd = openSync('/proc/self/clear_refs', 'w')
    try {
      writeSync(fd, '5')
    } finally {
      closeSync(fd)
    }
    clearRefsWorks = true
  } catch {
    clearRefsWorks = false
  }
  return clearRefsWorks
}

/** Number of open file descriptors, or null where it cannot be counted. */
export function countOpenFds(): number | null {
  for (const dir of ['/proc/self/fd', '/dev/fd']) {
    try {
      // readdirSync opens the directory itself, which shows up as one entry.
      return Math.max(0, readdirSync(dir).length - 1)
    } catch {}
  }
  return null
}

function field(text: string, name: string): number | null {
  const at = text.indexOf(name)
  if (at === -1) return null
  const value = Number.parseInt(text.slice(at + name.length, text.indexOf('\n', at)).trim(), 10)
  return Number.isFinite(value) ? value : null
}

function kib(text: string, name: string): number | null {
  const value = field(text, name)
  return value === null ? null : value * 1024
}

// open/read/close into one reused buffer: a profile's start and stop read /proc/self/status, and
// the first readFileSync() of a process compiles far more of node:fs than these three calls do.
function readSmallFile(path: string): string {
  buffer ??= Buffer.allocUnsafe(8192)
  const fd = openSync(path, 'r')
  try {
    let length = 0
    for (;;) {
      if (length === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2)
        buffer.copy(bigger)
        buffer = bigger
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null)
      if (n === 0) break
      length += n
    }
    return buffer.toString('latin1', 0, length)
  } finally {
    closeSync(fd)
  }
}
