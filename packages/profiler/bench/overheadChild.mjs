// One measured run of the cross-process overhead benchmark (bench/overhead.mjs starts it):
// 10,000 loopback TCP round trips that publish a bookgen:cache and a bookgen:db:query message each,
// as @bookgen/cache and @bookgen/db-optimizer do. Prints the process CPU time of the measured
// workload in microseconds, as JSON. argv[2] is the mode. 'bare', 'bare-again' and 'idle' never
// load the profiler (it subscribes to the channels when it loads); 'idle' and 'idle-loaded' skip
// the measured workload (the instruction counts of bench/overhead.mjs subtract them).
import { channel } from 'node:diagnostics_channel'
import { connect, createServer } from 'node:net'

const mode = process.argv[2]
const unloaded = mode === 'bare' || mode === 'bare-again' || mode === 'idle'
const { performanceProfile, startProfile } = unloaded ? {} : await import('@bookgen/profiler')
const OPS = 10_000
const CONCURRENCY = 50
const db = channel('bookgen:db:query')
const cache = channel('bookgen:cache')

const server = createServer((socket) => socket.pipe(socket))
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const { port } = server.address()
const sockets = await Promise.all(
  Array.from(
    { length: CONCURRENCY },
    () =>
      new Promise((resolve) => {
        const s = connect(port, '127.0.0.1', () => resolve(s))
        s.setNoDelay(true)
      }),
  ),
)
const payload = Buffer.alloc(64, 1)
const request = (s) =>
  new Promise((resolve) => {
    let got = 0
    const onData = (chunk) => {
      got += chunk.length
      if (got >= payload.length) {
        s.off('data', onData)
        resolve()
      }
    }
    s.on('data', onData)
    s.write(payload)
  })

async function workload() {
  let next = 0
  await Promise.all(
    sockets.map(async (s) => {
      while (next < OPS) {
        const i = next++
        const key = `bookgen:user:${i}`
        if (cache.hasSubscribers) {
          cache.publish({
            op: i % 5 === 0 ? 'miss' : 'hit',
            key,
            namespace: 'user',
            durationMs: 0.05,
          })
        }
        await request(s)
        JSON.parse(JSON.stringify({ id: i, name: key, tags: ['a', 'b'] }))
        if (db.hasSubscribers) {
          db.publish({
            name: 'userById',
            sql: 'select * from users where id = $1',
            durationMs: 0.4,
            rows: 1,
          })
        }
      }
    }),
  )
}

// Warm-up: the same work once, unmeasured ('after' also runs one isolated profile, to measure
// what a finished profile leaves behind; 'second' one default profile, to measure a profile that
// is not the process's first).
if (mode === 'after') await performanceProfile(() => workload(), { isolate: true })
else if (mode === 'second') await performanceProfile(() => workload())
else await workload()

const cpu = process.cpuUsage()
if (mode === 'idle' || mode === 'idle-loaded') {
  // nothing measured
} else if (mode === 'bare' || mode === 'bare-again' || mode === 'loaded' || mode === 'after') {
  await workload()
} else if (mode === 'second') {
  const p = startProfile()
  await workload()
  p.stop()
} else if (mode === 'startProfile') {
  const p = startProfile()
  await workload()
  p.stop()
} else if (mode === 'channelsOnly') {
  const p = startProfile({ gc: false, eventLoop: false, sampleIntervalMs: 0 })
  await workload()
  p.stop()
} else if (mode === 'performanceProfile') {
  await performanceProfile(() => workload())
} else if (mode === 'isolate') {
  await performanceProfile(() => workload(), { isolate: true })
} else {
  throw new Error(`unknown mode ${mode}`)
}
const used = process.cpuUsage(cpu)
for (const s of sockets) s.destroy()
server.close()
console.log(JSON.stringify({ mode, cpuMicros: used.user + used.system }))
