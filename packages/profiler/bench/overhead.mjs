// Cross-process overhead of a profile: `node bench/overhead.mjs [rounds] [modes…]` in
// packages/profiler, after `npx tsup` (the children import the built package).
//
// CPU time: each round starts one fresh process per mode, in a new random order, and divides each
// mode's CPU time of the measured workload by the same round's bare run; the verdict uses the
// medians of those per-round ratios, with the A/A row (bare against a second bare process) as the
// noise floor.
//
// Instructions (`INSTRUCTION_ROUNDS=n`, default 3; 0 skips them; `INSTRUCTION_JOBS=n` at a time): the same children under
// valgrind (cachegrind, no cache simulation), which counts the instructions a process executes
// whatever else runs on the machine (user space only: the kernel's share of the loopback I/O is
// not in it). Valgrind counts the whole process, so each round also runs the `idle…` children
// (everything but the measured workload: the same loading and the same warm-up) and the
// measured workload's count is the difference. Under valgrind a child runs ~50× slower, so the
// profile's timers would fire ~50× more often per round trip than natively: the instruction
// runs stretch the profile's timer intervals by `INSTRUCTION_TIME_SCALE` (default 50, about the
// measured slowdown) so that they fire as often per round trip as in a native run.
// The children under valgrind run with `INSTRUCTION_NODE_FLAGS` (default `--predictable`: V8's
// seeds fixed and its compiler and GC on the main thread, so that one round is exact; '' for none).
// Slow (~20 s of CPU per child).
//
// `OVERHEAD_PUBLISHERS=packages|functions|inline` (passed on to the children): how the messages
// are published (bench/overheadChild.mjs): `packages` (the default) as @bookgen/cache and
// @bookgen/db-optimizer publish, from small timed functions that TurboFan optimizes within the
// warm-up; `functions` from two small untimed functions; `inline` from the never-optimized async
// loops (the default before 2026-12-02 07:00 UTC);
// `OVERHEAD_WARMUPS=n`: each child runs its warm-up n times (default 1) before the measured run.
import { execFile } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { countInstructions } from './valgrind.mjs'

const run = promisify(execFile)
const child = fileURLToPath(new URL('./overheadChild.mjs', import.meta.url))
const ROUNDS = Number(process.argv[2] ?? 15)
const INSTRUCTION_ROUNDS = Number(process.env.INSTRUCTION_ROUNDS ?? 3)
// Children under valgrind at a time (instruction counts do not depend on what runs beside them).
const INSTRUCTION_JOBS = Number(process.env.INSTRUCTION_JOBS ?? 2)
const TIME_SCALE = Number(process.env.INSTRUCTION_TIME_SCALE ?? 50)
// V8 flags of the children under valgrind. `--predictable` (the default) fixes V8's hash and
// random seeds and runs its compiler and GC on the main thread, so that two runs of the same child
// count the same instructions to within ~0.01 % (without it, the A/A pair differs by 2–4 %, from
// when background compile jobs finish and from seeded hash tables); '' runs Node as it is.
const NODE_FLAGS = (process.env.INSTRUCTION_NODE_FLAGS ?? '--predictable')
  .split(' ')
  .filter(Boolean)
const PUBLISHERS = process.env.OVERHEAD_PUBLISHERS || 'packages'
const WARMUPS = process.env.OVERHEAD_WARMUPS || '1'
const ALL = [
  'bare',
  'bare-again',
  'loaded',
  'startProfile',
  'channelsOnly',
  'performanceProfile',
  'sampler',
  'second',
  'afterProfile',
  'after',
  'isolate',
  'subscribed',
  'subscribedProfile',
  'subscribedChannels',
  'subscribedAfter',
  'noopSubscriber',
]
// The idle child whose loading and warm-up match each mode's (bench/overheadChild.mjs).
const IDLE = {
  bare: 'idle',
  'bare-again': 'idle',
  second: 'idle-profile',
  afterProfile: 'idle-profile',
  after: 'idle-isolated',
  subscribed: 'idle-subscribed',
  subscribedProfile: 'idle-subscribed',
  subscribedChannels: 'idle-subscribed',
  subscribedAfter: 'idle-subscribed-profile',
  noopSubscriber: 'idle-noop',
}
// A subset after the rounds: `node bench/overhead.mjs 9 startProfile channelsOnly` (bare and the A/A always run).
const picked = process.argv.slice(3)
const MODES =
  picked.length === 0 ? ALL : ['bare', 'bare-again', ...picked.filter((m) => ALL.includes(m))]
