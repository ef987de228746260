import { availableParallelism } from 'node:os'

/**
 * Shortest window whose CPU share a profile reports, seconds: the kernel accounts CPU time in
 * scheduler ticks (up to 10 ms), so below ~10 ticks the ratio is mostly rounding. @internal
 */
export const MIN_CPU_WINDOW_SECONDS = 0.1

/**
 * Process CPU time over wall time, percent, within 0..100 × the cores Node may use: over a short
 * window the raw ratio can land far outside what the cores could do. 0 for an empty window.
 * @internal
 */
export function cpuPercent(cpuSeconds: number, wallSeconds: number): number {
  if (!(wallSeconds > 0) || !(cpuSeconds > 0)) return 0
  return Math.min((cpuSeconds / wallSeconds) * 100, 100 * cores())
}

/** Like {@link cpuPercent}, but null for a window shorter than MIN_CPU_WINDOW_SECONDS. @internal */
export function windowCpuPercent(cpuSeconds: number, wallSeconds: number): number | null {
  return wallSeconds < MIN_CPU_WINDOW_SECONDS ? null : cpuPercent(cpuSeconds, wallSeconds)
}

let cached: number | undefined
function cores(): number {
  cached ??= Math.max(1, availableParallelism())
  return cached
}
