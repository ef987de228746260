import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RedisCache } from '@bookgen/cache'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CliRun, parseMarkdown, runCli } from './helpers.js'

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'
// Own schema and Redis namespace: other suites use the same servers at the same time.
const schema = `bookgen_demo_test_${process.pid}`
const namespace = `bookgen-demo-test-${process.pid}`

describe('demo CLI on the real servers (REDIS_URL + DATABASE_URL)', () => {
  let dir: string
  let run: CliRun
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bookgen-demo-services-'))
    run = await runCli(
      [
        'Rosalind Franklin',
        '--out',
        dir,
        '--quiet',
        '--db-schema',
        schema,
        '--cache-namespace',
        namespace,
      ],
      { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl },
    )
  })

  async function count(query: string): Promise<number> {
    const rows = await sql.unsafe<{ n: number }[]>(query)
    return rows[0]!.n
  }

  afterAll(async () => {
    await sql.unsafe(`drop schema if exists "${schema}" cascade`)
    await sql.end()
    const cache = new RedisCache({ url: redisUrl, namespace, commandTimeout: 10_000 })
    await cache.clear()
    await cache.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('names Redis and PostgreSQL on its first line', () => {
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const first = run.stdout.split('\n')[0]!
    expect(first).toContain(`cache: Redis redis://`)
    expect(first).toContain(`(namespace ${namespace})`)
    expect(first).toContain(`database: PostgreSQL postgres://`)
    expect(first).toContain(`(schema ${schema})`)
  })

  it('stores the biographies, chapters, sources and jobs of the three runs in its own schema', async () => {
    const bios = await sql.unsafe(
      `select variant, status, source_count, chapter_count from "${schema}".biographies order by variant`,
    )
    expect(bios.map((b) => b.variant)).toEqual(['naive', 'optimized-cold', 'optimized-warm'])
    expect(bios.every((b) => b.status === 'completed')).toBe(true)
    expect(new Set(bios.map((b) => b.source_count)).size).toBe(1)
    const chapters = await count(`select count(*)::int as n from "${schema}".chapters`)
    expect(chapters).toBe(bios[0]!.chapter_count * 3)
    const duplicates = await count(
      `select count(*)::int as n from "${schema}".sources where duplicate_of is not null`,
    )
    expect(duplicates).toBeGreaterThan(0)
    const jobs = await sql.unsafe(`select status from "${schema}".generation_jobs`)
    expect(jobs.map((j) => j.status)).toEqual(['completed', 'completed', 'completed'])
    const migrations = await count(
      `select count(*)::int as n from "${schema}".__drizzle_migrations`,
    )
    expect(migrations).toBe(1)
  })

  it('caches validations and float32 embeddings in Redis under its namespace', async () => {
    const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'))
    const cache = new RedisCache({ url: redisUrl, namespace, commandTimeout: 10_000 })
    try {
      const warm = metrics.runs[2]
      expect(warm.variant).toBe('optimized-warm')
      expect(warm.cacheHitRatio).toBeGreaterThanOrEqual(0.8)
      expect(warm.embeddings.fromCache).toBe(warm.embeddings.total)
      // Every definitive verdict came from Redis; the hosts that failed transiently (the corpus's
      // 503 and reset hosts) were not cached and were fetched again.
      const unreachable = warm.figures[0].unreachable
      expect(unreachable.length).toBeGreaterThan(0)
      expect(warm.validation.fromCache).toBe(warm.validation.total - unreachable.length)
      for (const url of unreachable) {
        expect(await cache.exists(`bookgen:validation:${url}`), url).toBe(false)
      }
      const markdown = await readFile(join(dir, 'rosalind-franklin.md'), 'utf8')
      const { listed } = parseMarkdown(markdown)
      expect(listed.size).toBeGreaterThan(5)
      const validation = await cache.get<{ verdict: { valid: boolean } }>(
        `bookgen:validation:${listed.get(1)}`,
      )
      expect(validation?.verdict.valid).toBe(true)
      // Embeddings are stored with the float32 codec under the SHA-256 of the page text.
      const [valid] = await sql.unsafe<{ content_hash: string }[]>(
        `select content_hash from "${schema}".sources where valid and ref = 1 limit 1`,
      )
      const embedding = await cache.get<Float32Array>(`bookgen:embedding:${valid!.content_hash}`, {
        codec: 'float32',
      })
      expect(embedding).toBeInstanceOf(Float32Array)
      expect(embedding!.length).toBe(1024)
      expect(embedding!.some((x) => x !== 0)).toBe(true)
    } finally {
      await cache.close()
    }
  })

  it("reports the profile's own query figures on postgres.js, matching the QueryOptimizer", async () => {
    const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'))
    for (const r of metrics.runs) {
      expect(r.dbQueryCount, r.variant).toBeGreaterThan(0)
      expect(r.dbQueryCount, r.variant).toBe(r.profile.dbQueries.count)
      expect(r.dbQueryCount, r.variant).toBe(r.optimizerDbQueries.count)
      expect(r.dbQueryAvgMs, r.variant).toBeCloseTo(r.profile.dbQueries.avg * 1000, 6)
      expect(r.dbQueryCrossCheck, r.variant).toBe(true)
    }
    expect(run.stdout).not.toContain('QueryOptimizer disagrees')
  })

  it('writes the same Markdown as the naive run, with chapters and unique sources', async () => {
    const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'))
    expect(metrics.comparison.outputsIdentical).toBe(true)
    const { chapters, cited, listed } = parseMarkdown(
      await readFile(join(dir, 'rosalind-franklin.md'), 'utf8'),
    )
    expect(chapters).toContain('King’s College and Photograph 51')
    for (const ref of cited) expect(listed.has(ref)).toBe(true)
    expect(new Set(listed.values()).size).toBe(listed.size)
  })
})
