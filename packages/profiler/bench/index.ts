// Benchmark of @bookgen/profiler, run with `npm run bench` in packages/profiler.
//  1. Recording one duration: LogLinearHistogram.record() and Profile.recordDbQuery() vs
//     perf_hooks.createHistogram().record() vs prom-client Histogram.observe(), same run.
//  2. The parts of a profile's cost, measured apart: start + stop, one channel message, one GC
//     seen by the observer, one sampler tick, AsyncLocalStorage per await.
//  3. Overhead of a whole profile (start + stop, channel recording included) around workloads of
//     10,000 small async operations that publish bookgen:db:query and bookgen:cache messages:
//     loopback TCP round trips (realistic), the same with the channels' state pinned (the
//     profiler's own work only), and near-empty operations (worst case).
import { channel } from 'node:diagnostics_channel'
import { cpus } from 'node:os'
import { createHistogram } from 'node:perf_hooks'
import { LogLinearHistogram, performanceProfile, startProfile } from '@bookgen/profiler'
import { Histogram } from 'prom-client'
import { CONCURRENCY, functionsWorkload, OPS, openLoopback } from './loopback.mjs'

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

// ---------------------------------------------------------------- workloads
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
// cache or database round trip is), plus a little JSON work and the two channel messages: the
// loopback workload of the cross-process benches (bench/loopback.mjs), with its publishers
// written as functions.
const loopback = await openLoopback()
const ioWorkload = () => functionsWorkload(loopback.sockets)

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

// ---------------------------------------------------------------- 2. the parts, measured apart
// Measured before any overhead run, while the channels' code has seen few subscribe/unsubscribe
// swaps (see measure() below), each after warm-up runs.
const light = { eventLoop: false, gc: false, sampleIntervalMs: 0, channels: false }
const noop = () => {}

const fixed: number[] = []
for (let i = 0; i < 300; i++) {
  const t = performance.now()
  startProfile().stop()
  fixed.push((performance.now() - t) * 1000)
}
const fixedUs = median(fixed)

const M = 500_000
function publishBoth(): number {
  const t = process.hrtime.bigint()
  for (let i = 0; i < M; i++) {
    publishCache(i, 'bookgen:user:1')
    publishQuery()
  }
  return Number(process.hrtime.bigint() - t) / (2 * M)
}
const perMessage = (subscribe: () => () => void) => {
  const release = subscribe()
  const xs: number[] = []
  for (let r = 0; r < 8; r++) xs.push(publishBoth())
  release()
  return median(xs.slice(2))
}
const nsNone = perMessage(() => noop)
const nsNoop = perMessage(() => {
  db.subscribe(noop)
  cache.subscribe(noop)
  return () => {
    db.unsubscribe(noop)
    cache.unsubscribe(noop)
  }
})
const nsProfile = perMessage(() => {
  const p = startProfile({ ...light, channels: true })
  return () => p.stop()
})

// GC observer: the same allocation-heavy async work with and without it, per collection seen.
async function churn(): Promise<void> {
  let keep: unknown
  for (let j = 0; j < 200; j++) {
    for (let i = 0; i < 10_000; i++) keep = { i, s: `x${i & 1023}`, a: [i, i] }
    await new Promise((resolve) => setImmediate(resolve))
  }
  if (keep === undefined) throw new Error('unreachable')
}
const gcOff: number[] = []
const gcOn: number[] = []
let gcCount = 0
await churn()
for (let r = 0; r < 12; r++) {
  for (const on of r % 2 ? [true, false] : [false, true]) {
    const p = startProfile({ ...light, gc: on })
    const c = process.cpuUsage()
    for (let k = 0; k < 3; k++) await churn()
    const used = process.cpuUsage(c)
    await new Promise((resolve) => setImmediate(resolve))
    const m = p.stop()
    ;(on ? gcOn : gcOff).push((used.user + used.system) / 1000)
    if (on) gcCount += m.gc.count
  }
}
const sampleUs = (() => {
  let x = 0
  const t = performance.now()
  for (let i = 0; i < 2000; i++) x += process.memoryUsage().rss
  return x > 0 ? ((performance.now() - t) / 2000) * 1000 : 0
})()
const usPerGc = ((median(gcOn) - median(gcOff)) * 1000) / (gcCount / gcOn.length)

