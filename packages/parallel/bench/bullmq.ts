// BullMQ backend benchmark: tiny tasks on 1, 2 and 4 bookgen-worker processes, against raw BullMQ
// with one job per task (its plain use) and
// against the local thread backend (the per-task overhead), a CPU-heavy map (hashing 2,000
// documents) on 1, 2 and 4 bookgen-worker processes next to local threads, and an I/O-bound task
// (20 ms waits) on 1, 2 and 4 processes. Real Redis (REDIS_URL), real worker processes; rounds
// shuffled and interleaved, medians of per-round ratios.
// `npx tsx bench/bullmq.ts` in packages/parallel; ONLY=tiny,cpu,io picks sections.
// The CPU rounds' workers load this file as their --tasks module (the registry below); the bench
// itself runs only when this file is the process's script.
import { loadavg } from 'node:os'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Queue, QueueEvents, Worker } from 'bullmq'
import { bullmqBackend, defineTaskRegistry } from '../src/bullmq/index.js'
import { defineWorkerTask, ParallelTaskExecutor } from '../src/index.js'
import { cleanUp, connection, redisUrl, startWorker, uniqueQueue } from '../test/bullmqWorkers.js'
import registry, { double, sleepy } from '../test/fixtures/bullmqRegistry.js'

/** The CPU-heavy task: 40 rounds of FNV-1a over one document (bench/tasks.mjs). */
export const hashDocument = defineWorkerTask<string, string>(
  new URL('./tasks.mjs', import.meta.url),
  'hashDocument',
)

/** The same hashing with a tiny payload: the document is built where the task runs (bench/scaling.mjs). */
export const hashBuiltDocument = defineWorkerTask<{ i: number; chars: number }, string>(
  new URL('./scaling.mjs', import.meta.url),
  'hashBuiltDocument',
)

/** What the CPU rounds' workers serve (`bookgen-worker --tasks bench/bullmq.ts`). */
const cpuTasks = defineTaskRegistry({ hashDocument, hashBuiltDocument })
export default cpuTasks

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const TINY = Number(process.env.TINY ?? 100_000)
const WAITS = Number(process.env.WAITS ?? 400)
const DOCS = Number(process.env.DOCS ?? 2000)
/** Characters per document: about 1 ms of hashing each on this machine when idle. */
const DOC_CHARS = Number(process.env.DOC_CHARS ?? 14_000)
const ONLY = new Set((process.env.ONLY ?? 'tiny,cpu,io').split(','))

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return performance.now() - start
}

/** Raw BullMQ as its docs show it: one job per task, a Worker with concurrency, results by event. */
async function rawBullmq(n: number): Promise<number> {
  const name = uniqueQueue()
  const queue = new Queue(name, { connection: connection() })
  const events = new QueueEvents(name, { connection: connection() })
  await events.waitUntilReady()
  const workers = [0, 1].map(
    () =>
      new Worker(name, async (job) => (job.data as number) * 2, {
        connection: connection(),
        concurrency: 100,
      }),
  )
  let done = 0
  let resolve!: () => void
  const all = new Promise<void>((r) => {
    resolve = r
  })
  events.on('completed', () => {
    if (++done === n) resolve()
  })
  const ms = await time(async () => {
    for (let i = 0; i < n; i += 1000) {
      const jobs = []
      for (let k = i; k < Math.min(n, i + 1000); k++) {
        jobs.push({ name: 'double', data: k, opts: { removeOnComplete: true } })
      }
      await queue.addBulk(jobs)
    }
    await all
  })
  await Promise.all(workers.map((w) => w.close()))
  await events.close()
  await queue.obliterate({ force: true })
  await queue.close()
  return ms
}

async function ours(n: number, queueName: string): Promise<number> {
  const b = bullmqBackend({ connection: redisUrl, queue: queueName, tasks: registry })
  const items = Array.from({ length: n }, (_, i) => i)
  const ms = await time(() => b.map(double, items))
  await b.close()
  return ms
}

async function local(n: number, executor: ParallelTaskExecutor): Promise<number> {
  const items = Array.from({ length: n }, (_, i) => i)
  return time(() => executor.mapParallel(double, items))
}

