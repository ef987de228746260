// Benchmark of @bookgen/parallel against raw tinypool (one run() per task), piscina and p-map,
// measured in the same run. `npm run bench` in packages/parallel (build first: npx tsup).
import { availableParallelism, cpus } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import pMap from 'p-map'
import { Piscina } from 'piscina'
import { Tinypool } from 'tinypool'
import { defineWorkerTask, ParallelTaskExecutor } from '../src/index.js'
import { hashDocument } from './tasks.mjs'

const TASKS_URL = new URL('./tasks.mjs', import.meta.url)
const THREADS = 2

interface Row {
  scenario: string
  subject: string
  ms: number
  perSecond?: number
  note?: string
}
const rows: Row[] = []

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

async function median(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < runs; i++) times.push(await time(fn))
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)] as number
}

function check(name: string, ok: boolean, detail: string): string {
  const line = `${ok ? 'MET' : 'MISSED'}: ${name} (${detail})`
  console.log(line)
  return line
}

const verdicts: string[] = []

/** Two bare threads with an even split and one message each: what the machine allows right now. */
function startBareThreads() {
  const source = `
    const { parentPort } = require('node:worker_threads')
    const { createHash } = require('node:crypto')
    const hash = (text) => { let d = text; for (let i = 0; i < 40; i++) d = createHash('sha256').update(d).update(text).digest('hex'); return d }
    parentPort.on('message', (docs) => parentPort.postMessage(docs.map(hash)))`
  const workers = [new Worker(source, { eval: true }), new Worker(source, { eval: true })]
  const ask = (w: Worker, part: string[]) =>
    new Promise((resolve) => {
      w.once('message', resolve)
      w.postMessage(part)
    })
  return {
    run: (docs: string[]) => {
      const half = Math.ceil(docs.length / 2)
      return Promise.all([
        ask(workers[0] as Worker, docs.slice(0, half)),
        ask(workers[1] as Worker, docs.slice(half)),
      ])
    },
    close: () => Promise.all(workers.map((w) => w.terminate())),
  }
}

// 1. 100,000 tiny CPU tasks on worker threads.
{
  const n = 100_000
  const items = Array.from({ length: n }, (_, i) => i)
  const executor = new ParallelTaskExecutor({ maxWorkers: THREADS, threads: THREADS })
  const double = defineWorkerTask<number, number>(TASKS_URL, 'double')
  await executor.parallelMap(double, [1, 2, 3, 4])
  const ours = await median(5, async () => {
    const out = await executor.parallelMap(double, items)
    if (out[n - 1] !== (n - 1) * 2) throw new Error('wrong result')
  })
  await executor.close()

  const tinypool = new Tinypool({
    filename: TASKS_URL.href,
    name: 'double',
    minThreads: THREADS,
    maxThreads: THREADS,
  })
  await tinypool.run(1)
  const tiny = await time(() => Promise.all(items.map((i) => tinypool.run(i))))
  await tinypool.destroy()

  const piscina = new Piscina({
    filename: TASKS_URL.href,
    name: 'double',
    minThreads: THREADS,
    maxThreads: THREADS,
  })
  await piscina.run(1)
  const pisc = await median(3, () => Promise.all(items.map((i) => piscina.run(i))))
  await piscina.close()

  const scenario = '100,000 tiny CPU tasks, 2 worker threads'
  rows.push({
    scenario,
    subject: '@bookgen/parallel (auto chunks)',
    ms: ours,
    perSecond: (n / ours) * 1000,
  })
  rows.push({
    scenario,
    subject: 'tinypool, one run() per task',
    ms: tiny,
    perSecond: (n / tiny) * 1000,
  })
  rows.push({
    scenario,
    subject: 'piscina, one run() per task',
    ms: pisc,
    perSecond: (n / pisc) * 1000,
  })
  verdicts.push(
    check(
      '>= 1 M tasks/s',
      (n / ours) * 1000 >= 1e6,
      `${Math.round((n / ours) * 1000).toLocaleString('en')} tasks/s`,
    ),
    check('>= 20x tinypool one-run-per-task', tiny / ours >= 20, `${(tiny / ours).toFixed(1)}x`),
    check('faster than piscina', pisc / ours > 1, `${(pisc / ours).toFixed(1)}x`),
  )
}

