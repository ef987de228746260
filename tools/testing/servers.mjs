// Throwaway Redis and PostgreSQL servers on free loopback ports, for the services script and for
// fault tests that need a server they may kill and restart. Nothing here runs on import.
import { execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function getFreePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Resolves true when a TCP connection to host:port succeeds within timeoutMs. */
export function canConnect(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/** Sends PING to a Redis server and resolves true on +PONG (or an auth error: it is up). */
export function redisPing(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    let data = ''
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      data += chunk.toString()
      if (data.includes('\r\n')) done(data.startsWith('+PONG') || data.startsWith('-NOAUTH'))
    })
    socket.once('error', () => done(false))
  })
}

/** Polls until check() resolves true or timeoutMs passes. */
export async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/** Returns the path of an executable on PATH, or undefined. */
export function which(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  return undefined
}

/**
 * Starts a throwaway redis-server on a free loopback port (no persistence). The returned handle can
 * stop it gracefully, kill it (SIGKILL, as a crash) and start it again on the same port.
 * @param {{ port?: number, args?: string[] }} [options]
 */
export async function startRedis(options = {}) {
  const bin = which('redis-server')
  if (!bin) throw new Error('redis-server is not installed (Debian: apt-get install redis-server)')
  let port = options.port ?? (await getFreePort())
  const dir = mkdtempSync(join(tmpdir(), 'bookgen-redis-'))
  const logfile = join(dir, 'redis.log')
  let child
  const start = async () => {
    child = spawn(
      bin,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--logfile',
        logfile,
        ...(options.args ?? []),
      ],
      { stdio: 'ignore' },
    )
    child.unref()
    const started = child
    await waitFor(
      () => {
        if (started.exitCode !== null || started.signalCode !== null) {
          const log = existsSync(logfile)
            ? readFileSync(logfile, 'utf8').trim().split('\n').slice(-3)
            : []
          throw new Error(`redis-server on port ${port} exited while starting: ${log.join(' | ')}`)
        }
        return redisPing('127.0.0.1', port, 200)
      },
      20_000,
      `redis-server on port ${port}`,
    )
  }
  const waitExit = (c) =>
    new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) resolve()
      else c.once('exit', () => resolve())
    })
  port = await startOnFreePort(start, port, options.port !== undefined, (p) => {
    port = p
  })
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child.pid
    },
    /** SIGKILL: the server disappears mid-command, as in a crash. */
    async kill() {
      const c = child
      c.kill('SIGKILL')
      await waitExit(c)
    },
    /** SIGSTOP / SIGCONT: the server hangs without closing connections (a "slow" server). */
    pause() {
      child.kill('SIGSTOP')
    },
    resume() {
      child.kill('SIGCONT')
    },
    /** Starts the server again on the same port. */
    restart: start,
    /** Stops the server and removes its folder. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGTERM')
        await waitExit(child)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Finds PostgreSQL's server binaries (Debian keeps them under /usr/lib/postgresql/<v>/bin). */
export function findPostgresBin() {
  const root = '/usr/lib/postgresql'
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a))
    if (versions[0]) return join(root, versions[0], 'bin')
  }
  const pgCtl = which('pg_ctl')
  return pgCtl ? join(pgCtl, '..') : undefined
}

/**
 * Starts a throwaway PostgreSQL cluster (trust auth, user postgres, database postgres) on a free
 * loopback port in a temporary folder. As root, the cluster runs as the `postgres` system user,
 * since PostgreSQL refuses to run as root.
 * @param {{ port?: number }} [options]
 */
export async function startPostgres(options = {}) {
  const bin = findPostgresBin()
  if (!bin) {
    throw new Error('PostgreSQL is not installed (Debian: apt-get install postgresql)')
  }
  let port = options.port ?? (await getFreePort())
  const dir = mkdtempSync(join(tmpdir(), 'bookgen-pg-'))
  const data = join(dir, 'data')
  const asRoot = process.getuid?.() === 0
  const run = (cmd, args) => {
    const full = join(bin, cmd)
    if (asRoot)
      return execFileSync('runuser', ['-u', 'postgres', '--', full, ...args], { stdio: 'pipe' })
    return execFileSync(full, args, { stdio: 'pipe' })
  }
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
  }
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'])
  const start = async () => {
    run('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '30',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
      'start',
    ])
    await waitFor(() => canConnect('127.0.0.1', port, 200), 10_000, `postgres on port ${port}`)
  }
  const postmasterPid = () =>
    Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
  port = await startOnFreePort(start, port, options.port !== undefined, (p) => {
    port = p
  })
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    /** SIGKILL to the postmaster and its backends: the server disappears, as in a crash. */
    async kill() {
      const pid = postmasterPid()
      const children = childPids(pid)
      for (const p of [pid, ...children]) {
        try {
          process.kill(p, 'SIGKILL')
        } catch {
          // already gone
        }
      }
      await waitFor(() => [pid, ...children].every((p) => !isAlive(p)), 10_000, 'postgres to die')
      // Where nothing reaps the dead postmaster (a container without an init), it stays a zombie
      // whose pid still answers, and PostgreSQL would refuse to start over its lock files.
      rmSync(join(data, 'postmaster.pid'), { force: true })
      rmSync(join(dir, `.s.PGSQL.${port}.lock`), { force: true })
      rmSync(join(dir, `.s.PGSQL.${port}`), { force: true })
    },
    /** Starts the server again on the same port. */
    restart: start,
    /** Stops the server and removes its folder. */
    async stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function childPids(pid) {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number)
  } catch {
    return []
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0)
    // A zombie still answers signal 0; its state in /proc says it is dead.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

// Another process may take the probed free port before the server binds it: retry on a new one,
// unless the caller asked for that port.
async function startOnFreePort(start, port, fixed, setPort) {
  for (let attempt = 1; ; attempt++) {
    try {
      await start()
      return port
    } catch (error) {
      if (fixed || attempt >= 3) throw error
      port = await getFreePort()
      setPort(port)
    }
  }
}
