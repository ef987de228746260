// Whether the channel cost is paid once or per message: `node bench/runByRun.mjs [processes]`
// in packages/profiler, after `npx tsup`. Each process (`node runByRun.mjs <subscriber>`) runs
// bench/overheadChild.mjs's workload (10,000 loopback round trips, a cache and a query message
// each, published from the async loops) 3 times with nothing subscribed, then subscribes
// (`none`: nothing; `noop`: a subscriber that returns; `profile`: a channels-only profile for
// the rest of the process; `channelsStopped` / `defaultStopped`: a channels-only / a default
// profile around the first run only, what a finished profile leaves) and runs it 8 more times, printing each run's CPU time. The parent
// starts the processes in a new random order and prints, for each run after the switch, the
// median CPU time over the processes; with `VALGRIND=1` it prints whole-process instruction
// counts for RUNS=1 and RUNS=4 instead (the marginal run costs (n4 - n1) / 3).
import { execFile } from 'node:child_process'
import { subscribe } from 'node:diagnostics_channel'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { inlineWorkload, openLoopback } from './loopback.mjs'
import { countInstructions } from './valgrind.mjs'

const SUBSCRIBERS = ['none', 'noop', 'profile', 'channelsStopped', 'defaultStopped']
const subscriber = process.argv[2]
if (SUBSCRIBERS.includes(subscriber)) await child()
else await parent()

async function parent() {
  const self = fileURLToPath(import.meta.url)
  const n = Number(process.argv[2] ?? 5)
  const loads = [loadavg()[0]]
  if (process.env.VALGRIND === '1') {
    for (const s of SUBSCRIBERS) {
      const counts = []
      for (const runs of [1, 4]) {
        const env = { ...process.env, RUNS: String(runs) }
        counts.push((await countInstructions([self, s], { env, label: s })).instructions / 1e6)
      }
      const marginal = (counts[1] - counts[0]) / 3
      console.log(
        `| ${s} | ${counts[0].toFixed(1)} M | ${counts[1].toFixed(1)} M | ${marginal.toFixed(1)} M |`,
      )
    }
  } else {
    const run = promisify(execFile)
    const runs = new Map(SUBSCRIBERS.map((s) => [s, []]))
    for (let p = 0; p < n; p++) {
      for (const s of [...SUBSCRIBERS].sort(() => Math.random() - 0.5)) {
        const { stdout } = await run(process.execPath, [self, s], { timeout: 120_000 })
        runs.get(s).push(JSON.parse(stdout))
      }
      loads.push(loadavg()[0])
    }
    console.log('| subscriber | ms CPU of runs 1 … 8 after the switch (median over processes) |')
    console.log('| --- | --- |')
    for (const [s, xs] of runs) {
      const medians = xs[0].map((_, k) => median(xs.map((x) => x[k])).toFixed(1))
      console.log(`| ${s} | ${medians.join(' · ')} |`)
    }
  }
  console.log(
    `processes: ${n}; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
  )
}

async function child() {
  const { startProfile } = await import(process.env.BOOKGEN_PROFILER_ENTRY || '@bookgen/profiler')
  const loopback = await openLoopback()
  const workload = () => inlineWorkload(loopback.sockets)
  for (let k = 0; k < 3; k++) await workload()
  let profile
  if (subscriber === 'noop') {
    subscribe('bookgen:cache', () => {})
    subscribe('bookgen:db:query', () => {})
  } else if (subscriber === 'defaultStopped') {
    profile = startProfile()
  } else if (subscriber === 'profile' || subscriber === 'channelsStopped') {
    profile = startProfile({
      gc: false,
      heapPeak: 'sampler',
      eventLoop: false,
      sampleIntervalMs: 0,
    })
  }
  const ms = []
  for (let k = 0; k < Number(process.env.RUNS || 8); k++) {
    const cpu = process.cpuUsage()
    await workload()
    const used = process.cpuUsage(cpu)
    ms.push((used.user + used.system) / 1000)
    if (k === 0 && subscriber.endsWith('Stopped')) {
      profile.stop()
      profile = undefined
    }
  }
  profile?.stop()
  loopback.close()
  console.log(JSON.stringify(ms))
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
