// Cross-process overhead of a profile: `node bench/overhead.mjs [rounds] [modes…]` in
// packages/profiler, after `npx tsup` (the children import the built package).
//
// CPU time: each round starts one fresh process per mode, in a new random order, and divides each
// mode's CPU time of the measured workload by the same round's bare run. Each row gives the median
// of those per-round ratios and its 95 % confidence interval (distribution-free, from order
// statistics: no assumption on the shape of the noise); the verdict is "met" when the whole
// interval is below 1 %, "missed" when it is above, "not resolved" otherwise. The A/A row (bare
// against a second bare process) shows the method's own bias, which should be 0 within its
// interval, and the per-round spread (median |A/A − 1|), which more rounds do not shrink but which
// narrows the intervals as 1/√rounds. The bare run's user share of its CPU is printed: instruction
// counts (below) cover user space only, so an instruction overhead times that share estimates the
// process-CPU overhead when the added work is user space (as the profiler's is).
//
// Instructions (`INSTRUCTION_ROUNDS=n`, default 3; 0 skips them; `INSTRUCTION_JOBS=n` at a time): the same children under
// valgrind (cachegrind, no cache simulation), which counts the instructions a process executes
// whatever else runs on the machine (user space only: the kernel's share of the loopback I/O is
// not in it). Valgrind counts the whole process, so each round also runs the `idle…` children
// (everything but the measured workload: the same loading and the same warm-up) and the
// measured workload's count is the difference. Under valgrind a child runs several times slower
// (~7× for cachegrind without cache simulation here), so the profile's timers would fire that much
// more often per round trip than natively: the instruction runs stretch the profile's timer
// intervals by `INSTRUCTION_TIME_SCALE`, by default measured first (the bare workload's wall time
// under valgrind over its native median) so that they fire as often per round trip as natively.
// (The GC profiler's internal 1 s restart is not stretched: it runs more often than natively, a
// bias against the profiler, of ~0.3 M instructions a restart.)
// The children under valgrind run with `INSTRUCTION_NODE_FLAGS` (default `--predictable`: V8's
// seeds fixed and its compiler and GC on the main thread, so that one round is exact; '' for none).
// Exact is not unbiased: a mode that allocates differently puts the process on another memory
// layout, which alone moves a count by ~2 %. So every instruction round gives its children a seed
// of its own (OVERHEAD_SEED, bench/overheadChild.mjs: seeded ballast allocated first), the A/A
// child ('bare-again') another one, and the rows are medians over those layouts, with the same
// 95 % intervals and verdicts as the CPU rows from 6 rounds on (`INSTRUCTION_ROUNDS`).
// Slow (~20 s of CPU per child).
//
// `OVERHEAD_PUBLISHERS=packages|functions|inline` (passed on to the children): how the messages
// are published (bench/overheadChild.mjs): `packages` (the default) as @bookgen/cache and
// @bookgen/db-optimizer publish, from small timed functions that TurboFan optimizes within the
// warm-up; `functions` from two small untimed functions; `inline` from the never-optimized async
// loops (the default before 2026-12-02 07:00 UTC);
// `OVERHEAD_WARMUPS=n`: each child runs its warm-up n times (default 1) before the measured run;
// `OVERHEAD_WINDOWS=n`: each child measures n windows in a row (default 1), each the 10,000 round
// trips under a profile of its own (bench/overheadChild.mjs), so that when collections fall
// relative to a window averages out.
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
const SCALE_GIVEN = process.env.INSTRUCTION_TIME_SCALE
// V8 flags of the children under valgrind. `--predictable` (the default) fixes V8's hash and
// random seeds and runs its compiler and GC on the main thread, so that two runs of the same child
// count the same instructions to within ~0.01 % (without it, the A/A pair differs by 2–4 %, from
// when background compile jobs finish and from seeded hash tables); '' runs Node as it is.
const NODE_FLAGS = (process.env.INSTRUCTION_NODE_FLAGS ?? '--predictable')
  .split(' ')
  .filter(Boolean)
