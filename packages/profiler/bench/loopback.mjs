// The workload of the overhead benches (overheadChild.mjs, runByRun.mjs, index.ts): 10,000
// loopback TCP round trips over 50 connections, each publishing a bookgen:cache and a
// bookgen:db:query message, in three ways: `packagesWorkload` as @bookgen/cache and
// @bookgen/db-optimizer publish (from small functions called per operation, timed with
// performance.now(), the query message built key by key), `functionsWorkload` from two small
// functions with constant durations, `inlineWorkload` from the long-lived loops themselves.
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

// As @bookgen/cache's stores publish (src/cacheChannel.ts `eventStart` / `publishTimedEvent`):
// the operation is timed only while the channel has subscribers.
function cacheEventStart() {
  return cache.hasSubscribers ? performance.now() : -1
}
function publishTimedCacheEvent(op, key, namespace, start) {
  cache.publish({ op, key, namespace, durationMs: performance.now() - start })
}
// As @bookgen/db-optimizer's QueryInstrumentation.record publishes (src/instrumentation.ts): the
// statement is always timed, and the message gets its optional keys one by one.
function recordQuery(sql, start, name, rows) {
  const durationMs = performance.now() - start
  if (!db.hasSubscribers) return
  const message = { sql, durationMs }
  if (name !== undefined) message.name = name
  if (rows !== undefined) message.rows = rows
  db.publish(message)
}

/**
 * The workload with the messages published the way the packages publish them: a memory-cache
 * lookup (`getSync`: timed, published as a hit or a miss) and a timed statement (the round
 * trip), from small module-level functions that TurboFan optimizes within a warm-up.
 */
export async function packagesWorkload(sockets) {
  let next = 0
  await Promise.all(
    sockets.map(async (s) => {
      while (next < OPS) {
        const i = next++
        const key = `bookgen:user:${i}`
        const start = cacheEventStart()
        if (start >= 0) publishTimedCacheEvent(i % 5 === 0 ? 'miss' : 'hit', key, 'user', start)
        const from = performance.now()
        await request(s)
        JSON.parse(JSON.stringify({ id: i, name: key, tags: ['a', 'b'] }))
        recordQuery('select * from users where id = $1', from, 'userById', 1)
      }
    }),
  )
}
