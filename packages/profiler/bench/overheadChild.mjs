// One measured run of the cross-process overhead benchmark (bench/overhead.mjs starts it):
// 10,000 loopback TCP round trips that publish a bookgen:cache and a bookgen:db:query message each,
// as @bookgen/cache and @bookgen/db-optimizer do. Prints the process CPU time of the measured
// workload in microseconds, as JSON. argv[2] is the mode. 'bare', 'bare-again' and 'idle' never
// load the profiler. Every mode runs the workload once unmeasured first (its warm-up: bare, or
// under a default or an isolated profile); 'idle…' modes run only a warm-up (the instruction
// counts of bench/overhead.mjs subtract the idle run with the same warm-up). 'subscribed…' modes
// call subscribeChannels() first, before the warm-up: what a service that subscribes at startup
// pays without a profile ('subscribed'), for a profile ('subscribedProfile', 'subscribedChannels',
// 'subscribedSampler', 'subscribedGc' with heapPeak: 'gc')
// and after one ('subscribedAfter', 'subscribedSamplerAfter' after one with heapPeak: 'sampler', 'subscribedGcAfter' with 'gc'); 'noopSubscriber' subscribes a function that returns at
// startup instead, the profiler not loaded (what any subscriber costs: Node and the publishers).
// Env: BOOKGEN_PROFILER_ENTRY, another build to import (A/B of two builds); OVERHEAD_TIME_SCALE,
// a factor for the profile's timer intervals (valgrind runs a process ~S× slower, so timers
// would fire S× more often per round trip than natively: the instruction runs set S);
// OVERHEAD_PUBLISHERS, where the messages are built and published (bench/loopback.mjs):
// `packages` (the default) the way @bookgen/cache and @bookgen/db-optimizer publish, from small
// functions called per operation that time it with performance.now() and build the query message
// key by key (TurboFan optimizes those within the warm-up, as a long-running service's publishers
// are); `functions`, from two small functions with constant durations; `inline`, in the 50
// long-lived async loops themselves, which V8 does not optimize within a run;
// OVERHEAD_WARMUPS, how many times the warm-up runs (default 1; more lets the JIT settle first);
// OVERHEAD_WINDOWS, how many measured windows run one after the other (default 1), each the
// workload under its own profile (a steady-state service's profiles, one per 10,000 round trips):
// when collections fall in a window moves with the layout, and over several windows that
// averages out;
// OVERHEAD_SEED, a positive integer: before anything else, keep a seeded number of buffers and
// strings of seeded sizes alive, which moves where malloc and V8 place everything after them (the
// process's memory layout). Under `node --predictable` a child's instruction count is exact for
// one layout, but a mode that allocates differently lands on another layout, which alone moves
// the count by ~2 %: bench/overhead.mjs gives every instruction round its own seed, so that its
// medians are over layouts, not of one.
import { subscribe } from 'node:diagnostics_channel'
import { functionsWorkload, inlineWorkload, openLoopback, packagesWorkload } from './loopback.mjs'

const seed = Number(process.env.OVERHEAD_SEED || 0)
if (!Number.isInteger(seed) || seed < 0)
  throw new Error(`OVERHEAD_SEED must be a non-negative integer, got ${process.env.OVERHEAD_SEED}`)
const ballast = []
if (seed > 0) {
  // xorshift32: the same sizes for the same seed in every mode.
  let x = seed * 2654435761
  const next = () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return x >>> 0
  }
  const count = next() % 256
  for (let i = 0; i < count; i++) {
    ballast.push(Buffer.allocUnsafeSlow(16 + (next() % 4096)))
    ballast.push('x'.repeat(1 + (next() % 512)))
  }
}

const mode = process.argv[2]
const noop = () => {}
const WARM_UP = {
  idle: 'bare',
  'idle-loaded': 'bare',
  'idle-profile': 'profile',
  'idle-isolated': 'isolated',
  bare: 'bare',
  'bare-again': 'bare',
  loaded: 'bare',
  startProfile: 'bare',
  channelsOnly: 'bare',
  sampler: 'bare',
  performanceProfile: 'bare',
  second: 'profile',
  afterProfile: 'profile',
  after: 'isolated',
  isolate: 'bare',
  'idle-subscribed': 'bare',
  subscribed: 'bare',
  subscribedProfile: 'bare',
  subscribedChannels: 'bare',
  subscribedSampler: 'bare',
  'idle-subscribed-profile': 'profile',
  subscribedAfter: 'profile',
  'idle-subscribed-sampler-profile': 'samplerProfile',
  subscribedSamplerAfter: 'samplerProfile',
  subscribedGc: 'bare',
  'idle-subscribed-gc-profile': 'gcProfile',
  subscribedGcAfter: 'gcProfile',
  'idle-noop': 'bare',
  noopSubscriber: 'bare',
}
if (!(mode in WARM_UP)) throw new Error(`unknown mode ${mode}`)
const unloaded = ['bare', 'bare-again', 'idle', 'noopSubscriber', 'idle-noop'].includes(mode)
const { performanceProfile, startProfile, subscribeChannels } = unloaded
  ? {}
  : await import(process.env.BOOKGEN_PROFILER_ENTRY || '@bookgen/profiler')