const PUBLISHERS = process.env.OVERHEAD_PUBLISHERS || 'packages'
const WARMUPS = process.env.OVERHEAD_WARMUPS || '1'
const WINDOWS = process.env.OVERHEAD_WINDOWS || '1'
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
  'subscribedSampler',
  'subscribedAfter',
  'subscribedSamplerAfter',
  'subscribedGc',
  'subscribedGcAfter',
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
  subscribedSampler: 'idle-subscribed',
  subscribedAfter: 'idle-subscribed-profile',
  subscribedSamplerAfter: 'idle-subscribed-sampler-profile',
  subscribedGc: 'idle-subscribed',
  subscribedGcAfter: 'idle-subscribed-gc-profile',
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
  subscribedSampler:
    "`subscribeChannels()` at startup, then `startProfile({ heapPeak: 'sampler' })` (no GC profiler)",
  subscribedAfter: '`subscribeChannels()` at startup, bare work after one default profile ended',
  subscribedSamplerAfter:
    "`subscribeChannels()` at startup, bare work after one `heapPeak: 'sampler'` profile ended",
  subscribedGc:
    "`subscribeChannels()` at startup, then `startProfile({ heapPeak: 'gc' })` (GC profiler)",
  subscribedGcAfter:
    "`subscribeChannels()` at startup, bare work after one `heapPeak: 'gc'` profile ended",
  noopSubscriber:
    'a no-op subscriber at startup, profiler not loaded (Node’s and the publishers’ share)',
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
// The 95 % confidence interval of the median of `xs` from order statistics (the j-th and k-th
// smallest, j and k the binomial(n, ½) quantiles, normal approximation); [NaN, NaN] below 6 values.
const medianCi = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  if (n < 6) return [Number.NaN, Number.NaN]
  const half = 0.98 * Math.sqrt(n)
  const j = Math.max(1, Math.floor(n / 2 - half))
  const k = Math.min(n, Math.ceil(n / 2 + 1 + half))
  return [s[j - 1], s[k - 1]]
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
const bareWallMs = []
const userShares = []
for (let r = 0; r < ROUNDS; r++) {
  const cpu = {}
  let bareUser = 0
  for (const mode of shuffle(MODES)) {
    const { stdout } = await run(process.execPath, [child, mode], { timeout: 120_000 })
    const out = JSON.parse(stdout.trim().split('\n').at(-1))
    cpu[mode] = out.cpuMicros
    if (mode === 'bare') {
      bareUser = out.userMicros
      bareWallMs.push(out.wallMicros / 1000)
    }
  }
  loads.push(loadavg()[0])
  bareMs.push(cpu.bare / 1000)
  userShares.push(bareUser / cpu.bare)
  for (const mode of MODES) ratios.get(mode).push(cpu[mode] / cpu.bare)
}

// ---- Instructions ----
// The timer stretch: valgrind's slowdown of the bare workload's wall time, unless given.
async function timeScale() {
  if (SCALE_GIVEN !== undefined) return Number(SCALE_GIVEN)
  if (INSTRUCTION_ROUNDS === 0) return Number.NaN
  while (bareWallMs.length < 3) {
    const { stdout } = await run(process.execPath, [child, 'bare'], { timeout: 120_000 })
    bareWallMs.push(JSON.parse(stdout.trim().split('\n').at(-1)).wallMicros / 1000)
  }
  const { stdout } = await countInstructions([...NODE_FLAGS, child, 'bare'], {
    label: 'bare (calibration)',
  })
  const underValgrind = JSON.parse(stdout.trim().split('\n').at(-1)).wallMicros / 1000
  return Math.round((underValgrind / median(bareWallMs)) * 10) / 10
}
const TIME_SCALE = await timeScale()
async function instructions(mode, seed) {
  const env = {
    ...process.env,
    OVERHEAD_TIME_SCALE: String(TIME_SCALE),
    OVERHEAD_SEED: String(seed),
  }
  const label = `${mode} (seed ${seed})`
  return (await countInstructions([...NODE_FLAGS, child, mode], { env, label })).instructions
}
const instr = new Map(MODES.map((m) => [m, []]))
const bareInstr = []
// The A/A child runs on another layout than the round's other children.
const seedOf = (round, mode) => (mode === 'bare-again' ? 1000 + round : 1 + round)
const idleOf = (mode) => IDLE[mode] ?? 'idle-loaded'
for (let r = 0; r < INSTRUCTION_ROUNDS; r++) {
  const jobs = new Map()
  for (const mode of MODES) {
    const seed = seedOf(r, mode)
    jobs.set(`${mode}@${seed}`, [mode, seed])
    jobs.set(`${idleOf(mode)}@${seed}`, [idleOf(mode), seed])
  }
  const keys = shuffle([...jobs.keys()])
  const counts = {}
  let next = 0
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]
      counts[key] = await instructions(...jobs.get(key))
    }
  }
  await Promise.all(Array.from({ length: INSTRUCTION_JOBS }, worker))
  loads.push(loadavg()[0])
  const own = (mode) => {
    const seed = seedOf(r, mode)
    return counts[`${mode}@${seed}`] - counts[`${idleOf(mode)}@${seed}`]
  }
  const work = own('bare')
  bareInstr.push(work)
  for (const mode of MODES) instr.get(mode).push(own(mode) / work)
}