async function tiny() {
  // One fleet per size: the same tiny map on 1, 2 and 4 worker processes (the scaling rows); the
  // 2-worker fleet is the one compared with raw BullMQ (2 workers too) and with local threads.
  const fleets = await Promise.all(
    [1, 2, 4].map(async (count) => {
      const q = uniqueQueue()
      const ws = await Promise.all(Array.from({ length: count }, () => startWorker(q)))
      return { count, q, ws }
    }),
  )
  const queueOf = (count: number) => fleets.find((f) => f.count === count)!.q
  // The local thread backend with the same parallelism as the 2-worker fleet: 2 threads.
  const threads = new ParallelTaskExecutor({ threads: 2 })
  const subjects = ['ours1', 'ours2', 'ours4', 'raw', 'local'] as const
  const ms = new Map<string, number[]>(subjects.map((s) => [s, []]))
  for (const f of fleets) await ours(1000, f.q)
  await local(1000, threads)
  for (let round = 0; round < ROUNDS; round++) {
    for (const subject of shuffled(subjects)) {
      let took: number
      if (subject === 'raw') took = await rawBullmq(TINY)
      else if (subject === 'local') took = await local(TINY, threads)
      else took = await ours(TINY, queueOf(Number(subject.slice(4))))
      ms.get(subject)!.push(took)
    }
  }
  await threads.close()
  for (const f of fleets) await cleanUp(f.q, f.ws)
  const rounds = (s: (typeof subjects)[number]) => ms.get(s)!
  const oursMs = rounds('ours2')
  const ratios = rounds('raw').map((r, i) => r / oursMs[i]!)
  const overheads = oursMs.map((o, i) => ((o - rounds('local')[i]!) * 1000) / TINY)
  const perSecond = (xs: number[]) => Math.round(TINY / (median(xs) / 1000))
  console.log(`per-round ratios (raw / ours): ${ratios.map((r) => r.toFixed(1)).join(', ')}`)
  console.log(
    `tiny tasks, 2 workers: ours ${Math.round(median(oursMs))} ms (${perSecond(oursMs)}/s), raw BullMQ one job per task ${Math.round(median(rounds('raw')))} ms (${perSecond(rounds('raw'))}/s): ${median(ratios).toFixed(1)}x`,
  )
  console.log(
    `tiny tasks, local thread backend (2 threads): ${Math.round(median(rounds('local')))} ms (${perSecond(rounds('local'))}/s); BullMQ overhead per task: ${median(overheads).toFixed(1)} us (rounds: ${overheads.map((x) => x.toFixed(1)).join(', ')} us)`,
  )
  const one = rounds('ours1')
  for (const count of [1, 2, 4]) {
    const xs = rounds(`ours${count}` as (typeof subjects)[number])
    const scale = median(xs.map((x, i) => one[i]! / x))
    console.log(
      `  tiny tasks, ${count} worker${count === 1 ? ' ' : 's'}: ${Math.round(median(xs))} ms, ${perSecond(xs)} tasks/s, ${scale.toFixed(2)}x one worker (rounds: ${xs.map((x) => Math.round(x)).join(', ')} ms)`,
    )
  }
}

/**
 * The CPU-heavy map: DOCS documents hashed on 1, 2 and 4 worker processes of 1 thread each, and
 * on the local thread backend with 1 and 2 threads, in shuffled interleaved rounds; twice: with
 * each document's text in the payload (`hashDocument`), and with only its number in the payload,
 * the text built where the task runs (`hashBuiltDocument`), which measures the hashing without
 * the transport. Ratios are per round against 1 worker; the overhead per task compares equal
 * parallelism (1 worker with 1 local thread, 2 workers with 2 local threads).
 */
async function cpu() {
  const self = fileURLToPath(import.meta.url)
  const remote = await Promise.all(
    [1, 2, 4].map(async (count) => {
      const q = uniqueQueue()
      // startWorker's own --tasks and --threads come first: these later ones replace them.
      const ws = await Promise.all(
        Array.from({ length: count }, () =>
          startWorker(q, ['--tasks', self, '--threads', '1', '--concurrency', '1']),
        ),
      )
      const b = bullmqBackend({ connection: redisUrl, queue: q, tasks: cpuTasks })
      return { name: `${count} worker${count === 1 ? '' : 's'} x 1 thread`, count, q, ws, b }
    }),
  )
  const locals = [1, 2].map((threads) => ({
    name: `local thread backend, ${threads} thread${threads === 1 ? '' : 's'}`,
    threads,
    executor: new ParallelTaskExecutor({ threads }),
  }))
  const texts = Array.from({ length: DOCS }, (_, i) =>
    `document ${i} `.repeat(Math.ceil(DOC_CHARS / 11)).slice(0, DOC_CHARS),
  )
  const numbers = Array.from({ length: DOCS }, (_, i) => ({ i, chars: DOC_CHARS }))
  await measureCpu(`${DOCS} documents of ${DOC_CHARS} characters, text in the payload`, {
    remote,
    locals,
    run: (target) => target.map(hashDocument, texts),
  })
  await measureCpu(`${DOCS} documents of ${DOC_CHARS} characters, built on the worker`, {
    remote,
    locals,
    run: (target) => target.map(hashBuiltDocument, numbers),
  })
  for (const l of locals) await l.executor.close()
  for (const { q, ws, b } of remote) {
    await b.close()
    await cleanUp(q, ws)
  }
}

