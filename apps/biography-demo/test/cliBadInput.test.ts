import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { getFreePort } from '../../../tools/testing/servers.mjs'
import { cliPath, embeddedEnv, runCli, useTempDir } from './helpers.js'

const names = ['Marie Curie', 'Ada Lovelace', 'Alan Turing', 'Nikola Tesla', 'Rosalind Franklin']

describe('demo CLI bad input', () => {
  const dir = useTempDir('bookgen-demo-bad-')

  it('prints the help and exits 0', async () => {
    const run = await runCli(['--help'])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('Usage: bookgen-demo')
    for (const option of [
      '--out',
      '--compare',
      '--characters',
      '--data-dir',
      '--quiet',
      '--debug',
    ]) {
      expect(run.stdout).toContain(option)
    }
  })

  it('exits 2 on an unknown character and lists the available names, without a stack trace', async () => {
    const out = join(dir(), 'unknown')
    const run = await runCli(['Albert Nobody', '--out', out], embeddedEnv)
    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr).toContain('Unknown character "Albert Nobody"')
    for (const name of names) expect(run.stderr).toContain(name)
    expect(run.stderr).not.toMatch(/\n\s+at /)
    expect(existsSync(out)).toBe(false)
  })

  it('exits 2 on an unknown option', async () => {
    const run = await runCli(['Ada Lovelace', '--fast'], embeddedEnv)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("Unknown option '--fast'")
  })

  it('exits 3 with a clear message when --out cannot be written, and creates nothing', async () => {
    const file = join(dir(), 'a-file')
    await writeFile(file, 'not a folder')
    const out = join(file, 'out')
    const run = await runCli(['Ada Lovelace', '--out', out, '--quiet'], embeddedEnv)
    expect(run.code).toBe(3)
    expect(run.stderr).toContain(`Cannot write to the output folder ${out}`)
    expect(run.stderr).not.toMatch(/\n\s+at /)
    expect(run.stdout).toBe('')
    const asFile = await runCli(['Ada Lovelace', '--out', file, '--quiet'], embeddedEnv)
    expect(asFile.code).toBe(3)
    expect(asFile.stderr).toContain('it exists and is not a folder')
  })

  it('exits 3 at once for an --out under /proc or /sys', async () => {
    for (const out of ['/proc/bookgen-demo-out', '/sys/bookgen-demo-out']) {
      const run = await runCli(['Ada Lovelace', '--out', out, '--quiet'], embeddedEnv)
      expect(run.code, out).toBe(3)
      expect(run.stderr, out).toMatch(/Cannot write to the output folder .*a virtual file system/)
      expect(run.stdout, out).toBe('')
    }
  })

  it('exits 2 naming the variable and the expected form for a malformed REDIS_URL or DATABASE_URL', async () => {
    const out = join(dir(), 'bad-env')
    const redis = await runCli(['Ada Lovelace', '--out', out], {
      ...embeddedEnv,
      REDIS_URL: 'notaurl',
    })
    expect(redis.code).toBe(2)
    expect(redis.stderr).toContain('REDIS_URL must be a redis:// or rediss:// URL')
    expect(redis.stderr).toContain('got "notaurl"')
    const pg = await runCli(['Ada Lovelace', '--out', out], {
      ...embeddedEnv,
      DATABASE_URL: 'mysql://x',
    })
    expect(pg.code).toBe(2)
    expect(pg.stderr).toContain('DATABASE_URL must be a postgres:// or postgresql:// URL')
    expect(existsSync(out)).toBe(false)
  })

  it('exits 4 naming the Redis URL with its password masked when Redis is unreachable', async () => {
    const port = await getFreePort()
    const out = join(dir(), 'redis-down')
    const run = await runCli(['Ada Lovelace', '--out', out, '--quiet'], {
      ...embeddedEnv,
      REDIS_URL: `redis://:s3cret-pw@127.0.0.1:${port}`,
    })
    expect(run.code).toBe(4)
    expect(run.stderr).toContain(`Cannot connect to Redis at redis://:***@127.0.0.1:${port}`)
    expect(run.stderr).toContain('connection refused')
    expect(run.stderr).not.toContain('s3cret-pw')
    expect(run.stderr).not.toMatch(/\n\s+at /)
    expect(existsSync(out)).toBe(false)
  })

  it('exits 4 naming the PostgreSQL URL with its password masked, stack only with --debug', async () => {
    const port = await getFreePort()
    const url = `postgres://postgres:hunter2@127.0.0.1:${port}/test`
    // Nested: the folders `--out` needed are created, then removed again when the run fails.
    const out = join(dir(), 'pg-down', 'nested', 'out')
    const run = await runCli(['Ada Lovelace', '--out', out, '--quiet'], {
      ...embeddedEnv,
      DATABASE_URL: url,
    })
    expect(run.code).toBe(4)
    expect(run.stderr).toContain(
      `Cannot connect to PostgreSQL at postgres://postgres:***@127.0.0.1:${port}/test`,
    )
    expect(run.stderr).not.toContain('hunter2')
    expect(run.stderr).not.toMatch(/\n\s+at /)
    expect(existsSync(join(dir(), 'pg-down'))).toBe(false)

    const debug = await runCli(['Ada Lovelace', '--out', out, '--quiet', '--debug'], {
      ...embeddedEnv,
      DATABASE_URL: url,
    })
    expect(debug.code).toBe(4)
    expect(debug.stderr).toMatch(/\n\s+at /)
    expect(debug.stderr).not.toContain('hunter2')
  })

  it('leaves nothing half-written when it is stopped mid-run (exit 130)', async () => {
    const out = join(dir(), 'interrupted')
    const env: NodeJS.ProcessEnv = { ...process.env }
    delete env.REDIS_URL
    delete env.DATABASE_URL
    const proc = spawn(process.execPath, [cliPath, 'Marie Curie', '--out', out], { env })
    let stdout = ''
    let stderr = ''
    proc.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
    await new Promise<void>((resolve) => {
      proc.stdout.on('data', (chunk) => {
        stdout += chunk
        if (stdout.includes('running naive')) resolve()
      })
    })
    expect(existsSync(out)).toBe(true)
    proc.kill('SIGTERM')
    expect(await exited).toBe(130)
    expect(stderr).toContain(`interrupted (SIGTERM): nothing was written to ${out}`)
    expect(existsSync(out)).toBe(false)
  })
})
