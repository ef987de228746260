// Cross-process overhead of a profile: `node bench/overhead.mjs [rounds]` in packages/profiler,
// after `npx tsup` (the children import the built package). Each round starts one fresh process
// per mode, in a new random order, and divides each mode's CPU time by the same round's bare run;
// the verdict uses the medians of those per-round ratios, with the A/A row (bare against a second
// bare process) as the noise floor.
import { execFile } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const child = fileURLToPath(new URL('./overheadChild.mjs', import.meta.url))
const ROUNDS = Number(process.argv[2] ?? 15)
const ALL = [
  'bare',
  'bare-again',
  'startProfile',
  'channelsOnly',
  'performanceProfile',
  'after',
  'isolate',
]
// A subset after the rounds: `node bench/overhead.mjs 9 startProfile channelsOnly` (bare and the A/A always run).
const picked = process.argv.slice(3)
const MODES =
  picked.length === 0 ? ALL : ['bare', 'bare-again', ...picked.filter((m) => ALL.includes(m))]
const LABELS = {
  'bare-again': 'A/A: a second bare process (noise)',
  startProfile: 'startProfile() around the work',
  channelsOnly: 'startProfile({ gc: false, eventLoop: false, sampleIntervalMs: 0 }): channels only',
  performanceProfile: 'performanceProfile(fn) (default, not isolated)',
  after: 'bare work after one isolated profile ended (lasting cost)',
  isolate: 'performanceProfile(fn, { isolate: true })',
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const shuffle = (xs) => {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}

const ratios = new Map(MODES.map((m) => [m, []]))
const bareMs = []
const loads = []
for (let r = 0; r < ROUNDS; r++) {
  const cpu = {}
  for (const mode of shuffle(MODES)) {
    const { stdout } = await run(process.execPath, [child, mode], { timeout: 120_000 })
    cpu[mode] = JSON.parse(stdout.trim().split('\n').at(-1)).cpuMicros
  }
  loads.push(loadavg()[0])
  bareMs.push(cpu.bare / 1000)
  for (const mode of MODES) ratios.get(mode).push(cpu[mode] / cpu.bare)
}

const aa = ratios.get('bare-again').map((x) => Math.abs(x - 1))
const noise = median(aa) * 100
const rows = []
for (const mode of MODES.slice(1)) {
  const over = (median(ratios.get(mode)) - 1) * 100
  let verdict = ''
  if (mode !== 'bare-again') {
    if (over < 1 && over <= noise) verdict = 'met (within the noise floor)'
    else if (over < 1) verdict = 'met'
    else if (noise >= 1) verdict = 'not resolved: the noise floor is ≥ 1 %'
    else verdict = 'missed'
  }
  rows.push(`| ${LABELS[mode]} | ${over >= 0 ? '+' : ''}${over.toFixed(1)} % | ${verdict} |`)
}
console.log(
  `rounds: ${ROUNDS}; bare workload CPU median ${median(bareMs).toFixed(0)} ms; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
)
console.log(`noise floor (median |A/A − 1|): ${noise.toFixed(1)} %`)
console.log('| mode | median CPU vs bare (per-round ratios) | < 1 % target |')
console.log('| --- | ---: | --- |')
for (const row of rows) console.log(row)
