// A throwaway PostgreSQL primary with one streaming replica (pg_basebackup -R), on free loopback
// ports in a temporary folder, for tests that read from a replica or pause its replay.
// Nothing here runs on import.
import { execFileSync } from 'node:child_process'
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canConnect, findPostgresBin, getFreePort, waitFor } from './servers.mjs'

/**
 * Starts a primary (trust auth, user postgres, database postgres) and a hot-standby replica that
 * streams from it. `stop()` stops both and removes the folder.
 */
export async function startPostgresReplica() {
  const bin = findPostgresBin()
  if (!bin) throw new Error('PostgreSQL is not installed (Debian: apt-get install postgresql)')
  const dir = mkdtempSync(join(tmpdir(), 'bookgen-pg-replica-'))
  const asRoot = process.getuid?.() === 0
  const run = (cmd, args) => {
    const full = join(bin, cmd)
    const options = { stdio: 'pipe', timeout: 60_000 }
    if (asRoot) return execFileSync('runuser', ['-u', 'postgres', '--', full, ...args], options)
    return execFileSync(full, args, options)
  }
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
  }
  const primaryData = join(dir, 'primary')
  const replicaData = join(dir, 'replica')
  const started = []
  const startServer = async (data, name) => {
    for (let attempt = 1; ; attempt++) {
      const port = await getFreePort()
      try {
        run('pg_ctl', [
          '-D',
          data,
          '-l',
          join(dir, `${name}.log`),
          '-w',
          '-t',
          '30',
          '-o',
          `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
          'start',
        ])
        started.push(data)
        await waitFor(() => canConnect('127.0.0.1', port, 200), 10_000, `${name} on ${port}`)
        return port
      } catch (error) {
        if (attempt >= 3) throw error
      }
    }
  }
  const stop = async () => {
    for (const data of started.reverse()) {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } catch {
        // already stopped
      }
    }
    started.length = 0
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    run('initdb', ['-D', primaryData, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'])
    const primaryPort = await startServer(primaryData, 'primary')
    run('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(primaryPort),
      '-U',
      'postgres',
      '-D',
      replicaData,
      '-R',
      '-X',
      'stream',
      '--no-sync',
    ])
    const replicaPort = await startServer(replicaData, 'replica')
    return {
      primary: { port: primaryPort, url: `postgres://postgres@127.0.0.1:${primaryPort}/postgres` },
      replica: { port: replicaPort, url: `postgres://postgres@127.0.0.1:${replicaPort}/postgres` },
      stop,
      [Symbol.asyncDispose]: stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