const noise =
  ROUNDS > 0 ? median(ratios.get('bare-again').map((x) => Math.abs(x - 1))) * 100 : Number.NaN
const userShare = ROUNDS > 0 ? median(userShares) : Number.NaN
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
// The CPU verdict, from the 95 % interval of the median overhead (percent).
const ciVerdict = (lo, hi) => {
  if (Number.isNaN(lo)) return '— (fewer than 6 rounds)'
  if (hi < 1) return 'met (interval below 1 %)'
  if (lo >= 1) return 'missed (interval above 1 %)'
  return 'not resolved (interval spans 1 %)'
}
// Median overhead (percent) of per-round ratios, its 95 % interval, and how the row reads.
const cpuRow = (perRound) => {
  if (perRound.length === 0) return { text: '—', verdict: '—' }
  const over = (median(perRound) - 1) * 100
  const [lo, hi] = medianCi(perRound).map((x) => (x - 1) * 100)
  const ci = Number.isNaN(lo) ? '' : ` [${pct(lo)}, ${pct(hi)}]`
  return { text: `${pct(over)}${ci}`, verdict: ciVerdict(lo, hi) }
}
// The same for instruction ratios; below 6 rounds, the verdict against the per-round floor.
const instructionRow = (perRound) => {
  if (perRound.length === 0) return { over: Number.NaN, text: '—', verdict: '—' }
  const over = (median(perRound) - 1) * 100
  if (perRound.length < 6) return { over, text: pct(over), verdict: verdict(over, noiseI) }
  return { over, ...cpuRow(perRound) }
}
const estimate = (overI) =>
  Number.isNaN(overI) || Number.isNaN(userShare) ? '—' : pct(overI * userShare)
const rows = []
for (const mode of MODES.slice(1)) {
  const c = cpuRow(ratios.get(mode))
  const i = instructionRow(instr.get(mode))
  const v = mode === 'bare-again' ? '' : `CPU: ${c.verdict}; instructions: ${i.verdict}`
  rows.push(`| ${LABELS[mode]} | ${c.text} | ${i.text} | ${estimate(i.over)} | ${v} |`)
}
console.log(
  `publishers: ${PUBLISHERS}, warm-up runs: ${WARMUPS}, measured windows per child: ${WINDOWS}; CPU rounds: ${ROUNDS}, bare workload CPU median ${median(bareMs).toFixed(0)} ms; instruction rounds: ${INSTRUCTION_ROUNDS}${INSTRUCTION_ROUNDS > 0 ? `, bare workload ${(median(bareInstr) / 1e6).toFixed(0)} M instructions, timer intervals ×${TIME_SCALE}, node flags ${NODE_FLAGS.join(' ') || 'none'}` : ''}; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
)
console.log(
  `per-round noise (median |A/A − 1|): CPU ${noise.toFixed(1)} %, instructions ${noiseI.toFixed(2)} %; user share of the bare workload's CPU ${(userShare * 100).toFixed(0)} %`,
)
console.log(
  '| mode | CPU vs bare (median of per-round ratios [95 % interval]) | instructions vs bare (median) | instructions × user share (est. process CPU) | < 1 % target |',
)
console.log('| --- | ---: | ---: | ---: | --- |')
for (const row of rows) console.log(row)
// What a profile adds to a process already subscribed at startup (each round's profiled run
// against the same round's subscribed run), judged against the same A/A floor.
for (const [mode, base] of [
  ['subscribedProfile', 'subscribed'],
  ['subscribedChannels', 'subscribed'],
  ['subscribedSampler', 'subscribed'],
  ['subscribedAfter', 'subscribed'],
  ['subscribedSamplerAfter', 'subscribed'],
  ['subscribedGc', 'subscribed'],
  ['subscribedGcAfter', 'subscribed'],
]) {
  if (!MODES.includes(mode) || !MODES.includes(base)) continue
  const c = cpuRow(ratios.get(mode).map((x, i) => x / ratios.get(base)[i]))
  const i = instructionRow(instr.get(mode).map((x, k) => x / instr.get(base)[k]))
  const instructionsPart = Number.isNaN(i.over)
    ? ''
    : `; instructions ${i.text}: ${i.verdict} (× user share: ${estimate(i.over)})`
  console.log(
    `${LABELS[mode]} against ${LABELS[base]}: CPU ${c.text} (median of per-round ratios [95 % interval]): ${c.verdict}${instructionsPart}`,
  )
}
