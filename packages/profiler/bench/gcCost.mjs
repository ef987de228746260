// What watching the collections costs, per collection, for each way the profiler could learn a
// window's heap peak and GC pauses: `node bench/gcCost.mjs [rounds]` in packages/profiler.
// For each source (bench/gcCostChild.mjs), the same churn task (hundreds of scavenges) runs under
// valgrind (cachegrind, no cache simulation: instruction counts that do not depend on the load)
// with --trace-gc, whose lines count the collections (a 1 MiB young generation, for many of them); the source's cost per collection is its
// instruction count minus the unwatched run's, divided by the collections. A native run of the
// `spike` task shows whether the source sees a synchronous spike (the profiler's test).
import { execFile } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { countInstructions } from './valgrind.mjs'

const run = promisify(execFile)
const child = fileURLToPath(new URL('./gcCostChild.mjs', import.meta.url))
const ROUNDS = Number(process.argv[2] ?? 2)
const SOURCES = ['none', 'gcProfiler', 'observer', 'observerHeap', 'finalization']
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const loads = [loadavg()[0]]

const spikes = {}
for (const source of SOURCES) {
  const { stdout } = await run(process.execPath, [child, source, 'spike'], { timeout: 120_000 })
  spikes[source] = JSON.parse(stdout.trim().split('\n').at(-1))
}

async function instructions(source) {
  const { instructions: count, stdout } = await countInstructions(
    ['--trace-gc', '--max-semi-space-size=1', child, source, 'churn'],
    { label: source },
  )
  const gcs = stdout
    .split('\n')
    .filter((l) => / ms: (Scavenge|Mark-Compact|Mark-Sweep|Minor)/.test(l))
  return { instr: count, gcs: gcs.length }
}
const got = new Map(SOURCES.map((s) => [s, []]))
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < SOURCES.length; i += 2) {
    const pair = SOURCES.slice(i, i + 2)
    const results = await Promise.all(pair.map(instructions))
    for (let k = 0; k < pair.length; k++) got.get(pair[k]).push(results[k])
  }
  loads.push(loadavg()[0])
}
const base = median(got.get('none').map((x) => x.instr))
console.log(
  `rounds: ${ROUNDS}; unwatched churn ${(base / 1e6).toFixed(0)} M instructions, ${median(got.get('none').map((x) => x.gcs))} collections; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
)
console.log(
  '| source | collections (--trace-gc) | instructions per collection (median) | sees the synchronous spike |',
)
console.log('| --- | ---: | ---: | --- |')
for (const source of SOURCES.slice(1)) {
  const rows = got.get(source)
  const per = median(rows.map((x) => (x.instr - base) / x.gcs))
  const s = spikes[source]
  console.log(
    `| ${source} | ${median(rows.map((x) => x.gcs))} | ${Math.round(per).toLocaleString('en-US')} | ${s.seen ? 'yes' : 'no'} (peak ${s.peakMiB} MiB, rows lived at ${s.duringMiB} MiB) |`,
  )
}
