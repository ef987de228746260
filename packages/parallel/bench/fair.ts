// Fair speed comparison of @bookgen/parallel with its peers, used the way their docs advise:
// tinypool and piscina get tiny tasks in batches (one run() per batch), p-map and p-limit get
// async closures, the CPU-heavy map is compared with bare worker_threads split by hand. Every
// round runs every subject of a scenario once, in a shuffled order; the verdict is the median of
// the per-round ratios. `npx tsx bench/fair.ts` in packages/parallel (build first: npx tsup).
// Next to each median time: the median CPU time of the main thread and of the whole process
// (every thread) per run, which load changes far less than wall time. ONLY=tiny,strings,
// closures,heavy runs some scenarios only.
import { readFileSync } from 'node:fs'
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
const ONLY = process.env.ONLY?.split(',')
const want = (name: string) => ONLY === undefined || ONLY.includes(name)

/** CPU time of the main thread so far (ns; its tid is the pid), or NaN where /proc lacks it. */
function mainCpuNs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])
  } catch {
    return Number.NaN
  }
}

/** CPU time of every thread of the process so far (ms). */
function processCpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

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
  const mainCpu = new Map<string, number[]>(subjects.map((s) => [s.name, []]))
  const allCpu = new Map<string, number[]>(subjects.map((s) => [s.name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of shuffle(subjects)) {
      const main0 = mainCpuNs()
      const all0 = processCpuMs()
      const start = performance.now()
      await s.run()
      const ms = performance.now() - start
      allCpu.get(s.name)?.push(processCpuMs() - all0)
      mainCpu.get(s.name)?.push((mainCpuNs() - main0) / 1e6)
      times.get(s.name)?.push(ms)
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
    const cpu = `CPU main ${median(mainCpu.get(s.name) as number[]).toFixed(1)}, all ${median(allCpu.get(s.name) as number[]).toFixed(1)} ms`
    lines.push(
      `  ${s.name.padEnd(44)} ${median(t).toFixed(1).padStart(9)} ms   ours x${ratio.toFixed(2)}   ${cpu}`,
    )
  }
  console.log(lines.slice(-subjects.length - 1).join('\n'))
  return ratios
}

/** Prints how many messages our threads got per run (`rows` of ours, warm-up included). */
function messagesPerRun(executor: ParallelTaskExecutor, rows: number): void {
  const perRun = executor.getMetrics().threadMessages / (rows * (ROUNDS + 1))
  lines.push(`  (ours: ${perRun.toFixed(1)} messages to threads per run)`)
  console.log(lines.at(-1))
}

const verdicts: string[] = []
function verdict(name: string, ok: boolean, detail: string): void {
  verdicts.push(`${ok ? 'MET' : 'MISSED'}: ${name} (${detail})`)
}

/**
 * 100,000 tiny CPU tasks over `items` through the worker task `name` (`${name}Batch` for the
 * batched peers): ours with automatic chunks (and with a per-task timeout when `timed`), tinypool
 * and piscina given THREADS * 4 batches (one run() each, their advice for tiny tasks).
 */
async function tinyScenario<T>(
  title: string,
  items: T[],
  name: string,
  expected: (last: T) => unknown,
  timed: boolean,
): Promise<{ tinypool: number; piscina: number; timed: number | undefined }> {
  const n = items.length
  const batches: T[][] = []
  const per = Math.ceil(n / (THREADS * 4))
  for (let s = 0; s < n; s += per) batches.push(items.slice(s, s + per))
  const executor = new ParallelTaskExecutor({ threads: THREADS })
  const task = defineWorkerTask<T, unknown>(TASKS_URL, name)
  const pools = { minThreads: THREADS, maxThreads: THREADS, filename: TASKS_URL.href }
  const tinypool = new Tinypool(pools)
  const piscina = new Piscina(pools)
  const want = expected(items[n - 1] as T)
  const check = (out: unknown[]) => {
    if (out.length !== n || out[n - 1] !== want) throw new Error('wrong result')
  }
  const batched = (pool: Tinypool | Piscina) => async () =>
    check(
      (
        await Promise.all(
          batches.map((b) => pool.run(b, { name: `${name}Batch` }) as Promise<unknown[]>),
        )
      ).flat(),
    )
  const peers = {
    tinypool: `tinypool, ${batches.length} batches (one run() each)`,
    piscina: `piscina, ${batches.length} batches (one run() each)`,
    timed: '@bookgen/parallel, timeout: 10000',
  }
  const subjects: Subject[] = [
    {
      name: '@bookgen/parallel parallelMap (auto chunks)',
      run: async () => check(await executor.parallelMap(task, items)),
    },
  ]
  if (timed) {
    subjects.push({
      name: peers.timed,
      run: async () => check(await executor.parallelMap(task, items, { timeout: 10_000 })),
    })
  }
  subjects.push({ name: peers.tinypool, run: batched(tinypool) })
  subjects.push({ name: peers.piscina, run: batched(piscina) })
  const ratios = await scenario(title, subjects)
  messagesPerRun(executor, subjects.length - 2)
  await Promise.all([executor.close(), tinypool.destroy(), piscina.close()])
  return {
    tinypool: ratios.get(peers.tinypool) as number,
    piscina: ratios.get(peers.piscina) as number,
    timed: ratios.get(peers.timed),
  }
}

// 1. 100,000 tiny CPU tasks, and the cost of a per-task timeout on them.
if (want('tiny')) {
  const items = Array.from({ length: 100_000 }, (_, i) => i)
  const r = await tinyScenario(
    `100,000 tiny CPU tasks, ${THREADS} threads`,
    items,
    'double',
    (last) => last * 2,
    true,
  )
  verdict(
    'tiny tasks >= 1.0x batched tinypool and piscina',
    r.tinypool >= 1 && r.piscina >= 1,
    `x${r.tinypool.toFixed(2)} / x${r.piscina.toFixed(2)}`,
  )
  const timed = r.timed as number
  verdict(
    'per-task timeout costs <= 3x the untimed run',
    timed <= 3,
    `${timed.toFixed(2)}x the untimed time`,
  )
}

// 1b. The same with strings: inputs and results a structured clone must copy one by one (numbers
// travel as a Float64Array and come back in the shared cell), reported next to the target.
if (want('strings')) {
  const items = Array.from({ length: 100_000 }, (_, i) => `w${i}`)
  const r = await tinyScenario(
    `100,000 tiny CPU tasks on strings, ${THREADS} threads`,
    items,
    'shout',
    (last) => `${last}!`,
    false,
  )
  verdict(
    '(note) tiny string tasks vs batched tinypool and piscina',
    r.tinypool >= 1 && r.piscina >= 1,
    `x${r.tinypool.toFixed(2)} / x${r.piscina.toFixed(2)}`,
  )
}

// 2. 100,000 async closures (I/O-shaped), concurrency 8.
if (want('closures')) {
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
if (want('heavy')) {
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
  messagesPerRun(executor, 1)
  await Promise.all([executor.close(), ...workers.map((w) => w.terminate())])
  const r = ratios.get('bare worker_threads, even split, one message each') as number
  verdict('CPU-heavy map >= 0.95x of bare worker_threads', r >= 0.95, `x${r.toFixed(2)}`)
}

console.log(
  `\n${ROUNDS} rounds; Node ${process.version}; ${cpus()[0]?.model} x ${availableParallelism()}; load average ${loadAtStart} at start, ${load()} at end`,
)
for (const v of verdicts) console.log(v)
