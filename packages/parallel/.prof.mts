import { ParallelTaskExecutor } from './src/index.js'

const n = 100_000
const items = Array.from({ length: n }, (_, i) => i)
const work = async (i: number) => i + 1
async function minimal(c: number) {
  const out = new Array(n)
  let next = 0
  const lane = async () => {
    while (next < n) {
      const k = next++
      out[k] = await work(items[k] as number)
    }
  }
  await Promise.all(Array.from({ length: c }, lane))
  return out
}
async function minimalTimed(c: number) {
  const out = new Array(n)
  let next = 0
  const d = new Float64Array(n)
  const lane = async () => {
    while (next < n) {
      const k = next++
      const s = performance.now()
      out[k] = await work(items[k] as number)
      d[k] = performance.now() - s
    }
  }
  await Promise.all(Array.from({ length: c }, lane))
  return out
}
const ex = new ParallelTaskExecutor({ maxWorkers: 16 })
for (let r = 0; r < 3; r++) {
  let t = performance.now()
  await minimal(16)
  const a = performance.now() - t
  t = performance.now()
  await minimalTimed(16)
  const b = performance.now() - t
  t = performance.now()
  await ex.parallelMap(work, items)
  const c = performance.now() - t
  console.log({ minimal: a.toFixed(1), timed: b.toFixed(1), ours: c.toFixed(1) })
}
await ex.close()
