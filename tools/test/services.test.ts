import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  canConnect,
  findPostgresBin,
  getFreePort,
  redisPing,
  startPostgres,
  startRedis,
} from '../testing/servers.mjs'

const run = promisify(execFile)
const script = join(import.meta.dirname, '..', 'services.mjs')
const psql = (url: string, sql: string) =>
  run('psql', [url, '-tAc', sql]).then((r) => r.stdout.trim())

describe('services script', () => {
  it('passes reachable servers through unchanged', async () => {
    const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
    const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
    const { stdout } = await run(
      process.execPath,
      [
        script,
        '--',
        process.execPath,
        '-e',
        'console.log(process.env.REDIS_URL, process.env.DATABASE_URL)',
      ],
      { env: { ...process.env, REDIS_URL: redisUrl, DATABASE_URL: databaseUrl } },
    )
    expect(stdout).toContain(`${redisUrl} is up`)
    expect(stdout.trim().split('\n').at(-1)).toBe(`${redisUrl} ${databaseUrl}`)
  })

  it('starts throwaway servers for unreachable URLs, hands them to the command, and removes them', async () => {
    const [deadRedis, deadPg] = [await getFreePort(), await getFreePort()]
    const { stdout } = await run(
      process.execPath,
      [
        script,
        '--',
        'sh',
        '-c',
        'echo "URLS $REDIS_URL $DATABASE_URL"; redis-cli -u "$REDIS_URL" ping; psql "$DATABASE_URL" -tAc "select 40 + 2"',
      ],
      {
        env: {
          ...process.env,
          REDIS_URL: `redis://127.0.0.1:${deadRedis}`,
          DATABASE_URL: `postgres://postgres@127.0.0.1:${deadPg}/test`,
        },
        timeout: 60_000,
      },
    )
    const urls = stdout.split('\n').find((l) => l.startsWith('URLS '))
    expect(urls).toBeDefined()
    const [, redisUrl, databaseUrl] = (urls ?? '').split(' ')
    expect(redisUrl).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/)
    expect(redisUrl).not.toBe(`redis://127.0.0.1:${deadRedis}`)
    expect(databaseUrl).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/)
    expect(stdout).toContain('PONG')
    expect(stdout).toContain('42')
    // Both throwaways are gone once the command has ended.
    const redisPort = Number(new URL(redisUrl ?? '').port)
    const pgPort = Number(new URL(databaseUrl ?? '').port)
    expect(await redisPing('127.0.0.1', redisPort, 300)).toBe(false)
    expect(await canConnect('127.0.0.1', pgPort, 300)).toBe(false)
  })

  it('propagates the exit code of the command', async () => {
    const error = await run(process.execPath, [
      script,
      '--',
      process.execPath,
      '-e',
      'process.exit(7)',
    ]).catch((e: { code: number }) => e)
    expect(error).toMatchObject({ code: 7 })
  })

  it('checks and exits with --check', async () => {
    const { stdout } = await run(process.execPath, [script, '--check'])
    expect(stdout).toMatch(/redis .* is up/)
    expect(stdout).toMatch(/postgresql .* is up/)
  })
})

describe('throwaway servers for fault tests', () => {
  it('kills and restarts Redis on the same port', async () => {
    const redis = await startRedis()
    try {
      expect(await redisPing('127.0.0.1', redis.port)).toBe(true)
      await redis.kill()
      expect(await redisPing('127.0.0.1', redis.port, 300)).toBe(false)
      await redis.restart()
      expect(await redisPing('127.0.0.1', redis.port)).toBe(true)
    } finally {
      await redis.stop()
    }
    expect(await redisPing('127.0.0.1', redis.port, 300)).toBe(false)
  })

  it('pauses Redis so commands hang, and resumes it', async () => {
    const redis = await startRedis()
    try {
      redis.pause()
      expect(await redisPing('127.0.0.1', redis.port, 300)).toBe(false)
      redis.resume()
      expect(await redisPing('127.0.0.1', redis.port, 2000)).toBe(true)
    } finally {
      await redis.stop()
    }
  })

  it('kills and restarts PostgreSQL on the same port, keeping its data', async () => {
    const pg = await startPostgres()
    try {
      await psql(pg.url, 'create table kept (n int); insert into kept values (42)')
      await pg.kill()
      expect(await canConnect('127.0.0.1', pg.port, 300)).toBe(false)
      await pg.restart()
      expect(await psql(pg.url, 'select n from kept')).toBe('42')
    } finally {
      await pg.stop()
    }
    expect(await canConnect('127.0.0.1', pg.port, 300)).toBe(false)
  })

  it('finds the PostgreSQL server binaries', () => {
    const bin = findPostgresBin()
    expect(bin).toBeDefined()
    expect(existsSync(join(bin ?? '', 'pg_ctl'))).toBe(true)
    expect(existsSync(join(bin ?? '', 'initdb'))).toBe(true)
  })
})
