// Fair speed comparison of @bookgen/parallel with its peers, used the way their docs advise:
// tinypool and piscina get tiny tasks in batches (one run() per batch), p-map and p-limit get
// async closures, the CPU-heavy map is compared with bare worker_threads split by hand. Every
// round runs every subject of a scenario once, in a shuffled order; the verdict is the median of
// the per-round ratios. `npx tsx bench/fair.ts` in packages/parallel (build first: npx tsup).
import { availableParallelism, cpus, loadavg } from 'node:os'
import { Worker } from 'node:worker_threads'
import pLimit from 'p-limit'
import pMap from 'p-map'
import { Piscina } from 'piscina'
import { Tinypool } from 'tinypool'
import { defineWorkerTask, ParallelTaskExecutor } from '../src/index.js'
import { hashDocument } from './tasks.mjs'

const ROUNDS = Number(process.env.ROUNDS ?? 7)
const THREADS = 2
const TASKS_URL = new URL('./tasks.mjs', import.meta.url)

interface Subject {
  name: string
  run: () => Promise<unknown>
}

function shuffle<T>(list: T[]): T[] {
  const out = [...list]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

const lines: string[] = []
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
const loadAtStart = load()

/** Runs every subject once per round (shuffled); prints medians and ratios to the first subject. */
async function scenario(title: string, subjects: Subject[]): Promise<Map<string, number>> {
  for (const s of subjects) await s.run() // warm-up: threads started, code compiled
  const times = new Map<string, number[]>(subjects.map((s) => [s.name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of shuffle(subjects)) {
      const start = performance.now()
      await s.run()
      times.get(s.name)?.push(performance.now() - start)
    }
  }
  const ours = times.get(subjects[0]?.name as string) as number[]
  const ratios = new Map<string, number>()
  lines.push(`\n${title}`)
  for (const s of subjects) {
    const t = times.get(s.name) as number[]
    // Speed of ours relative to this subject, per round: > 1 means ours is faster.
    const ratio = median(t.map((ms, k) => ms / (ours[k] as number)))
    ratios.set(s.name, ratio)
    lines.push(
      `  ${s.name.padEnd(44)} ${median(t).toFixed(1).padStart(9)} ms   ours x${ratio.toFixed(2)}`,
    )
  }
  console.log(lines.slice(-subjects.length - 1).join('\n'))
  return ratios
}

const verdicts: string[] = []
function verdict(name: string, ok: boolean, detail: string): void {
  verdicts.push(`${ok ? 'MET' : 'MISSED'}: ${name} (${detail})`)
}

// 1. 100,000 tiny CPU tasks, and the cost of a per-task timeout on them.
{
  const n = 100_000
  const items = Array.from({ length: n }, (_, i) => i)
  const batches: number[][] = []
  const per = Math.ceil(n / (THREADS * 4))
  for (let s = 0; s < n; s += per) batches.push(items.slice(s, s + per))
  const executor = new ParallelTaskExecutor({ threads: THREADS })
  const double = defineWorkerTask<number, number>(TASKS_URL, 'double')
  const tinypool = new Tinypool({
    filename: TASKS_URL.href,
    minThreads: THREADS,
    maxThreads: THREADS,
  })
  const piscina = new Piscina({
    filename: TASKS_URL.href,
    minThreads: THREADS,
    maxThreads: THREADS,
  })
  const check = (out: number[]) => {
    if (out[n - 1] !== (n - 1) * 2) throw new Error('wrong result')
  }
  const ratios = await scenario(`100,000 tiny CPU tasks, ${THREADS} threads`, [
    {
      name: '@bookgen/parallel parallelMap (auto chunks)',
      run: async () => check(await executor.parallelMap(double, items)),
    },
    {
      name: '@bookgen/parallel, timeout: 10000',
      run: async () => check(await executor.parallelMap(double, items, { timeout: 10_000 })),
    },
    {
      name: `tinypool, ${batches.length} batches (one run() each)`,
      run: async () =>
        check(
          (await Promise.all(batches.map((b) => tinypool.run(b, { name: 'doubleBatch' })))).flat(),
        ),
    },
    {
      name: `piscina, ${batches.length} batches (one run() each)`,
      run: async () =>
        check(
          (await Promise.all(batches.map((b) => piscina.run(b, { name: 'doubleBatch' })))).flat(),
        ),
    },
  ])
  await Promise.all([executor.close(), tinypool.destroy(), piscina.close()])
  const tiny = ratios.get(`tinypool, ${batches.length} batches (one run() each)`) as number
  const pisc = ratios.get(`piscina, ${batches.length} batches (one run() each)`) as number
  verdict(
    'tiny tasks >= 1.0x batched tinypool and piscina',
    tiny >= 1 && pisc >= 1,
    `x${tiny.toFixed(2)} / x${pisc.toFixed(2)}`,
  )
  const timed = ratios.get('@bookgen/parallel, timeout: 10000') as number
  verdict(
    'per-task timeout costs <= 3x the untimed run',
    timed <= 3,
    `${timed.toFixed(2)}x the untimed time`,
  )
}

// 1b. The same with strings: inputs and results a structured clone must copy one by one (numbers
// travel as a Float64Array and come back in the shared cell), reported next to the target.
{
  const n = 100_000
  const items = Array.from({ length: n }, (_, i) => `w${i}`)
  const batches: string[][] = []
  const per = Math.ceil(n / (THREADS * 4))
  for (let s = 0; s < n; s += per) batches.push(items.slice(s, s + per))
  const executor = new ParallelTaskExecutor({ threads: THREADS })
  const shout = defineWorkerTask<string, string>(TASKS_URL, 'shout')
  const tinypool = new Tinypool({
    filename: TASKS_URL.href,
    minThreads: THREADS,
    maxThreads: THREADS,
  })
  const piscina = new Piscina({
    filename: TASKS_URL.href,
    minThreads: THREADS,
    maxThreads: THREADS,
  })
  const check = (out: string[]) => {
    if (out[n - 1] !== `w${n - 1}!`) throw new Error('wrong result')
  }
  const ratios = await scenario(`100,000 tiny CPU tasks on strings, ${THREADS} threads`, [
    {
      name: '@bookgen/parallel parallelMap (auto chunks)',
      run: async () => check(await executor.parallelMap(shout, items)),
    },
    {
      name: `tinypool, ${batches.length} batches (one run() each)`,
      run: async () =>
        check(
          (await Promise.all(batches.map((b) => tinypool.run(b, { name: 'shoutBatch' })))).flat(),
        ),
    },
    {
      name: `piscina, ${batches.length} batches (one run() each)`,
      run: async () =>
        check(
          (await Promise.all(batches.map((b) => piscina.run(b, { name: 'shoutBatch' })))).flat(),
        ),
    },
  ])
  await Promise.all([executor.close(), tinypool.destroy(), piscina.close()])
  const tiny = ratios.get(`tinypool, ${batches.length} batches (one run() each)`) as number
  const pisc = ratios.get(`piscina, ${batches.length} batches (one run() each)`) as number
  verdict(
    '(note) tiny string tasks vs batched tinypool and piscina',
    tiny >= 1 && pisc >= 1,
    `x${tiny.toFixed(2)} / x${pisc.toFixed(2)}`,
  )
}

// 2. 100,000 async closures (I/O-shaped), concurrency 8.
{
  const n = 100_000
  const items = Array.from({ length: n }, (_, i) => i)
  const fn = async (i: number) => i + 1
  const executor = new ParallelTaskExecutor({ maxWorkers: 8 })
  const ratios = await scenario('100,000 async closures, concurrency 8', [
    { name: '@bookgen/parallel parallelMap', run: () => executor.parallelMap(fn, items) },
    {
      name: '@bookgen/parallel streamMap (every result read)',
      run: async () => {
        let k = 0
        for await (const _ of executor.streamMap(fn, items)) k++
        if (k !== n) throw new Error('lost results')
      },
    },
    {
      name: '@bookgen/parallel mapParallel (TaskResults)',
      run: () => executor.mapParallel(fn, items),
    },
    { name: 'p-map', run: () => pMap(items, fn, { concurrency: 8 }) },
    {
      name: 'p-limit',
      run: () => {
        const limit = pLimit(8)
        return Promise.all(items.map((i) => limit(() => fn(i))))
      },
    },
  ])
  await executor.close()
  const pm = ratios.get('p-map') as number
  const pl = ratios.get('p-limit') as number
  verdict(
    'async closures faster than p-map and p-limit',
    pm > 1 && pl > 1,
    `x${pm.toFixed(2)} / x${pl.toFixed(2)}`,
  )
  const streamVsMap =
    (ratios.get('@bookgen/parallel mapParallel (TaskResults)') as number) /
    (ratios.get('@bookgen/parallel streamMap (every result read)') as number)
  verdict(
    '100k streamed results within 1.3x of mapParallel',
    1 / streamVsMap <= 1.3,
    `stream takes ${(1 / streamVsMap).toFixed(2)}x mapParallel's time`,
  )
}

// 3. CPU-heavy map vs bare worker_threads split by hand.
{
  const docs = Array.from(
    { length: 600 },
    (_, i) => `${'Marie Curie radium polonium '.repeat(100)}${i}`,
  )
  const executor = new ParallelTaskExecutor({ threads: THREADS })
  const hash = defineWorkerTask<string, string>(TASKS_URL, 'hashDocument')
  const source = `
    const { parentPort } = require('node:worker_threads')
    const hashDocument = ${hashDocument.toString()}
    parentPort.on('message', (docs) => parentPort.postMessage(docs.map(hashDocument)))`
  const workers = Array.from({ length: THREADS }, () => new Worker(source, { eval: true }))
  const bare = async () => {
    const part = Math.ceil(docs.length / THREADS)
    const parts = await Promise.all(
      workers.map(
        (w, k) =>
          new Promise<string[]>((resolve) => {
            w.once('message', resolve)
            w.postMessage(docs.slice(k * part, (k + 1) * part))
          }),
      ),
    )
    return parts.flat()
  }
  const ratios = await scenario(
    `CPU-heavy map: ${docs.length} documents hashed, ${THREADS} threads`,
    [
      { name: '@bookgen/parallel parallelMap', run: () => executor.parallelMap(hash, docs) },
      { name: 'bare worker_threads, even split, one message each', run: bare },
    ],
  )
  await Promise.all([executor.close(), ...workers.map((w) => w.terminate())])
  const r = ratios.get('bare worker_threads, even split, one message each') as number
  verdict('CPU-heavy map >= 0.95x of bare worker_threads', r >= 0.95, `x${r.toFixed(2)}`)
}

console.log(
  `\n${ROUNDS} rounds; Node ${process.version}; ${cpus()[0]?.model} x ${availableParallelism()}; load average ${loadAtStart} at start, ${load()} at end`,
)
for (const v of verdicts) console.log(v)