// 2. CPU-heavy map on 2 cores: hashing 2,000 documents.
{
  const docs = Array.from({ length: 2000 }, (_, i) => `document ${i} `.repeat(200))
  const executor = new ParallelTaskExecutor({ maxWorkers: THREADS, threads: THREADS })
  const hash = defineWorkerTask<string, string>(TASKS_URL, 'hashDocument')
  const bare = startBareThreads()
  await executor.parallelMap(hash, docs.slice(0, 4))
  await bare.run(docs.slice(0, 4))
  // Interleaved rounds, so that load from other jobs on the machine hits all three alike.
  const times = { sequential: [] as number[], ours: [] as number[], bare: [] as number[] }
  for (let round = 0; round < 5; round++) {
    times.sequential.push(
      await time(async () => {
        for (const doc of docs) hashDocument(doc)
      }),
    )
    times.ours.push(await time(() => executor.parallelMap(hash, docs)))
    times.bare.push(await time(() => bare.run(docs)))
  }
  await executor.close()
  await bare.close()
  const mid = (values: number[]) => values.sort((a, b) => a - b)[2] as number
  const sequential = mid(times.sequential)
  const ours = mid(times.ours)
  const ceiling = mid(times.bare)
  const scenario = 'hash 2,000 documents (CPU-heavy)'
  rows.push({
    scenario,
    subject: 'sequential, main thread',
    ms: sequential,
    perSecond: (2000 / sequential) * 1000,
  })
  rows.push({
    scenario,
    subject: '@bookgen/parallel, 2 threads',
    ms: ours,
    perSecond: (2000 / ours) * 1000,
  })
  rows.push({
    scenario,
    subject: 'reference: 2 bare worker_threads, one message each (machine ceiling now)',
    ms: ceiling,
    perSecond: (2000 / ceiling) * 1000,
  })
  verdicts.push(
    check(
      'CPU-heavy map >= 1.8x sequential',
      sequential / ours >= 1.8,
      `${(sequential / ours).toFixed(2)}x; bare 2-thread split reached ${(sequential / ceiling).toFixed(2)}x in the same run`,
    ),
  )
}

// 3. 100,000 async closures in-process.
{
  const n = 100_000
  const items = Array.from({ length: n }, (_, i) => i)
  const concurrency = 16
  const work = async (i: number) => i + 1
  const executor = new ParallelTaskExecutor({ maxWorkers: concurrency })
  const ours = await median(5, () => executor.parallelMap(work, items))
  const oursResults = await median(5, () => executor.mapParallel(work, items))
  await executor.close()
  const pm = await median(5, () => pMap(items, work, { concurrency }))
  const scenario = '100,000 async closures, concurrency 16'
  rows.push({
    scenario,
    subject: '@bookgen/parallel parallelMap',
    ms: ours,
    perSecond: (n / ours) * 1000,
  })
  rows.push({
    scenario,
    subject: '@bookgen/parallel mapParallel (TaskResult[])',
    ms: oursResults,
    perSecond: (n / oursResults) * 1000,
  })
  rows.push({ scenario, subject: 'p-map', ms: pm, perSecond: (n / pm) * 1000 })
  verdicts.push(
    check(
      'async closures several times faster than p-map (aim >= 3x)',
      pm / ours >= 3,
      `${(pm / ours).toFixed(1)}x`,
    ),
  )
}

// 4. The original's example: 10 validations of 100 ms on 4 workers.
{
  const validate = () => sleep(100)
  const sequential = await time(async () => {
    for (let i = 0; i < 10; i++) await validate()
  })
  const executor = new ParallelTaskExecutor({ maxWorkers: 4 })
  const ours = await time(() =>
    executor.executeParallel(Array.from({ length: 10 }, () => validate)),
  )
  await executor.close()
  const scenario = "original's example: 10 validations of 100 ms, 4 workers"
  rows.push({ scenario, subject: 'sequential', ms: sequential })
  rows.push({ scenario, subject: '@bookgen/parallel executeParallel', ms: ours })
  verdicts.push(
    check(
      '>= 3.2x sequential (limit 3.33x: 3 waves)',
      sequential / ours >= 3.2,
      `${(sequential / ours).toFixed(2)}x`,
    ),
  )
}

const table = [
  '| scenario | subject | median ms | tasks/s |',
  '| --- | --- | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.scenario} | ${r.subject} | ${r.ms.toFixed(1)} | ${r.perSecond ? Math.round(r.perSecond).toLocaleString('en') : '-'} |`,
  ),
].join('\n')
console.log(`\n${table}\n`)
console.log(
  `node ${process.version}, ${availableParallelism()} logical CPUs (${cpus()[0]?.model ?? 'unknown'}), ${new Date().toISOString()}`,
)
console.log(verdicts.join('\n'))