const LABELS = {
  'bare-again': 'A/A: a second bare process (noise)',
  loaded: 'profiler loaded, no profile',
  startProfile: '`startProfile()` around the work (the process’s first profile)',
  channelsOnly:
    "`startProfile({ gc: false, heapPeak: 'sampler', eventLoop: false, sampleIntervalMs: 0 })`: channels only",
  performanceProfile: '`performanceProfile(fn)` (default, not isolated)',
  sampler: "`startProfile({ heapPeak: 'sampler' })` (heap peak from samples, no GC profiler)",
  second: '`startProfile()`, after one earlier profile in the process',
  afterProfile: 'bare work after one default profile ended (lasting cost)',
  after: 'bare work after one isolated profile ended (lasting cost)',
  isolate: '`performanceProfile(fn, { isolate: true })`',
  subscribed: '`subscribeChannels()` at startup, no profile',
  subscribedProfile: '`subscribeChannels()` at startup, then `startProfile()` around the work',
  subscribedChannels: '`subscribeChannels()` at startup, then a channels-only profile',
  subscribedAfter: '`subscribeChannels()` at startup, bare work after one default profile ended',
  noopSubscriber:
    'a no-op subscriber at startup, profiler not loaded (Node’s and the publishers’ share)',
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
const pct = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`
const loads = []

// ---- CPU time ----
const ratios = new Map(MODES.map((m) => [m, []]))
const bareMs = []
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

// ---- Instructions ----
async function instructions(mode) {
  const env = { ...process.env, OVERHEAD_TIME_SCALE: String(TIME_SCALE) }
  return (await countInstructions([...NODE_FLAGS, child, mode], { env, label: mode })).instructions
}
const instr = new Map(MODES.map((m) => [m, []]))
const bareInstr = []
for (let r = 0; r < INSTRUCTION_ROUNDS; r++) {
  const idles = new Set(MODES.map((m) => IDLE[m] ?? 'idle-loaded'))
  const modes = shuffle([...MODES, ...idles])
  const counts = {}
  let next = 0
  const worker = async () => {
    while (next < modes.length) {
      const m = modes[next++]
      counts[m] = await instructions(m)
    }
  }
  await Promise.all(Array.from({ length: INSTRUCTION_JOBS }, worker))
  loads.push(loadavg()[0])
  const work = counts.bare - counts.idle
  bareInstr.push(work)
  for (const mode of MODES) {
    const own = counts[mode] - counts[IDLE[mode] ?? 'idle-loaded']
    instr.get(mode).push(own / work)
  }
}

const noise = median(ratios.get('bare-again').map((x) => Math.abs(x - 1))) * 100
const noiseI =
  INSTRUCTION_ROUNDS > 0
    ? median(instr.get('bare-again').map((x) => Math.abs(x - 1))) * 100
    : Number.NaN
const verdict = (over, floor) => {
  if (Number.isNaN(over)) return '—'
  if (over < 1 && floor < 1) return 'met'
  if (over < 1) return `not resolved (floor ${floor.toFixed(1)} % ≥ 1 %)`
  if (over - floor < 1) return 'missed (or within the noise floor)'
  return 'missed'
}
const rows = []
for (const mode of MODES.slice(1)) {
  const over = (median(ratios.get(mode)) - 1) * 100
  const overI = instr.get(mode).length > 0 ? (median(instr.get(mode)) - 1) * 100 : Number.NaN
  const v =
    mode === 'bare-again'
      ? ''
      : `CPU: ${verdict(over, noise)}; instructions: ${verdict(overI, noiseI)}`
  rows.push(`| ${LABELS[mode]} | ${pct(over)} | ${Number.isNaN(overI) ? '—' : pct(overI)} | ${v} |`)
}
console.log(
  `publishers: ${PUBLISHERS}, warm-up runs: ${WARMUPS}; CPU rounds: ${ROUNDS}, bare workload CPU median ${median(bareMs).toFixed(0)} ms; instruction rounds: ${INSTRUCTION_ROUNDS}${INSTRUCTION_ROUNDS > 0 ? `, bare workload ${(median(bareInstr) / 1e6).toFixed(0)} M instructions, timer intervals ×${TIME_SCALE}, node flags ${NODE_FLAGS.join(' ') || 'none'}` : ''}; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
)
console.log(
  `noise floor (median |A/A − 1|): CPU ${noise.toFixed(1)} %, instructions ${noiseI.toFixed(2)} %`,
)
console.log(
  '| mode | CPU vs bare (median of per-round ratios) | instructions vs bare (median) | < 1 % target |',
)
console.log('| --- | ---: | ---: | --- |')
for (const row of rows) console.log(row)
// What a profile adds to a process already subscribed at startup (each round's profiled run
// against the same round's subscribed run), judged against the same A/A floor.
for (const [mode, base] of [
  ['subscribedProfile', 'subscribed'],
  ['subscribedChannels', 'subscribed'],
  ['subscribedAfter', 'subscribed'],
]) {
  if (!MODES.includes(mode) || !MODES.includes(base)) continue
  const r = ratios.get(mode).map((x, i) => x / ratios.get(base)[i])
  const over = (median(r) - 1) * 100
  const ri = instr.get(mode).map((x, i) => x / instr.get(base)[i])
  const overI = ri.length > 0 ? (median(ri) - 1) * 100 : Number.NaN
  const instructionsPart = Number.isNaN(overI)
    ? ''
    : `; instructions ${pct(overI)}: ${verdict(overI, noiseI)}`
  console.log(
    `${LABELS[mode]} against ${LABELS[base]}: CPU ${pct(over)} (median of per-round ratios): ${verdict(over, noise)}${instructionsPart}`,
  )
}
