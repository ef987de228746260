import { describe, expect, it } from 'vitest'
import { compareOutputs, compareRuns, renderTable, verdictLine } from '../src/comparison.js'
import { renderReport } from '../src/htmlReport.js'
import { emptyStages, type RunResult, type Variant } from '../src/runTypes.js'

const MB = 1024 ** 2

function run(variant: Variant, over: Partial<RunResult> = {}): RunResult {
  return {
    variant,
    durationMs: 1000,
    memoryPeak: 200 * MB,
    memoryPeakSource: 'vmhwm',
    memoryStart: 80 * MB,
    heapPeak: 50 * MB,
    dbQueryCount: 10,
    optimizerDbQueries: { count: 10, avgMs: 2, p50Ms: 1, p95Ms: 5, maxMs: 9 },
    dbQueryCrossCheck: true,
    dbQueryAvgMs: 2,
    dbQueryP50Ms: 1,
    dbQueryP95Ms: 5,
    dbQueryMaxMs: 9,
    cacheHits: 0,
    cacheMisses: 0,
    cacheHitRatio: 0,
    cpuPercent: 50,
    stages: { ...emptyStages(), validate: 500 },
    validation: {
      total: 50,
      busyMs: 500,
      wallMs: 500,
      concurrency: 1,
      fromCache: 0,
      maxInFlight: 1,
    },
    fetches: { attempts: 52, failures: 1 },
    embeddings: { total: 40, computed: 40, fromCache: 0, onWorkerThreads: false },
    lazy: { chapters: 5, loadedOnDemand: 0, contentInInitialRead: true },
    bytesFetched: 1000,
    figures: [
      {
        slug: 'ada-lovelace',
        name: 'Ada <Lovelace>',
        considered: 41,
        valid: 29,
        duplicates: 3,
        chapters: 4,
        citations: 26,
        conflicts: 2,
        sources: ['https://a.example.org/1', 'https://b.example.org/2'],
        chapterTitles: ['Early life', 'Work'],
        unreachable: ['https://broken.example.org/3'],
        file: 'ada-lovelace.md',
        sha256: 'abc',
        bytes: 100,
      },
    ],
    nPlusOneWarnings: [],
    slowestStatements: [],
    profile: {},
    ...over,
  }
}

const naive = run('naive', { durationMs: 5000, memoryPeak: 300 * MB })
const cold = run('optimized-cold', {
  durationMs: 800,
  memoryPeak: 180 * MB,
  cacheMisses: 90,
  stages: { ...emptyStages(), validate: 100 },
  validation: {
    total: 50,
    busyMs: 3000,
    wallMs: 100,
    concurrency: 30,
    fromCache: 0,
    maxInFlight: 16,
  },
  embeddings: { total: 40, computed: 40, fromCache: 0, onWorkerThreads: true },
  lazy: { chapters: 5, loadedOnDemand: 5, contentInInitialRead: false },
})
const warm = run('optimized-warm', {
  durationMs: 400,
  cacheHits: 90,
  cacheHitRatio: 1,
  embeddings: { total: 40, computed: 0, fromCache: 40, onWorkerThreads: true },
  lazy: { chapters: 5, loadedOnDemand: 5, contentInInitialRead: false },
})

