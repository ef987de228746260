import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { openDatabase } from '../src/db/database.js'
import { biographies } from '../src/db/schema.js'
import { embeddedEnv, runCli, useTempDir } from './helpers.js'

describe('demo CLI --no-compare with --data-dir', () => {
  const dir = useTempDir('bookgen-demo-opts-')

  it('runs the optimized pipeline once and keeps the PGlite data between invocations', async () => {
    const dataDir = join(dir(), 'data')
    const out = join(dir(), 'out')
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
    const database = await openDatabase({ kind: 'pglite', dataDir, temporary: false })
    try {
      const rows = await database.db
        .select({ slug: biographies.slug, status: biographies.status })
        .from(biographies)
        .orderBy(biographies.createdAt)
      expect(rows).toEqual([
        { slug: 'nikola-tesla', status: 'completed' },
        { slug: 'nikola-tesla', status: 'completed' },
      ])
      // The embedded database runs with small shared buffers (see pgliteSettings).
      const setting = (await database.db.execute(
        sql`select current_setting('shared_buffers') as value`,
      )) as unknown as { rows: { value: string }[] }
      expect(setting.rows[0]?.value).toBe('16MB')
    } finally {
      await database.close()
    }
  })

  it('writes every figure with --characters all, without progress bars when stderr is not a TTY', async () => {
    const out = join(dir(), 'all')
    const run = await runCli(['--characters', 'all', '--no-compare', '--out', out], embeddedEnv)
    expect(run.code).toBe(0)
    // Without --quiet only the QueryOptimizer's slow-statement warnings may reach stderr (load
    // decides whether a statement crosses the threshold): no bars, no other output.
    const other = run.stderr.split('\n').filter((l) => l && !l.startsWith('[db-optimizer] slow'))
    expect(other).toEqual([])
    expect(run.stdout).toContain('running optimized')
    const files = (await readdir(out)).sort()
    expect(files).toEqual([
      'ada-lovelace.md',
      'alan-turing.md',
      'marie-curie.md',
      'metrics.json',
      'nikola-tesla.md',
      'report.html',
      'rosalind-franklin.md',
    ])
    const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8'))
    expect(metrics.figures).toHaveLength(5)
    expect(metrics.runs[0].figures.map((f: { chapters: number }) => f.chapters > 0)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ])
  })
})
