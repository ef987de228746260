import { availableParallelism } from 'node:os'

/**
 * Process CPU time over wall time, percent, within 0..100 × the cores Node may use: the kernel
 * accounts CPU time in scheduler ticks, so over a short window the raw ratio can land far outside
 * what the cores could do. 0 for an empty window. @internal
 */
export function cpuPercent(cpuSeconds: number, wallSeconds: number): number {
  if (!(wallSeconds > 0) || !(cpuSeconds > 0)) return 0
  return Math.min((cpuSeconds / wallSeconds) * 100, 100 * cores())
}

let cached: number | undefined
function cores(): number {
  cached ??= Math.max(1, availableParallelism())
  return cached
}
