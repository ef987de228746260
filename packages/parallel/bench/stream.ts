// Streaming benchmark: the peak heap of 5,000,000 items through streamMap against p-map's
// pMapIterable (each run in its own process, rounds shuffled, medians). Run:
// `npx tsx bench/stream.ts` in packages/parallel (ITEMS=... ROUNDS=... to change the size).
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { pMapIterable } from 'p-map'
import { ParallelTaskExecutor } from '../src/index.js'

const ITEMS = Number(process.env.ITEMS ?? 5_000_000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const CONCURRENCY = 8

interface Run {
  ms: number
  peakHeap: number
}

/** In a child: streams ITEMS items through `subject`, prints { ms, peakHeap }. */
async function child(subject: string): Promise<void> {
  function* items() {
    for (let i = 0; i < ITEMS; i++) yield i
  }
  const fn = async (n: number) => n
  let peak = process.memoryUsage().heapUsed
  let sum = 0
  let k = 0
  const sample = () => {
    if ((++k & 4095) === 0) peak = Math.max(peak, process.memoryUsage().heapUsed)
  }
  const start = performance.now()
  if (subject === 'ours') {
    const executor = new ParallelTaskExecutor({ maxWorkers: CONCURRENCY })
    for await (const r of executor.streamMap(fn, items())) {
      sum += r.result as number
      sample()
    }
    await executor.close()
  } else {
    for await (const r of pMapIterable(items(), fn, { concurrency: CONCURRENCY })) {
      sum += r
      sample()
    }
  }
  const ms = performance.now() - start
  if (sum !== (ITEMS * (ITEMS - 1)) / 2) throw new Error('wrong sum')
  console.log(JSON.stringify({ ms, peakHeap: peak }))
}

if (process.argv[2] === '--child') await child(process.argv[3] as string)
else {
  const self = fileURLToPath(import.meta.url)
  const runs: { ours: Run[]; pMapIterable: Run[] } = { ours: [], pMapIterable: [] }
  for (let round = 0; round < ROUNDS; round++) {
    for (const subject of Math.random() < 0.5 ? ['ours', 'pmap'] : ['pmap', 'ours']) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', subject], {
        encoding: 'utf8',
        env: { ...process.env, ITEMS: String(ITEMS) },
      })
      runs[subject === 'ours' ? 'ours' : 'pMapIterable'].push(
        JSON.parse(out.trim().split('\n').pop() as string),
      )
    }
  }
  const med = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
  const ratios = runs.ours.map((r, k) => r.peakHeap / (runs.pMapIterable[k]?.peakHeap as number))
  for (const [name, list] of Object.entries(runs)) {
    console.log(
      `${name.padEnd(14)} ${ITEMS} items: ${(med(list.map((r) => r.ms)) / 1000).toFixed(2)} s, peak heap ${(med(list.map((r) => r.peakHeap)) / 2 ** 20).toFixed(1)} MiB`,
    )
  }
  const ratio = med(ratios)
  console.log(
    `${ratio <= 2 ? 'MET' : 'MISSED'}: peak heap <= 2x pMapIterable (x${ratio.toFixed(2)}, median of ${ROUNDS} rounds)`,
  )
}
