import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { embeddedEnv, runCli } from './helpers.js'

describe('demo CLI --no-compare with --data-dir', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bookgen-demo-opts-'))
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('runs the optimized pipeline once and keeps the PGlite data between invocations', async () => {
    const dataDir = join(dir, 'data')
    const out = join(dir, 'out')
    const args = ['Nikola Tesla', '--no-compare', '--data-dir', dataDir, '--out', out, '--quiet']
    const first = await runCli(args, embeddedEnv)
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout.split('\n')[0]).toContain(`PGlite (embedded) in ${dataDir}`)
    const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8'))
    expect(metrics.runs.map((r: { variant: string }) => r.variant)).toEqual(['optimized-cold'])
    const speedup = metrics.targets.find((t: { id: string }) => t.id === 'speedup-cold')
    expect(speedup.met).toBeNull()
    expect(first.stdout).toMatch(/Optimized \(cold\) faster than naive\s+≥ 5×\s+n\/a\s+n\/a/)

    const second = await runCli(args, embeddedEnv)
    expect(second.code).toBe(0)
    expect(existsSync(join(dataDir, 'pgdata'))).toBe(true)
    const db = new PGlite(join(dataDir, 'pgdata'))
    try {
      const { rows } = await db.query<{ slug: string; status: string }>(
        'select slug, status from biographies order by created_at',
      )
      expect(rows).toEqual([
        { slug: 'nikola-tesla', status: 'completed' },
        { slug: 'nikola-tesla', status: 'completed' },
      ])
    } finally {
      await db.close()
    }
  })
})
