import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { type CliRun, embeddedEnv, parseMarkdown, runCli, useTempDir } from './helpers.js'

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

describe('demo CLI on the embedded defaults (MemoryCache + PGlite)', () => {
  const dir = useTempDir('bookgen-demo-e2e-')
  let run: CliRun

  beforeAll(async () => {
    run = await runCli(['Ada Lovelace', '--out', join(dir(), 'out'), '--quiet'], embeddedEnv)
  })

  it('exits 0 and says on its first line which backends are in use', () => {
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const first = run.stdout.split('\n')[0]!
    expect(first).toContain('cache: in-process MemoryCache')
    expect(first).toContain('database: PGlite (embedded)')
  })

  it('prints one comparison table with the three runs and every target', () => {
    expect(run.stdout).toMatch(/^\s+naive\s+optimized-cold\s+optimized-warm$/m)
    for (const row of [
      'duration',
      'peak memory (RSS)',
      'DB queries (profiler)',
      'DB avg / p95',
      'cache hit ratio',
    ]) {
      expect(run.stdout).toContain(row)
    }
    expect(run.stdout).toMatch(/Cache hit ratio \(warm run\)\s+> 80 %\s+100\.0 %\s+yes/)
    expect(run.stdout).toMatch(
      /Embeddings cached \(warm run\)\s+all from cache\s+(\d+)\/\1 from cache\s+yes/,
    )
  })

  it('writes only the Markdown, metrics.json and report.html (no staging left)', async () => {
    expect((await readdir(join(dir(), 'out'))).sort()).toEqual([
      'ada-lovelace.md',
      'metrics.json',
      'report.html',
    ])
  })

  it('writes a Markdown biography with chapters, citations and each source once', async () => {
    const markdown = await readFile(join(dir(), 'out', 'ada-lovelace.md'), 'utf8')
    expect(markdown.startsWith('# Ada Lovelace (1815–1852)\n')).toBe(true)
    const { chapters, cited, listed } = parseMarkdown(markdown)
    expect(chapters.length).toBeGreaterThanOrEqual(3)
    expect(chapters).toContain('Babbage and the Analytical Engine')
    expect(cited.size).toBeGreaterThan(5)
    for (const ref of cited) expect(listed.has(ref), `citation [${ref}] is listed`).toBe(true)
    const urls = [...listed.values()]
    expect(new Set(urls).size).toBe(urls.length)
    expect(urls.every((u) => u.startsWith('https://'))).toBe(true)
    // Near-duplicate (syndicated) copies were removed: fewer listed sources than valid ones.
    const metrics = JSON.parse(await readFile(join(dir(), 'out', 'metrics.json'), 'utf8'))
    const figure = metrics.runs[0].figures[0]
    expect(figure.duplicates).toBeGreaterThan(0)
    expect(listed.size).toBe(figure.valid - figure.duplicates)
    expect(markdown).toMatch(/Note G/)
  })

  it('writes metrics.json with the measured runs, comparison and targets', async () => {
    const metrics = JSON.parse(await readFile(join(dir(), 'out', 'metrics.json'), 'utf8'))
    expect(metrics.version).toBe(1)
    expect(metrics.backends.database).toContain('PGlite')
    expect(metrics.runs.map((r: { variant: string }) => r.variant)).toEqual([
      'naive',
      'optimized-cold',
      'optimized-warm',
    ])
    const [naive, cold, warm] = metrics.runs
    for (const r of metrics.runs) {
      expect(r.durationMs).toBeGreaterThan(0)
      expect(r.memoryPeak).toBeGreaterThan(r.memoryStart * 0.5)
      expect(r.memoryPeakSource).toMatch(/vmhwm|maxrss|sampler/)
      expect(r.dbQueryCount).toBeGreaterThan(0)
      expect(r.dbQueryAvgMs).toBeGreaterThan(0)
      expect(r.dbQueryP95Ms).toBeGreaterThanOrEqual(r.dbQueryP50Ms)
      // The profile's own figures, cross-checked against the QueryOptimizer.
      expect(r.dbQueryCount).toBe(r.profile.dbQueries.count)
      expect(r.dbQueryAvgMs).toBeCloseTo(r.profile.dbQueries.avg * 1000, 6)
      expect(r.optimizerDbQueries.count).toBe(r.dbQueryCount)
      expect(r.dbQueryCrossCheck).toBe(true)
    }
    expect(naive.dbQueryCount).toBeGreaterThan(cold.dbQueryCount * 5)
    expect(naive.cacheHits + naive.cacheMisses).toBe(0)
    expect(cold.cacheHitRatio).toBe(0)
    expect(warm.cacheHitRatio).toBeGreaterThanOrEqual(0.8)
    expect(warm.embeddings.computed).toBe(0)
    expect(warm.embeddings.fromCache).toBe(warm.embeddings.total)
    expect(cold.validation.maxInFlight).toBeGreaterThan(1)
    expect(naive.validation.maxInFlight).toBe(1)
    expect(cold.lazy.loadedOnDemand).toBe(cold.lazy.chapters)
    expect(cold.lazy.contentInInitialRead).toBe(false)
    expect(naive.lazy.contentInInitialRead).toBe(true)
    expect(naive.nPlusOneWarnings.length).toBeGreaterThan(0)
    expect(cold.nPlusOneWarnings).toEqual([])
    expect(metrics.comparison.outputsIdentical).toBe(true)
    expect(metrics.comparison.differences).toEqual([])
    expect(metrics.comparison.speedupCold).toBeGreaterThan(0)
    for (const r of metrics.runs) {
      expect(r.figures[0].sources, r.variant).toEqual(naive.figures[0].sources)
      expect(r.figures[0].chapterTitles, r.variant).toEqual(naive.figures[0].chapterTitles)
    }
    const ids = metrics.targets.map((t: { id: string }) => t.id)
    expect(ids).toEqual([
      'speedup-cold',
      'speedup-warm',
      'db-average',
      'cache-hit-ratio',
      'memory-reduction',
      'memory-peak',
      'validations-parallel',
      'embeddings-cached',
      'lazy-loading',
    ])
    for (const t of metrics.targets) expect(typeof t.met).toBe('boolean')
  })

  it('renders the HTML report in headless Chromium with its SVG charts and no network', async () => {
    expect(existsSync(chromiumPath), `${chromiumPath} (Debian package chromium)`).toBe(true)
    const profile = await mkdtemp(join(tmpdir(), 'bookgen-demo-chromium-'))
    let browser: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined
    try {
      // A fresh user-data-dir: playwright passes it to Chromium as --user-data-dir.
      browser = await chromium.launchPersistentContext(profile, {
        executablePath: chromiumPath,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      })
      const page = await browser.newPage()
      const requests: string[] = []
      page.on('request', (r) => requests.push(r.url()))
      const url = pathToFileURL(join(dir(), 'out', 'report.html')).href
      await page.goto(url)
      const charts = await page.$$eval('svg.chart', (svgs) =>
        svgs.map((svg) => ({
          id: svg.id,
          bars: [...svg.querySelectorAll('rect.bar')].filter(
            (r) => (r as unknown as { getBBox(): { width: number } }).getBBox().width > 0,
          ).length,
          height: svg.getBoundingClientRect().height,
        })),
      )
      expect(charts.map((c) => c.id)).toEqual([
        'chart-duration',
        'chart-memory',
        'chart-run-memory',
        'chart-queries',
        'chart-db-time',
        'chart-query-avg',
        'chart-hit-ratio',
        'chart-stages',
      ])
      for (const chart of charts.slice(0, 6)) {
        expect(chart.bars, chart.id).toBe(3)
        expect(chart.height, chart.id).toBeGreaterThan(50)
      }
      expect(await page.title()).toBe('BookGen demo — naive vs optimized')
      expect(await page.locator('#targets tbody tr').count()).toBe(9)
      expect(requests).toEqual([url])
    } finally {
      await browser?.close()
      await rm(profile, { recursive: true, force: true })
    }
  })
})
