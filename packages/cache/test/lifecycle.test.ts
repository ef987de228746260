// Process-level behaviour, in child processes: timers never keep a process alive, closing ends
// everything, and failures never surface as unhandled rejections.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { getFreePort } from '../../../tools/testing/servers.mjs'
import { REDIS_URL } from './helpers.js'

const run = promisify(execFile)
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsx = join(packageDir, '..', '..', 'node_modules', '.bin', 'tsx')
const entry = pathToFileURL(join(packageDir, 'src', 'index.ts')).href
const folder = mkdtempSync(join(tmpdir(), 'bookgen-cache-lifecycle-'))

/**
 * Runs a script that imports the package source; rejects if it does not exit within 60 s (a hang
 * bound: tsx compiling the sources on a loaded machine takes seconds; a leaked handle never exits).
 */
async function runScript(name: string, body: string): Promise<string> {
  const file = join(folder, `${name}.mts`)
  writeFileSync(
    file,
    `import * as lib from ${JSON.stringify(entry)}
process.on('unhandledRejection', (e) => { console.log('UNHANDLED', String(e)); process.exitCode = 3 })
// After close() nothing may hold the process: fail if it is still alive a second later.
const exitsSoon = () => setTimeout(() => { console.log('STILL ALIVE'); process.exit(4) }, 1000).unref()
${body}`,
  )
  // Plain output whatever the runner's colour settings (nx forces colour: console.log of a number
  // would carry escape codes). NO_COLOR is dropped too: Node warns on stderr when both are set.
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: '0' }
  delete env.NO_COLOR
  const { stdout, stderr } = await run(tsx, [file], {
    env,
    timeout: 60_000,
    killSignal: 'SIGKILL',
  }).catch((error: { code?: unknown; signal?: unknown; stdout?: string; stderr?: string }) => {
    throw new Error(
      `${name}: exit ${String(error.code)}, signal ${String(error.signal)}\nstdout: ${error.stdout}\nstderr: ${error.stderr}`,
    )
  })
  expect(stderr).toBe('')
  return stdout.trim()
}

describe('process lifecycle', () => {
  afterAll(() => {
    rmSync(folder, { recursive: true, force: true })
  })

  it('an unclosed MemoryCache and a cached() with stale-while-revalidate let the process exit', async () => {
    const out = await runScript(
      'memory',
      `const cache = new lib.MemoryCache()
let n = 0
const f = lib.cached(async () => ++n, { cache, keyPrefix: 'swr', ttl: 1, staleWhileRevalidate: 60 })
await f(); await cache.set('k', 1, 3600)
console.log('done', await f(), await cache.get('k'))
exitsSoon()`,
    )
    expect(out).toBe('done 1 1')
  })

  it('a RedisCache whose server never answers: calls fail soft, close() ends the process', async () => {
    const port = await getFreePort()
    const out = await runScript(
      'dead',
      `const cache = new lib.RedisCache({ url: 'redis://127.0.0.1:${port}', commandTimeout: 100 })
const results = []
for (let i = 0; i < 8; i++) results.push(await cache.get('k'), await cache.set('k', i, 60))
results.push((await cache.getMany(['a', 'b'])).size, await cache.setMany({ a: 1 }, 60), await cache.clear().catch((e) => e.code))
const f = lib.cached(async () => 42, { cache, keyPrefix: 'lifecycle' })
results.push(await f())
await cache.close()
exitsSoon()
console.log(JSON.stringify({ results: [...new Set(results.map(String))], circuit: cache.getHealth().circuit }))`,
    )
    expect(JSON.parse(out)).toEqual({
      results: ['undefined', 'false', '0', 'CLEAR_INCOMPLETE', '42'],
      circuit: 'open',
    })
  })

  it('closing a RedisCache pointed at a server that is not Redis leaves nothing unhandled behind', async () => {
    // A port that answers HTTP (a misconfigured URL): the connection breaks with protocol errors
    // and ioredis reports a queued command's failure after close().
    const port = await getFreePort()
    const out = await runScript(
      'not-redis',
      `import { createServer } from 'node:net'
const sockets = []
const server = createServer((s) => {
  sockets.push(s)
  s.on('data', () => s.end('HTTP/1.1 400 Bad Request\\r\\nConnection: close\\r\\n\\r\\n'))
}).listen(${port}, '127.0.0.1')
await new Promise((r) => server.once('listening', r))
const cache = new lib.RedisCache({ url: 'redis://127.0.0.1:${port}' })
const results = [await cache.get('k'), await cache.set('k', 1, 60)]
await cache.close()
await new Promise((r) => setTimeout(r, 800)) // late failures of queued commands would show now
for (const s of sockets) s.destroy()
server.close()
exitsSoon()
console.log(JSON.stringify(results.map(String)))`,
    )
    expect(JSON.parse(out)).toEqual(['undefined', 'false'])
  })

  it('a TieredCache constructor that rejects its memory options leaves no connection open', async () => {
    const out = await runScript(
      'tiered-bad-options',
      `let code
try {
  new lib.TieredCache({ remote: { url: ${JSON.stringify(REDIS_URL)} }, memory: { maxEntries: 0 } })
} catch (error) {
  code = error.code
}
exitsSoon()
console.log(code)`,
    )
    expect(out).toBe('INVALID_OPTION')
  })

  it('a RedisCache on a live server: close() is all it takes to exit', async () => {
    const out = await runScript(
      'live',
      `const cache = new lib.RedisCache({ url: ${JSON.stringify(REDIS_URL)}, namespace: 'bookgen-test-lifecycle-' + process.pid })
await cache.set('k', { a: 1 }, 60)
const value = await cache.get('k')
await cache.clear()
await using tiered = new lib.TieredCache({ remote: { url: ${JSON.stringify(REDIS_URL)}, namespace: 'bookgen-test-lifecycle-t-' + process.pid } })
await tiered.set('t', 1, 60); await tiered.clear()
await cache.close()
exitsSoon()
console.log(JSON.stringify(value))`,
    )
    expect(out).toBe('{"a":1}')
  })
})
