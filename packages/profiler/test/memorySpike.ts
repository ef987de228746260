import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

setFlagsFromString('--expose-gc')
/** V8's gc(), exposed for the tests. */
export const gc = runInNewContext('gc') as () => void
export const MiB = 1024 ** 2

/**
 * Touches `size` bytes of fresh memory, lets it go and collects it, then waits (bounded) until
 * the RSS shows it returned: V8 frees large backing stores on a background thread, which a busy
 * machine can delay. Returns the RSS while the memory lived.
 */
export async function spike(size: number): Promise<number> {
  let block: Buffer | null = Buffer.allocUnsafeSlow(size)
  block.fill(7)
  const during = process.memoryUsage().rss
  block = null
  gc()
  const deadline = performance.now() + 10_000
  while (process.memoryUsage().rss > during - size / 2) {
    if (performance.now() > deadline)
      throw new Error(`the ${size / MiB} MiB spike was not returned within 10 s`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return during
}

/**
 * Builds `rows` small objects on the heap without an await, lets them go and collects them.
 * Returns the heap used while they lived.
 */
export function heapSpike(rows: number): number {
  let list: { id: number; text: string }[] | null = []
  for (let i = 0; i < rows; i++) list.push({ id: i, text: `row ${i}` })
  const during = process.memoryUsage().heapUsed
  list = null
  gc()
  return during
}
