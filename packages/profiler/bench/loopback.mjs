// The workload of the cross-process overhead benches (overheadChild.mjs, runByRun.mjs): 10,000
// loopback TCP round trips over 50 connections, each publishing a bookgen:cache and a
// bookgen:db:query message as @bookgen/cache and @bookgen/db-optimizer do.
import { channel } from 'node:diagnostics_channel'
import { connect, createServer } from 'node:net'

/** Round trips per workload run. */
export const OPS = 10_000
/** Connections, each running one loop of round trips. */
export const CONCURRENCY = 50
const db = channel('bookgen:db:query')
const cache = channel('bookgen:cache')
const payload = Buffer.alloc(64, 1)

/** An echo server on loopback and 50 connected sockets; `close()` ends them. */
export async function openLoopback() {
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
  return {
    sockets,
    close() {
      for (const s of sockets) s.destroy()
      server.close()
    },
  }
}

/** One round trip of 64 bytes on socket `s`. */
function request(s) {
  return new Promise((resolve) => {
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
}

/**
 * The workload with the messages built and published in the 50 long-lived async loops
 * themselves, which V8 never optimizes within a run (no on-stack replacement into them).
 */
export async function inlineWorkload(sockets) {
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

function publishCache(i, key) {
  if (cache.hasSubscribers) {
    cache.publish({ op: i % 5 === 0 ? 'miss' : 'hit', key, namespace: 'user', durationMs: 0.05 })
  }
}
function publishQuery() {
  if (db.hasSubscribers) {
    db.publish({
      name: 'userById',
      sql: 'select * from users where id = $1',
      durationMs: 0.4,
      rows: 1,
    })
  }
}

/**
 * The workload with the messages published from two small module-level functions called once per
 * operation, the way the packages publish from their own methods: TurboFan optimizes those
 * within a warm-up, as a long-running service's publishers are.
 */
export async function functionsWorkload(sockets) {
  let next = 0
  await Promise.all(
    sockets.map(async (s) => {
      while (next < OPS) {
        const i = next++
        const key = `bookgen:user:${i}`
        publishCache(i, key)
        await request(s)
        JSON.parse(JSON.stringify({ id: i, name: key, tags: ['a', 'b'] }))
        publishQuery()
      }
    }),
  )
}
