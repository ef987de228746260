// A throwaway PgBouncer in transaction pooling mode in front of a PostgreSQL server, on a free
// loopback port in a temporary folder (Debian package `pgbouncer`). Nothing here runs on import.
import { execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canConnect, getFreePort, waitFor, which } from './servers.mjs'

/** Finds the pgbouncer binary (Debian installs it in /usr/sbin). */
export function findPgBouncer() {
  return (
    which('pgbouncer') ?? (existsSync('/usr/sbin/pgbouncer') ? '/usr/sbin/pgbouncer' : undefined)
  )
}

/**
 * Starts PgBouncer (trust auth, admin user postgres) forwarding every database name to the server
 * at `host:port`.
 * @param {{ host?: string, port: number, poolMode?: 'transaction' | 'session' | 'statement', poolSize?: number }} options
 */
export async function startPgBouncer(options) {
  const bin = findPgBouncer()
  if (!bin) throw new Error('pgbouncer is not installed (Debian: apt-get install pgbouncer)')
  const dir = mkdtempSync(join(tmpdir(), 'bookgen-pgbouncer-'))
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
  }
  const host = options.host ?? '127.0.0.1'
  const ini = join(dir, 'pgbouncer.ini')
  const log = join(dir, 'pgbouncer.log')
  writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n')
  let child
  let port
  for (let attempt = 1; ; attempt++) {
    port = await getFreePort()
    writeFileSync(
      ini,
      [
        '[databases]',
        `* = host=${host} port=${options.port}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        `unix_socket_dir = ${dir}`,
        'auth_type = trust',
        `auth_file = ${join(dir, 'userlist.txt')}`,
        'admin_users = postgres',
        'stats_users = postgres',
        `pool_mode = ${options.poolMode ?? 'transaction'}`,
        `default_pool_size = ${options.poolSize ?? 5}`,
        'max_client_conn = 200',
        `logfile = ${log}`,
        `pidfile = ${join(dir, 'pgbouncer.pid')}`,
        '',
      ].join('\n'),
    )
    const args = asRoot ? ['-u', 'postgres', '--', bin, ini] : [ini]
    child = spawn(asRoot ? 'runuser' : bin, args, { stdio: 'ignore' })
    child.unref()
    const running = child
    try {
      await waitFor(
        () => {
          if (running.exitCode !== null || running.signalCode !== null) {
            const tail = existsSync(log)
              ? readFileSync(log, 'utf8').trim().split('\n').slice(-3)
              : []
            throw new Error(`pgbouncer on port ${port} exited while starting: ${tail.join(' | ')}`)
          }
          return canConnect('127.0.0.1', port, 200)
        },
        15_000,
        `pgbouncer on port ${port}`,
      )
      break
    } catch (error) {
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true })
        throw error
      }
    }
  }
  const stop = async () => {
    const c = child
    if (c.exitCode === null && c.signalCode === null) {
      c.ref()
      const exited = new Promise((resolve) => c.once('exit', resolve))
      // runuser forwards SIGTERM to pgbouncer; pgbouncer exits at once on SIGINT/SIGTERM.
      c.kill('SIGTERM')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    }
    try {
      const pid = Number(readFileSync(join(dir, 'pgbouncer.pid'), 'utf8'))
      if (pid > 0) process.kill(pid, 'SIGKILL')
    } catch {
      // gone
    }
    rmSync(dir, { recursive: true, force: true })
  }
  return {
    port,
    /** URL of a database through the pooler. */
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    /** URL of the admin console (SHOW POOLS, SHOW STATS). */
    adminUrl: `postgres://postgres@127.0.0.1:${port}/pgbouncer`,
    stop,
    [Symbol.asyncDispose]: stop,
  }
}
