#!/usr/bin/env node
// Makes sure Redis and PostgreSQL are reachable before tests run.
//
//   node tools/services.mjs --check          report and exit
//   node tools/services.mjs -- <command...>  run <command> with REDIS_URL / DATABASE_URL set
//   node tools/services.mjs --replica --pgbouncer -- <command...>
//       also a throwaway primary + streaming replica (PRIMARY_URL, REPLICA_URL) and PgBouncer in
//       transaction mode in front of DATABASE_URL (PGBOUNCER_URL, PGBOUNCER_ADMIN_URL)
//
// The URLs come from REDIS_URL and DATABASE_URL (defaults below). When a server is installed but not
// running, a throwaway instance is started on a free port in a temporary folder and stopped when the
// command ends. When one is not installed, the script stops with a message that says how to install it.
import { spawn } from 'node:child_process'
import { startPgBouncer } from './testing/pgbouncer.mjs'
import { startPostgresReplica } from './testing/postgresReplica.mjs'
import {
  canConnect,
  findPostgresBin,
  redisPing,
  startPostgres,
  startRedis,
  which,
} from './testing/servers.mjs'

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test'

const args = process.argv.slice(2)
const dash = args.indexOf('--')
const command = dash === -1 ? [] : args.slice(dash + 1)
const checkOnly = args.includes('--check') || command.length === 0
const flags = dash === -1 ? args : args.slice(0, dash)

const redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL
const databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL
const started = []

function mask(url) {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')
}

async function ensureRedis() {
  const url = new URL(redisUrl)
  const host = url.hostname || '127.0.0.1'
  const port = Number(url.port || 6379)
  if (await redisPing(host, port)) {
    console.log(`[services] redis      ${mask(redisUrl)} is up`)
    return redisUrl
  }
  if (!which('redis-server')) {
    fail(
      `Redis is not reachable at ${mask(redisUrl)} and redis-server is not installed.\n` +
        '  Debian/Ubuntu: apt-get update && apt-get install -y redis-server\n' +
        '  macOS: brew install redis\n' +
        '  or point REDIS_URL at a running server.',
    )
  }
  if (checkOnly) fail(`Redis is not reachable at ${mask(redisUrl)} (redis-server is installed)`)
  const server = await startRedis()
  started.push(server)
  console.log(
    `[services] redis      ${mask(redisUrl)} is down: started a throwaway server at ${server.url}`,
  )
  return server.url
}

async function ensurePostgres() {
  const url = new URL(databaseUrl)
  const host = url.hostname || '127.0.0.1'
  const port = Number(url.port || 5432)
  if (await canConnect(host, port)) {
    console.log(`[services] postgresql ${mask(databaseUrl)} is up`)
    return databaseUrl
  }
  if (!findPostgresBin()) {
    fail(
      `PostgreSQL is not reachable at ${mask(databaseUrl)} and is not installed.\n` +
        '  Debian/Ubuntu: apt-get update && apt-get install -y postgresql\n' +
        '  macOS: brew install postgresql\n' +
        '  or point DATABASE_URL at a running server.',
    )
  }
  if (checkOnly) fail(`PostgreSQL is not reachable at ${mask(databaseUrl)} (it is installed)`)
  const server = await startPostgres()
  started.push(server)
  console.log(
    `[services] postgresql ${mask(databaseUrl)} is down: started a throwaway server at ${server.url}`,
  )
  return server.url
}

async function stopAll() {
  await Promise.allSettled(started.map((s) => s.stop()))
}

function fail(message) {
  console.error(`[services] ${message}`)
  process.exit(1)
}

const env = { ...process.env, REDIS_URL: await ensureRedis(), DATABASE_URL: await ensurePostgres() }
if (checkOnly) process.exit(0)
if (flags.includes('--replica')) {
  const pair = await startPostgresReplica()
  started.push(pair)
  env.PRIMARY_URL = pair.primary.url
  env.REPLICA_URL = pair.replica.url
  console.log(`[services] replica    started ${pair.primary.url} -> ${pair.replica.url}`)
}
if (flags.includes('--pgbouncer')) {
  const target = new URL(env.DATABASE_URL)
  const bouncer = await startPgBouncer({
    host: target.hostname || '127.0.0.1',
    port: Number(target.port || 5432),
  })
  started.push(bouncer)
  env.PGBOUNCER_URL = bouncer.url(target.pathname.slice(1) || 'postgres')
  env.PGBOUNCER_ADMIN_URL = bouncer.adminUrl
  console.log(`[services] pgbouncer  started ${env.PGBOUNCER_URL} (transaction mode)`)
}

const child = spawn(command[0], command.slice(1), { stdio: 'inherit', env, shell: false })
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal))
}
child.on('exit', async (code, signal) => {
  await stopAll()
  process.exit(code ?? (signal ? 1 : 0))
})