if (mode.startsWith('subscribed') || mode.startsWith('idle-subscribed')) subscribeChannels()
// Any subscriber's cost, the profiler not loaded: what Node and the publishers pay.
if (mode === 'noopSubscriber' || mode === 'idle-noop')
  for (const name of ['bookgen:cache', 'bookgen:db:query', 'bookgen:parallel:task'])
    subscribe(name, noop)
const WORKLOADS = {
  packages: packagesWorkload,
  functions: functionsWorkload,
  inline: inlineWorkload,
}
const publishers = process.env.OVERHEAD_PUBLISHERS || 'packages'
if (!(publishers in WORKLOADS))
  throw new Error(`OVERHEAD_PUBLISHERS must be packages, functions or inline, got ${publishers}`)
const WARMUPS = Number(process.env.OVERHEAD_WARMUPS || 1)
if (!Number.isInteger(WARMUPS) || WARMUPS < 1)
  throw new Error(`OVERHEAD_WARMUPS must be a positive integer, got ${WARMUPS}`)
const scale = Number(process.env.OVERHEAD_TIME_SCALE || 1)
// The defaults (100 ms sampler, 10 ms event-loop resolution), stretched by the time scale.
const timers =
  scale === 1
    ? {}
    : { sampleIntervalMs: Math.round(100 * scale), eventLoopResolutionMs: Math.round(10 * scale) }
const loopback = await openLoopback()
const run = WORKLOADS[publishers]
const workload = () => run(loopback.sockets)

// Warm-up: the same work once, unmeasured (under a default profile for 'second' and
// 'afterProfile', under an isolated one for 'after', to measure what a finished profile leaves
// behind and what a profile that is not the process's first costs).
const warm = WARM_UP[mode]
for (let w = 0; w < WARMUPS; w++) {
  if (warm === 'isolated') await performanceProfile(() => workload(), { isolate: true, ...timers })
  else if (warm === 'profile') await performanceProfile(() => workload(), timers)
  else if (warm === 'gcProfile')
    await performanceProfile(() => workload(), { heapPeak: 'gc', ...timers })
  else if (warm === 'samplerProfile')
    await performanceProfile(() => workload(), { heapPeak: 'sampler', ...timers })
  else await workload()
}

// Modes whose measured run is the bare workload (what they differ in is before it).
const BARE_WORK = new Set([
  'bare',
  'bare-again',
  'loaded',
  'after',
  'afterProfile',
  'subscribed',
  'subscribedAfter',
  'subscribedSamplerAfter',
  'subscribedGcAfter',
  'noopSubscriber',
])
// One measured window: the workload once, under the mode's profile if it has one.
async function window() {
  if (mode.startsWith('idle')) {
    // nothing measured
  } else if (BARE_WORK.has(mode)) {
    await workload()
  } else if (mode === 'startProfile' || mode === 'second' || mode === 'subscribedProfile') {
    const p = startProfile(timers)
    await workload()
    p.stop()
  } else if (mode === 'channelsOnly' || mode === 'subscribedChannels') {
    const p = startProfile({
      gc: false,
      heapPeak: 'sampler',
      eventLoop: false,
      sampleIntervalMs: 0,
    })
    await workload()
    p.stop()
  } else if (mode === 'subscribedGc') {
    const p = startProfile({ heapPeak: 'gc', ...timers })
    await workload()
    p.stop()
  } else if (mode === 'sampler' || mode === 'subscribedSampler') {
    const p = startProfile({ heapPeak: 'sampler', ...timers })
    await workload()
    p.stop()
  } else if (mode === 'performanceProfile') {
    await performanceProfile(() => workload(), timers)
  } else if (mode === 'isolate') {
    await performanceProfile(() => workload(), { isolate: true, ...timers })
  }
}
const WINDOWS = Number(process.env.OVERHEAD_WINDOWS || 1)
if (!Number.isInteger(WINDOWS) || WINDOWS < 1)
  throw new Error(
    `OVERHEAD_WINDOWS must be a positive integer, got ${process.env.OVERHEAD_WINDOWS}`,
  )
const cpu = process.cpuUsage()
const wallStart = performance.now()
for (let w = 0; w < WINDOWS; w++) await window()
const used = process.cpuUsage(cpu)
const wallMicros = Math.round((performance.now() - wallStart) * 1000)
loopback.close()
if (ballast.length < 0) throw new Error('unreachable: keeps the ballast alive to the end')
console.log(
  JSON.stringify({
    mode,
    cpuMicros: used.user + used.system,
    userMicros: used.user,
    systemMicros: used.system,
    wallMicros,
  }),
)