const AWAITS = 1_000_000
async function awaits(): Promise<number> {
  const t = process.hrtime.bigint()
  for (let i = 0; i < AWAITS; i++) await null
  return Number(process.hrtime.bigint() - t) / AWAITS
}
const bare: number[] = []
const scoped: number[] = []
for (let r = 0; r < 5; r++) {
  bare.push(await awaits())
  let ns = 0
  await performanceProfile(
    async () => {
      ns = await awaits()
    },
    { ...light, channels: true },
  )
  scoped.push(ns)
}
const alsNs = median(scoped) - median(bare)

// ---------------------------------------------------------------- 3. profile overhead
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

/** Median of xs and a bootstrap 95 % interval of that median. */
function medianCi(xs: number[]): [number, number, number] {
  const meds: number[] = []
  for (let b = 0; b < 2000; b++) {
    meds.push(median(Array.from(xs, () => xs[Math.floor(random() * xs.length)]!)))
  }
  return [median(xs), quantile(meds, 0.025), quantile(meds, 0.975)]
}

function verdict(ci: [number, number, number]): string {
  if (ci[2] < 1) return 'MET'
  if (ci[1] >= 1) return 'MISSED'
  return ci[0] < 1 ? 'PROBABLY MET (the 95 % interval reaches 1 %)' : 'PROBABLY MISSED'
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} %`

/**
 * Overhead of each profiling mode on `workload`, CPU time of this process (wall time is printed
 * too, but other processes on the machine disturb it more).
 *
 * Node 20's diagnostics_channel swaps a channel's prototype when its first subscriber comes or
 * its last one goes, which deoptimizes the code that publishes on it; the first operations after
 * a profile starts or stops then run unoptimized for a while. So that every mode starts from the
 * same state, each measured run follows an unmeasured run of the bare workload (the "settle"
 * run: code warm and optimized for "no subscriber"), and a profiled run pays for its own
 * subscription. `pinned`: a no-op subscriber stays on both channels the whole time, so
 * publishers build every message in every mode and no prototype ever changes: what is left is
 * the profiler's own work.
 */
async function measure(
  label: string,
  workload: () => Promise<void>,
  { pinned = false, rounds = RUNS }: { pinned?: boolean; rounds?: number } = {},
): Promise<number> {
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
      'startProfile({ gc: false }) … stop()',
      async () => {
        const p = startProfile({ gc: false })
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
  if (pinned) {
    db.subscribe(noop)
    cache.subscribe(noop)
  }
  const wall = new Map<string, number[]>(modes.map(([name]) => [name, []]))
  const cpu = new Map<string, number[]>(modes.map(([name]) => [name, []]))
  // settle runs right after a profiled run vs after a bare one: the cost left behind by stop()
  const after = { profiled: [] as number[], bare: [] as number[] }
  for (const [, fn] of modes) await fn() // warm-up
  let previousProfiled = false
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of shuffle(modes)) {
      let c = process.cpuUsage()
      await workload() // settle
      let used = process.cpuUsage(c)
      after[previousProfiled ? 'profiled' : 'bare'].push((used.user + used.system) / 1000)
      c = process.cpuUsage()
      const t = performance.now()
      await fn()
      wall.get(name)!.push(performance.now() - t)
      used = process.cpuUsage(c)
      cpu.get(name)!.push((used.user + used.system) / 1000)
      previousProfiled = !name.startsWith('no profile')
    }
  }
  if (pinned) {
    db.unsubscribe(noop)
    cache.unsubscribe(noop)
  }
  // Overhead per round against the same round's "no profile" run, then the median over rounds:
  // pairing cancels most of the drift caused by other processes on the machine.
  const ratios = (xs: number[], base: number[]) => xs.map((x, i) => (x / base[i]! - 1) * 100)
  console.log(`\n## Profile overhead, ${label}: ${rounds} rounds\n`)
  console.log(
    '| mode | CPU ms (median) | CPU overhead (95 % CI) | wall ms (median) | wall overhead | verdict (< 1 % CPU) |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: | --- |')
  for (const [name] of modes) {
    const w = wall.get(name)!
    const c = cpu.get(name)!
    const base = name === 'no profile'
    const ci = medianCi(ratios(c, cpu.get('no profile')!))
    const overWall = median(ratios(w, wall.get('no profile')!))
    console.log(
      `| ${name} | ${median(c).toFixed(1)} | ${base ? '—' : `${pct(ci[0])} (${pct(ci[1])} … ${pct(ci[2])})`} | ${median(w).toFixed(1)} | ${base ? '—' : pct(overWall)} | ${base ? '' : name.startsWith('no profile') ? '(noise)' : verdict(ci)} |`,
    )
  }
  if (!pinned && after.profiled.length > 2 && after.bare.length > 2) {
    const left = (median(after.profiled) / median(after.bare) - 1) * 100
    console.log(
      `\nThe bare run right after a profile stopped took ${pct(left)} CPU compared with one after a bare run (publishing code re-optimized for "no subscriber").`,
    )
  }
  return median(cpu.get('no profile')!)
}

