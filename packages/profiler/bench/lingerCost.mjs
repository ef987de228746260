// What stopped V8 GC profilers cost afterwards: `node bench/lingerCost.mjs [rounds]` in
// packages/profiler (no build needed: it uses node:v8 only).
//
// Node's `GCProfiler.stop()` does not remove the profiler's GC callbacks: Node removes them when
// V8 collects the profiler's object, and until then they write a JSON record of the heap at every
// collection. This bench starts and stops N profilers (each living through a few scavenges, as
// any profile does, so that its object is promoted and waits for a full collection), then times
// a churn of short-lived objects (scavenges only) in the same process. Each round runs one fresh
// process per N in a new random order; the table gives the medians of the CPU time per scavenge
// and of its ratio to the same round's N = 0 run. The profiler of this package used to restart
// its GC profiler every second and at every live read of a running profile: one more stopped
// profiler each time.
import { execFile } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { GCProfiler } from 'node:v8'

const CHURN = 20_000_000
let sink = 0
function garbage(n) {
  for (let k = 0; k < n; k++) {
    const o = { k, s: `x${k}` }
    sink += o.k
  }
}

if (process.argv[2] === '--child') {
  const n = Number(process.argv[3])
  for (let i = 0; i < n; i++) {
    const p = new GCProfiler()
    p.start()
    garbage(300_000)
    p.stop()
  }
  // One more profiler, read after the churn, counts the churn's collections.
  const counter = new GCProfiler()
  counter.start()
  const t = process.cpuUsage()
  garbage(CHURN)
  const used = process.cpuUsage(t)
  const collections = counter.stop().statistics.length
  console.log(
    JSON.stringify({ n, cpuMicros: used.user + used.system, collections, sink: sink > 0 }),
  )
} else {
  const run = promisify(execFile)
  const self = fileURLToPath(import.meta.url)
  const ROUNDS = Number(process.argv[2] ?? 7)
  const COUNTS = [0, 1, 10, 100]
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b)
    const m = s.length >> 1
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
  }
  const perGc = new Map(COUNTS.map((n) => [n, []]))
  const ratios = new Map(COUNTS.map((n) => [n, []]))
  const collections = new Map(COUNTS.map((n) => [n, []]))
  const loads = [loadavg()[0]]
  for (let r = 0; r < ROUNDS; r++) {
    const order = [...COUNTS].sort(() => Math.random() - 0.5)
    const out = {}
    for (const n of order) {
      const { stdout } = await run(process.execPath, [self, '--child', String(n)], {
        timeout: 300_000,
      })
      out[n] = JSON.parse(stdout.trim().split('\n').at(-1))
    }
    loads.push(loadavg()[0])
    const base = out[0].cpuMicros / out[0].collections
    for (const n of COUNTS) {
      const us = out[n].cpuMicros / out[n].collections
      perGc.get(n).push(us)
      ratios.get(n).push(us / base)
      collections.get(n).push(out[n].collections)
    }
  }
  console.log(
    `rounds: ${ROUNDS}, churn ${CHURN.toLocaleString('en')} objects; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
  )
  console.log(
    '| stopped GC profilers not yet collected | scavenges in the churn (median) | CPU per scavenge (median) | against none (median of per-round ratios) |',
  )
  console.log('| ---: | ---: | ---: | ---: |')
  for (const n of COUNTS) {
    console.log(
      `| ${n} | ${median(collections.get(n))} | ${median(perGc.get(n)).toFixed(0)} µs | ×${median(ratios.get(n)).toFixed(2)} |`,
    )
  }
}