type CpuTarget = {
  map<In, Out>(task: ReturnType<typeof defineWorkerTask<In, Out>>, items: In[]): Promise<unknown>
}

async function measureCpu(
  label: string,
  setup: {
    remote: { name: string; count: number; b: ReturnType<typeof bullmqBackend> }[]
    locals: { name: string; threads: number; executor: ParallelTaskExecutor }[]
    run: (target: CpuTarget) => Promise<unknown>
  },
) {
  const { remote, locals, run } = setup
  type Subject = { name: string; run: () => Promise<unknown> }
  const subjects: Subject[] = [
    ...remote.map((r) => ({ name: r.name, run: () => run(r.b) })),
    ...locals.map((l) => ({
      name: l.name,
      run: () => run({ map: (task, items) => l.executor.mapParallel(task, items) } as CpuTarget),
    })),
  ]
  for (const s of subjects) await s.run()
  const ms = new Map<string, number[]>(subjects.map((s) => [s.name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of shuffled(subjects)) ms.get(s.name)?.push(await time(s.run))
  }
  const one = ms.get(remote[0]!.name) as number[]
  console.log(`CPU-heavy map (FNV-1a x 40): ${label}; load average ${load()}`)
  for (const s of subjects) {
    const rounds = ms.get(s.name) as number[]
    const ratio = median(rounds.map((x, r) => (one[r] as number) / x))
    console.log(
      `  ${s.name.padEnd(34)} ${Math.round(median(rounds))} ms, ${Math.round(DOCS / (median(rounds) / 1000))} docs/s, ${ratio.toFixed(2)}x one worker (rounds: ${rounds.map((x) => Math.round(x)).join(', ')} ms)`,
    )
  }
  for (const [workers, threads] of [
    [1, 1],
    [2, 2],
  ] as const) {
    const r = ms.get(remote.find((x) => x.count === workers)!.name) as number[]
    const l = ms.get(locals.find((x) => x.threads === threads)!.name) as number[]
    const perTask = r.map((x, i) => ((x - (l[i] as number)) * 1000) / DOCS)
    console.log(
      `  overhead per task, ${workers} worker(s) vs ${threads} local thread(s): ${median(perTask).toFixed(1)} us (rounds: ${perTask.map((x) => x.toFixed(1)).join(', ')} us)`,
    )
  }
}

function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}

async function io() {
  const scaling: Record<number, number[]> = { 1: [], 2: [], 4: [] }
  // One queue per worker count, all started up front, so that rounds interleave the counts (in a
  // shuffled order each round). One thread per worker, so one chunk at a time (--concurrency 1):
  // a worker takes a job only when it can start it, and no job waits behind another.
  const counts = [1, 2, 4]
  const setups = await Promise.all(
    counts.map(async (count) => {
      const q = uniqueQueue()
      const ws = await Promise.all(
        Array.from({ length: count }, () => startWorker(q, ['--concurrency', '1'])),
      )
      const b = bullmqBackend({ connection: redisUrl, queue: q, tasks: registry })
      return { count, q, ws, b }
    }),
  )
  const items = Array.from({ length: WAITS }, (_, i) => ({ i, ms: 20 }))
  for (const { b } of setups) await b.map(sleepy, items.slice(0, 20), { chunkSize: 10 })
  for (let round = 0; round < ROUNDS; round++) {
    for (const { count, b } of shuffled(setups)) {
      scaling[count]?.push(await time(() => b.map(sleepy, items, { chunkSize: 10 })))
    }
  }
  for (const { q, ws, b } of setups) {
    await b.close()
    await cleanUp(q, ws)
  }
  const one = scaling[1] as number[]
  for (const count of [1, 2, 4]) {
    const rounds = scaling[count] as number[]
    // Median of the per-round ratios (the counts of one round ran back to back).
    const ratio = median(rounds.map((ms, r) => (one[r] as number) / ms))
    console.log(
      `I/O-bound (20 ms waits), ${count} worker(s) x 1 thread: ${Math.round(median(rounds))} ms, ${ratio.toFixed(2)}x one worker (rounds: ${rounds.map((x) => Math.round(x)).join(', ')} ms)`,
    )
  }
}

async function main() {
  console.log(
    `BullMQ backend bench: ${TINY} tiny tasks, ${DOCS} documents, ${WAITS} waits of 20 ms, ${ROUNDS} rounds; sections ${[...ONLY].join(',')}; load average ${load()}`,
  )
  if (ONLY.has('tiny')) await tiny()
  if (ONLY.has('cpu')) await cpu()
  if (ONLY.has('io')) await io()
  console.log(`load average at the end: ${load()}; Node ${process.version}`)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