const ioBase = await measure(
  `A: ${OPS.toLocaleString('en')} loopback TCP round trips (concurrency ${CONCURRENCY}), each publishing a cache and a query message`,
  ioWorkload,
)
await measure(
  "A, pinned (a no-op subscriber stays on both channels in every mode: the profiler's own work only)",
  ioWorkload,
  { rounds: 15, pinned: true },
)
const microBase = await measure(
  `B (worst case): ${OPS.toLocaleString('en')} near-empty async operations (concurrency ${CONCURRENCY}), each publishing a cache and a query message`,
  microWorkload,
)
loopback.close()

console.log('\n## Where the overhead comes from\n')
console.log(
  `- start + stop of a profile: median ${fixedUs.toFixed(0)} µs (${((fixedUs / 1000 / ioBase) * 100).toFixed(2)} % of workload A's CPU time, ${((fixedUs / 1000 / microBase) * 100).toFixed(2)} % of workload B's)`,
)
console.log(
  `- one message, publisher side included (${(M * 2).toLocaleString('en')} in a loop, median of 6 after 2 warm-up loops): ${nsNone.toFixed(1)} ns with no subscriber (nothing is built), ${nsNoop.toFixed(1)} ns with a no-op subscriber, ${nsProfile.toFixed(1)} ns recorded by a profile: ${((((nsProfile - nsNone) * 2 * OPS) / 1e6 / ioBase) * 100).toFixed(2)} % of workload A for its ${(2 * OPS).toLocaleString('en')} messages`,
)
console.log(
  `- GC observer: ~${usPerGc.toFixed(0)} µs of CPU per collection observed (${(gcCount / gcOn.length).toFixed(0)} collections per allocation-heavy run, median of ${gcOn.length}, ${median(gcOff).toFixed(1)} → ${median(gcOn).toFixed(1)} ms); Node builds one PerformanceEntry per collection`,
)
console.log(
  `- sampler: one process.memoryUsage() per sampleIntervalMs (100 ms by default), ~${sampleUs.toFixed(1)} µs each: ${((sampleUs / 100 / 1000) * 100).toFixed(3)} % of a busy process`,
)
console.log(
  `- AsyncLocalStorage while a performanceProfile() with isolate: true runs: +${alsNs.toFixed(0)} ns per await (${median(bare).toFixed(0)} → ${median(scoped).toFixed(0)} ns for \`await null\`)`,
)
console.log(`\nnode ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'})`)