describe('compareRuns', () => {
  it('computes the ratios and checks each target against the measurements', () => {
    const { comparison, targets } = compareRuns([naive, cold, warm])
    expect(comparison.speedupCold).toBeCloseTo(6.25)
    expect(comparison.speedupWarm).toBeCloseTo(12.5)
    expect(comparison.memoryReduction).toBeCloseTo(0.4)
    expect(comparison.runMemoryReduction).toBeCloseTo(1 - 100 / 220)
    expect(comparison.validationSpeedup).toBeCloseTo(5)
    expect(comparison.outputsIdentical).toBe(true)
    const met = Object.fromEntries(targets.map((t) => [t.id, t.met]))
    expect(met).toEqual({
      'speedup-cold': true,
      'speedup-warm': true,
      'db-average': true,
      'cache-hit-ratio': true,
      'memory-reduction': true,
      'memory-peak': true,
      'validations-parallel': true,
      'embeddings-cached': true,
      'lazy-loading': true,
    })
  })

  it('reports missed targets as missed, never as met', () => {
    const slowWarm = {
      ...warm,
      durationMs: 2500,
      cacheHitRatio: 0.5,
      embeddings: { ...warm.embeddings, computed: 1, fromCache: 39 },
    }
    const fat = { ...cold, memoryPeak: 290 * MB, dbQueryAvgMs: 150 }
    const { targets } = compareRuns([naive, fat, slowWarm])
    const met = Object.fromEntries(targets.map((t) => [t.id, t.met]))
    expect(met['speedup-warm']).toBe(false)
    expect(met['cache-hit-ratio']).toBe(false)
    expect(met['embeddings-cached']).toBe(false)
    expect(met['memory-reduction']).toBe(false)
    expect(met['db-average']).toBe(false)
    expect(targets.find((t) => t.id === 'db-average')!.measured).toBe('150.00 ms')
  })

  it('says so in the table and the DB target when the profile and the QueryOptimizer disagree', () => {
    const lost = {
      ...cold,
      dbQueryCount: 0,
      dbQueryAvgMs: 0,
      optimizerDbQueries: { ...cold.optimizerDbQueries, count: 12 },
      dbQueryCrossCheck: false,
    }
    const { targets } = compareRuns([naive, lost])
    const db = targets.find((t) => t.id === 'db-average')!
    expect(db.measured).toBe('2.00 ms (QueryOptimizer disagrees: see metrics.json)')
    expect(renderTable([naive, lost], targets)).toMatch(
      /^DB queries \(profiler\)\s+10\s+0 \(QueryOptimizer: 12\)$/m,
    )
  })

  it('marks comparisons it could not make as n/a and notices differing outputs', () => {
    const other = run('optimized-cold', {
      figures: [{ ...naive.figures[0]!, sha256: 'different' }],
    })
    const { comparison, targets } = compareRuns([other])
    expect(targets.find((t) => t.id === 'speedup-cold')!.met).toBeNull()
    expect(targets.find((t) => t.id === 'cache-hit-ratio')!.met).toBeNull()
    expect(compareRuns([naive, other]).comparison.outputsIdentical).toBe(false)
    expect(comparison.speedupCold).toBeNull()
  })

  it('marks every naive/optimized ratio not comparable when a run cited other sources', () => {
    const base = naive.figures[0]!
    const poorer = {
      ...cold,
      figures: [
        {
          ...base,
          sources: ['https://a.example.org/1'],
          unreachable: [...base.unreachable, 'https://b.example.org/2'],
          sha256: 'other',
        },
      ],
    }
    const { comparison, targets } = compareRuns([naive, poorer, warm])
    expect(comparison.outputsIdentical).toBe(false)
    expect(comparison.differences).toEqual([
      'Ada <Lovelace>, optimized-cold vs naive: cites 1 sources instead of 2; 1 missing (https://b.example.org/2); 1 unreachable after retries (https://b.example.org/2)',
    ])
    expect(comparison.speedupCold).toBeNull()
    expect(comparison.speedupWarm).toBeNull()
    expect(comparison.memoryReduction).toBeNull()
    expect(comparison.validationSpeedup).toBeNull()
    for (const id of ['speedup-cold', 'speedup-warm', 'memory-reduction']) {
      const target = targets.find((t) => t.id === id)!
      expect(target.met, id).toBe(false)
      expect(target.measured, id).toBe('not comparable (outputs differ)')
    }
    expect(verdictLine(comparison)).toBe(
      '✗ OUTPUTS DIFFER: the variants did not write the same biography (1 difference); speed-ups and memory savings are not comparable.',
    )
    const table = renderTable([naive, poorer, warm], targets)
    expect(table).toMatch(/^duration\s+5\.00 s\s+800 ms\s+400 ms$/m)
    expect(table).toMatch(
      /Optimized \(cold\) faster than naive\s+≥ 5×\s+not comparable \(outputs differ\)\s+NO/,
    )
  })

  it('names differing chapters, a missing biography, and differing bytes', () => {
    const base = naive.figures[0]!
    const chapters = run('optimized-cold', {
      figures: [{ ...base, chapterTitles: ['Early life'], sha256: 'x' }],
    })
    const none = run('optimized-warm', { figures: [] })
    expect(compareOutputs([naive, chapters, none])).toEqual([
      'Ada <Lovelace>, optimized-cold vs naive: chapters ["Early life"] instead of ["Early life","Work"]',
      'Ada <Lovelace>, optimized-warm vs naive: no biography written',
    ])
    expect(compareOutputs([naive, cold, warm])).toEqual([])
    expect(verdictLine(compareRuns([naive, cold, warm]).comparison)).toBeUndefined()
  })

  it('renders a terminal table with one column per run', () => {
    const { targets } = compareRuns([naive, cold, warm])
    const table = renderTable([naive, cold, warm], targets)
    expect(table).toMatch(/^\s+naive\s+optimized-cold\s+optimized-warm$/m)
    expect(table).toMatch(/^duration\s+5\.00 s\s+800 ms \(6\.3×\)\s+400 ms \(12\.5×\)$/m)
    expect(table).toMatch(/^peak memory \(RSS\)\s+300\.0 MB\s+180\.0 MB \(−40 %\)/m)
    // The memory every process holds before its run, in its own row after the peak.
    expect(table).toMatch(/^memory at start\s+80\.0 MB\s+80\.0 MB\s+80\.0 MB$/m)
    expect(table).toMatch(/^memory added by run\s+220\.0 MB\s+100\.0 MB \(−55 %\)/m)
    expect(targets.find((t) => t.id === 'memory-reduction')!.measured).toBe(
      '40.0 % (80.0 MB held before the run)',
    )
  })
})

