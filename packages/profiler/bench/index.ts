// Benchmark of @bookgen/profiler, run with `npm run bench` in packages/profiler.
//  1. Recording one duration: LogLinearHistogram.record() and Profile.recordDbQuery() vs
//     perf_hooks.createHistogram().record() vs prom-client Histogram.observe(), same run.
//  2. Overhead of a whole profile (start + stop, channel recording included) around workloads of
//     10,000 small async operations that publish bookgen:db:query and bookgen:cache messages:
//     loopback TCP round trips (realistic), and near-empty operations (worst case).
import { channel } from 'node:diagnostics_channel'
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'
import { cpus } from 'node:os'
import { createHistogram } from 'node:perf_hooks'
import { LogLinearHistogram, performanceProfile, startProfile } from '@bookgen/profiler'
import { Histogram } from 'prom-client'

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

// ---------------------------------------------------------------- 1. recording one duration
const N = 2_000_000
const ROUNDS = 7
const values = new Float64Array(1 << 16)
for (let i = 0; i < values.length; i++) values[i] = 0.0005 + Math.random() ** 3 * 0.3 // 0.5 ms .. 300 ms
const mask = values.length - 1

const ours = new LogLinearHistogram()
const profile = startProfile({ channels: false, eventLoop: false, gc: false, sampleIntervalMs: 0 })
const node = createHistogram()
const prom = new Histogram({ name: 'bench_query_seconds', help: 'bench', registers: [] })

const candidates: [string, () => void][] = [
  [
    'LogLinearHistogram.record(seconds)',
    () => {
      for (let i = 0; i < N; i++) ours.record(values[i & mask]!)
    },
  ],
  [
    'Profile.recordDbQuery(seconds) (validates)',
    () => {
      for (let i = 0; i < N; i++) profile.recordDbQuery(values[i & mask]!)
    },
  ],
  [
    'perf_hooks createHistogram().record(ns)',
    () => {
      for (let i = 0; i < N; i++) node.record(Math.max(1, Math.round(values[i & mask]! * 1e9)))
    },
  ],
  [
    'prom-client Histogram.observe(seconds)',
    () => {
      for (let i = 0; i < N; i++) prom.observe(values[i & mask]!)
    },
  ],
]

const samples = new Map<string, number[]>(candidates.map(([name]) => [name, []]))
for (const [, fn] of candidates) fn() // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of candidates) {
    const t = process.hrtime.bigint()
    fn()
    samples.get(name)!.push(Number(process.hrtime.bigint() - t) / N)
  }
}
profile.stop()

const nsPerOp = new Map([...samples].map(([name, xs]) => [name, median(xs)]))
const promNs = nsPerOp.get('prom-client Histogram.observe(seconds)')!
const oursNs = nsPerOp.get('LogLinearHistogram.record(seconds)')!
console.log(
  `\n## Recording one duration (${N.toLocaleString('en')} calls × ${ROUNDS} rounds, median)\n`,
)
console.log('| implementation | ns/op | Mops/s | vs prom-client |')
console.log('| --- | ---: | ---: | ---: |')
for (const [name, ns] of nsPerOp) {
  console.log(
    `| ${name} | ${ns.toFixed(1)} | ${(1000 / ns).toFixed(1)} | ${(promNs / ns).toFixed(1)}× faster |`,
  )
}
const recordTarget = oursNs <= 50 && oursNs < promNs
console.log(
  `\nTarget ≤ 50 ns/op and faster than prom-client: ${recordTarget ? 'MET' : 'MISSED'} (${oursNs.toFixed(1)} ns/op)`,
)

// ---------------------------------------------------------------- 2. profile overhead
const OPS = 10_000
const CONCURRENCY = 50
const RUNS = 21
const db = channel('bookgen:db:query')
const cache = channel('bookgen:cache')

// Publishes the way @bookgen/cache and @bookgen/db-optimizer do: only when someone listens.
function publishCache(i: number, key: string): void {
  if (cache.hasSubscribers) {
    cache.publish({ op: i % 5 === 0 ? 'miss' : 'hit', key, namespace: 'user', durationMs: 0.05 })
  }
}
function publishQuery(): void {
  if (db.hasSubscribers) {
    db.publish({
      name: 'userById',
      sql: 'select * from users where id = $1',
      durationMs: 0.4,
      rows: 1,
    })
  }
}

// Workload A, I/O: each operation is one request/response over a loopback TCP connection (what a
// cache or database round trip is), plus a little JSON work and the two channel messages.
const server = createServer((socket) => socket.pipe(socket))
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const { port } = server.address() as AddressInfo
const sockets = await Promise.all(
  Array.from(
    { length: CONCURRENCY },
    () =>
      new Promise<Socket>((resolve) => {
        const s = connect(port, '127.0.0.1', () => resolve(s))
        s.setNoDelay(true)
      }),
  ),
)
const request = (s: Socket, payload: Buffer) =>
  new Promise<void>((resolve) => {
    let got = 0
    const onData = (chunk: Buffer) => {
      got += chunk.length
      if (got >= payload.length) {
        s.off('data', onData)
        resolve()
      }
    }
    s.on('data', onData)
    s.write(payload)
  })
const payload = Buffer.alloc(64, 1)

async function ioWorkload(): Promise<void> {
  let next = 0
  await Promise.all(
    sockets.map(async (s) => {
      while (next < OPS) {
        const i = next++
        const key = `bookgen:user:${i}`
        publishCache(i, key)
        await request(s, payload)
        JSON.parse(JSON.stringify({ id: i, name: key, tags: ['a', 'b'] }))
        publishQuery()
      }
    }),
  )
}

