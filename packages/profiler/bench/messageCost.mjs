// What one channel message costs, publisher side included: `node bench/messageCost.mjs [rounds]`
// in packages/profiler, after `npx tsup`. Each cell is a fresh process (`node messageCost.mjs
// <subscriber> <publisher> <shape>`) that publishes a `bookgen:cache` and a `bookgen:db:query`
// message per iteration, 1,000,000 iterations per timed loop (median of 7 after 3 warm-up
// loops), and prints nanoseconds per message; the parent runs the cells in a new random order
// each round and prints the median over the rounds.
//
// subscriber: `none` (nothing subscribed: the publisher builds nothing), `noop` (a subscriber
// that returns), `between` (the profiler subscribed by an earlier profile, none running: its
// handlers return), `profile` (a channels-only profile records every message).
// publisher: `optimized` (the loop TurboFan compiles, as a service's publishing method is) or
// `baseline` (the same loop never optimized, `%NeverOptimizeFunction`, as in the async loops of
// bench/overheadChild.mjs). shape: `one` (every query message has the same keys) or `mixed`
// (query messages with the optional keys present or not, five shapes, as a publisher that adds
// `name`, `rows`, `error` or `target` only when it has them produces).
import { execFile } from 'node:child_process'
import { channel, subscribe } from 'node:diagnostics_channel'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import v8 from 'node:v8'

const [subscriber, publisher, shape] = process.argv.slice(2)
if (publisher === undefined) await parent()
else await cell()

async function parent() {
  const run = promisify(execFile)
  const self = fileURLToPath(import.meta.url)
  const rounds = Number(process.argv[2] ?? 5)
  const cells = []
  for (const p of ['optimized', 'baseline'])
    for (const s of ['none', 'noop', 'between', 'profile']) cells.push([s, p, 'one'])
  for (const p of ['optimized', 'baseline']) cells.push(['profile', p, 'mixed'])
  const results = new Map(cells.map((c) => [c.join(' '), []]))
  const loads = []
  for (let r = 0; r < rounds; r++) {
    for (const c of cells.sort(() => Math.random() - 0.5)) {
      const { stdout } = await run(process.execPath, [self, ...c], { timeout: 120_000 })
      results.get(c.join(' ')).push(Number(stdout.trim()))
    }
    loads.push(loadavg()[0])
  }
  console.log(
    `rounds: ${rounds}; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
  )
  console.log('| subscriber | publisher | query message shapes | ns per message (median) |')
  console.log('| --- | --- | --- | ---: |')
  for (const [key, xs] of [...results].sort()) {
    const [s, p, sh] = key.split(' ')
    console.log(`| ${s} | ${p} | ${sh} | ${median(xs).toFixed(1)} |`)
  }
}

async function cell() {
  const { startProfile } = await import(process.env.BOOKGEN_PROFILER_ENTRY || '@bookgen/profiler')
  const cache = channel('bookgen:cache')
  const db = channel('bookgen:db:query')
  const N = 1_000_000
  const channelsOnly = { gc: false, heapPeak: 'sampler', eventLoop: false, sampleIntervalMs: 0 }
  const query = (i) => {
    if (shape === 'one') return { name: 'userById', sql: 'select 1', durationMs: 0.4, rows: 1 }
    const m = { sql: 'select 1', durationMs: 0.4 }
    const k = i % 5
    if (k === 1 || k === 4) m.name = 'userById'
    if (k === 2 || k === 4) m.rows = 1
    if (k === 3) m.target = 'replica'
    return m
  }
  const loop = () => {
    for (let i = 0; i < N; i++) {
      if (cache.hasSubscribers)
        cache.publish({
          op: i % 5 === 0 ? 'miss' : 'hit',
          key: 'k',
          namespace: 'user',
          durationMs: 0.05,
        })
      if (db.hasSubscribers) db.publish(query(i))
    }
  }
  // A cell runs one publisher kind, so one function serves both: kept out of TurboFan here for
  // `baseline`, left to tier up for `optimized`.
  if (publisher === 'baseline') {
    v8.setFlagsFromString('--allow-natives-syntax')
    new Function('f', '%NeverOptimizeFunction(f)')(loop)
  }
  let profile
  if (subscriber === 'noop') {
    subscribe('bookgen:cache', () => {})
    subscribe('bookgen:db:query', () => {})
  } else if (subscriber === 'between') {
    startProfile(channelsOnly).stop()
  } else if (subscriber === 'profile') {
    profile = startProfile(channelsOnly)
  }
  const ns = timeCase(loop, 2 * N)
  profile?.stop()
  console.log(ns)
}

/** Nanoseconds per message of `fn` (publishing `messages`): median of 7 timed calls after 3. */
function timeCase(fn, messages) {
  for (let k = 0; k < 3; k++) fn()
  const ns = []
  for (let k = 0; k < 7; k++) {
    const t = process.hrtime.bigint()
    fn()
    ns.push(Number(process.hrtime.bigint() - t) / messages)
  }
  return median(ns)
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