describe('renderReport', () => {
  it('is self-contained: inline SVG charts, no script, no external resource, names escaped', () => {
    const { comparison, targets } = compareRuns([naive, cold, warm])
    const html = renderReport({
      generatedAt: '2026-01-01T00:00:00Z',
      backends: { cache: 'memory', database: 'PGlite' },
      runs: [naive, cold, warm],
      comparison,
      targets,
      memoryMeasurement: 'child processes',
    })
    expect(html.match(/<svg /g)).toHaveLength(8)
    expect(html).not.toMatch(/<script|<link |src="http|href="http/)
    expect(html).toContain('Ada &lt;Lovelace&gt;')
    expect(html).not.toContain('Ada <Lovelace>')
    expect(html).not.toContain('id="differences"')
  })

  it('lists the differences when the variants wrote different biographies', () => {
    const other = { ...cold, figures: [{ ...naive.figures[0]!, chapterTitles: ['Early life'] }] }
    const { comparison, targets } = compareRuns([naive, other])
    const html = renderReport({
      generatedAt: '2026-01-01T00:00:00Z',
      backends: { cache: 'memory', database: 'PGlite' },
      runs: [naive, other],
      comparison,
      targets,
      memoryMeasurement: 'child processes',
    })
    expect(html).toContain('not comparable')
    expect(html).toContain(
      '<ul id="differences"><li>Ada &lt;Lovelace&gt;, optimized-cold vs naive: chapters',
    )
  })
})