// Workload B, the worst case: operations that do almost nothing (two awaits, a little JSON work,
// ~1.6 µs each), so that any per-message or per-promise cost shows at its largest.
async function microWorkload(): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < OPS) {
      const i = next++
      const key = `bookgen:user:${i}`
      await null
      publishCache(i, key)
      JSON.parse(JSON.stringify({ id: i, name: key, tags: ['a', 'b'] }))
      await new Promise<void>((resolve) => setImmediate(resolve))
      publishQuery()
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}

let seed = 20261124
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31
  return seed / 2 ** 31
}
function shuffle<T>(xs: readonly T[]): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

function verdict(worst: number, noise: number): string {
  if (worst < 1) return 'MET'
  if (worst <= noise) return 'NOT RESOLVED (the difference is within the A/A noise)'
  return 'MISSED'
}

async function measure(label: string, workload: () => Promise<void>): Promise<number> {
  const check = (count: number) => {
    if (count !== OPS) throw new Error(`expected ${OPS} queries, got ${count}`)
  }
  const modes: [string, () => Promise<void>][] = [
    ['no profile', workload],
    ['no profile again (A/A: the noise floor)', workload],
    [
      'startProfile() … stop()',
      async () => {
        const p = startProfile()
        await workload()
        check(p.stop().dbQueryCount)
      },
    ],
    [
      'performanceProfile(fn)',
      async () => check((await performanceProfile(workload)).dbQueryCount),
    ],
    [
      'performanceProfile(fn, { isolate: false })',
      async () => check((await performanceProfile(workload, { isolate: false })).dbQueryCount),
    ],
  ]
  const wall = new Map<string, number[]>(modes.map(([name]) => [name, []]))
  const cpu = new Map<string, number[]>(modes.map(([name]) => [name, []]))
  for (const [, fn] of modes) await fn() // warm-up
  for (let r = 0; r < RUNS; r++) {
    // a new random order each round, so that no mode always follows the same one (and pays for
    // its garbage); no forced GC between runs: it shrinks the young generation and distorts
    for (const [name, fn] of shuffle(modes)) {
      const c = process.cpuUsage()
      const t = performance.now()
      await fn()
      wall.get(name)!.push(performance.now() - t)
      const used = process.cpuUsage(c)
      cpu.get(name)!.push((used.user + used.system) / 1000)
    }
  }
  const baseWall = median(wall.get('no profile')!)
  // Overhead per round against the same round's baseline, then the median over rounds: pairing
  // cancels most of the drift caused by other processes on the machine.
  const paired = (xs: number[], base: number[]) =>
    (median(xs.map((x, i) => x / base[i]!)) - 1) * 100
  console.log(`\n## Profile overhead, ${label}: median of ${RUNS} rounds\n`)
  console.log('| mode | wall ms (p25–p75) | wall overhead | CPU ms | CPU overhead |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} %`
  let worst = Number.NEGATIVE_INFINITY
  let noise = 0
  for (const [name] of modes) {
    const w = wall.get(name)!
    const c = cpu.get(name)!
    const overWall = paired(w, wall.get('no profile')!)
    const overCpu = paired(c, cpu.get('no profile')!)
    if (name.startsWith('no profile again')) noise = Math.abs(overCpu)
    else if (name !== 'no profile') worst = Math.max(worst, overCpu)
    const base = name === 'no profile'
    console.log(
      `| ${name} | ${median(w).toFixed(2)} (${quantile(w, 0.25).toFixed(1)}–${quantile(w, 0.75).toFixed(1)}) | ${base ? '—' : pct(overWall)} | ${median(c).toFixed(2)} | ${base ? '—' : pct(overCpu)} |`,
    )
  }
  console.log(
    `\nOverheads are medians of per-round ratios to the same round's "no profile" run. Target < 1 %, judged on CPU time (our process's own work, less disturbed by other processes than wall time): ${verdict(worst, noise)} (worst profiled mode ${pct(worst)}; A/A difference ${noise.toFixed(2)} %)`,
  )
  return baseWall
}

const ioBase = await measure(
  `A: ${OPS.toLocaleString('en')} loopback TCP round trips (concurrency ${CONCURRENCY}), each publishing a cache and a query message`,
  ioWorkload,
)
const microBase = await measure(
  `B (worst case): ${OPS.toLocaleString('en')} near-empty async operations (concurrency ${CONCURRENCY}), each publishing a cache and a query message`,
  microWorkload,
)
for (const s of sockets) s.destroy()
server.close()

// The parts of the cost, measured apart.
const fixed: number[] = []
for (let i = 0; i < 300; i++) {
  const t = performance.now()
  startProfile().stop()
  fixed.push((performance.now() - t) * 1000)
}
const fixedUs = median(fixed)
const perMessage = (() => {
  const p = startProfile({ eventLoop: false, gc: false, sampleIntervalMs: 0 })
  const M = 1_000_000
  const t = process.hrtime.bigint()
  for (let i = 0; i < M; i++) publishQuery()
  const ns = Number(process.hrtime.bigint() - t) / M
  p.stop()
  return ns
})()
console.log('\n## Where the overhead comes from\n')
console.log(
  `- start + stop of a profile: median ${fixedUs.toFixed(0)} µs (${((fixedUs / 1000 / ioBase) * 100).toFixed(2)} % of workload A, ${((fixedUs / 1000 / microBase) * 100).toFixed(2)} % of workload B)`,
)
console.log(
  `- one channel message built, published and recorded: ${perMessage.toFixed(0)} ns (nothing at all without a profile: hasSubscribers is false)`,
)
console.log(
  '- performanceProfile() keeps concurrent profiles apart with AsyncLocalStorage, whose promise hooks cost a little on every promise on Node 20 while a scoped profile runs',
)
console.log(`\nnode ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'})`)
