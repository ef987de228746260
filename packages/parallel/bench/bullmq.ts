// BullMQ backend benchmark: tiny tasks against raw BullMQ with one job per task (its plain use),
// and an I/O-bound task (20 ms waits) on 1, 2 and 4 bookgen-worker processes. Real Redis
// (REDIS_URL), real worker processes; rounds interleaved, medians of per-round ratios.
// `npx tsx bench/bullmq.ts` in packages/parallel.
import { Queue, QueueEvents, Worker } from 'bullmq'
import { bullmqBackend } from '../src/bullmq/index.js'
import { cleanUp, connection, redisUrl, startWorker, uniqueQueue } from '../test/bullmqWorkers.js'
import registry, { double, sleepy } from '../test/fixtures/bullmqRegistry.js'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const TINY = Number(process.env.TINY ?? 100_000)
const WAITS = Number(process.env.WAITS ?? 400)

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

async function tiny() {
  const tinyQueue = uniqueQueue()
  const tinyWorkers = await Promise.all([startWorker(tinyQueue), startWorker(tinyQueue)])
  const ratios: number[] = []
  const oursMs: number[] = []
  const rawMs: number[] = []
  await ours(1000, tinyQueue)
  for (let round = 0; round < ROUNDS; round++) {
    const first = round % 2 === 0
    const a = first ? await ours(TINY, tinyQueue) : await rawBullmq(TINY)
    const b = first ? await rawBullmq(TINY) : await ours(TINY, tinyQueue)
    const [o, r] = first ? [a, b] : [b, a]
    oursMs.push(o)
    rawMs.push(r)
    ratios.push(r / o)
  }
  await cleanUp(tinyQueue, tinyWorkers)
  console.log(`per-round ratios (raw / ours): ${ratios.map((r) => r.toFixed(1)).join(', ')}`)
  console.log(
    `tiny tasks, 2 workers: ours ${Math.round(median(oursMs))} ms (${Math.round(TINY / (median(oursMs) / 1000))}/s), raw BullMQ one job per task ${Math.round(median(rawMs))} ms (${Math.round(TINY / (median(rawMs) / 1000))}/s): ${median(ratios).toFixed(1)}x`,
  )
}

async function main() {
  console.log(`BullMQ backend bench: ${TINY} tiny tasks, ${WAITS} waits of 20 ms, ${ROUNDS} rounds`)
  if (process.env.ONLY !== 'io') await tiny()
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
    const order = [...setups].sort(() => Math.random() - 0.5)
    for (const { count, b } of order) {
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

await main()