describe('the distributed run (--workers)', () => {
  const distributed = run('distributed', {
    durationMs: 1600,
    embeddings: { total: 40, computed: 40, fromCache: 0, onWorkerThreads: true },
    distributed: {
      workers: 3,
      threadsPerWorker: 4,
      queue: 'bookgen-demo-1a2b3c4d',
      sent: { validations: 50, embeddings: 40, total: 90 },
      perWorker: [
        { pid: 101, validations: 20, embeddings: 10, total: 30 },
        { pid: 102, validations: 15, embeddings: 20, total: 35 },
        { pid: 103, validations: 15, embeddings: 10, total: 25 },
      ],
      readyMs: 900,
      exits: [0, 0, 0],
    },
  })

  it('is compared with the local cold run: duration ratio, tasks, identical results', () => {
    const { comparison, targets } = compareRuns([naive, cold, warm, distributed])
    expect(comparison.distributed).toEqual({
      local: 'optimized-cold',
      speedup: 0.5,
      resultsIdentical: true,
      tasksSent: 90,
      tasksRun: 90,
    })
    expect(targets.at(-1)).toEqual({
      id: 'distributed-identical',
      label: 'Distributed run writes what optimized-cold writes',
      target: 'identical',
      measured: 'identical',
      met: true,
    })
    expect(compareRuns([naive, cold, warm]).comparison.distributed).toBeNull()
  })

  it('prints the distributed block between the runs and the targets', () => {
    const runs = [cold, distributed]
    const table = renderTable(runs, compareRuns(runs).targets)
    expect(table).toMatch(
      /^distributed vs local\s+optimized-cold \(local\)\s+distributed \(3 workers × 4 threads\)$/m,
    )
    expect(table).toMatch(/^duration\s+800 ms\s+1\.60 s \(0\.50× local\)$/m)
    expect(table).toMatch(/^tasks sent to workers\s+–\s+90 \(50 validations, 40 embeddings\)$/m)
    expect(table).toMatch(
      /^tasks per worker\s+–\s+pid 101: 30 · pid 102: 35 · pid 103: 25 \(sum 90\)$/m,
    )
    expect(table).toMatch(/^results identical\s+–\s+yes$/m)
    expect(table.indexOf('distributed vs local')).toBeLessThan(table.indexOf('target'))
    expect(renderTable([naive, cold], compareRuns([naive, cold]).targets)).not.toContain(
      'distributed vs local',
    )
  })

  it('fails the comparison (exit 5) when the distributed run wrote another biography', () => {
    const differs = {
      ...distributed,
      figures: [{ ...naive.figures[0]!, sha256: 'other' }],
    }
    const runs = [naive, cold, warm, differs]
    const { comparison, targets } = compareRuns(runs)
    expect(comparison.outputsIdentical).toBe(false)
    expect(comparison.differences).toEqual([
      'Ada <Lovelace>, distributed vs naive: same sources and chapters, but the Markdown differs',
    ])
    expect(verdictLine(comparison)).toMatch(/^✗ OUTPUTS DIFFER/)
    expect(comparison.distributed).toMatchObject({ resultsIdentical: false, speedup: null })
    expect(targets.find((t) => t.id === 'distributed-identical')!.met).toBe(false)
    expect(renderTable(runs, targets)).toMatch(/^results identical\s+–\s+NO$/m)
  })

  it('has a section of its own in report.html, with the tasks of each worker', () => {
    const runs = [naive, cold, warm, distributed]
    const { comparison, targets } = compareRuns(runs)
    const html = renderReport({
      generatedAt: '2026-01-01T00:00:00Z',
      backends: { cache: 'Redis', database: 'PGlite' },
      runs,
      comparison,
      targets,
      memoryMeasurement: 'child processes',
    })
    expect(html).toContain('<table id="distributed">')
    expect(html).toContain('distributed: 3 bookgen-worker processes × 4 threads')
    expect(html).toContain('<li>pid 102: 35 (15 validations, 20 embeddings)</li>')
    expect(html).toContain('<tr><td>results identical</td><td>–</td><td>yes</td></tr>')
    expect(html).not.toMatch(/<script|<link |src="http|href="http/)
  })
})
