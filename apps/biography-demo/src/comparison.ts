import type { DistributedStats, RunResult, Variant } from './runTypes.js'

/** One original target, measured. `met` is null when this run could not measure it. */
export interface TargetCheck {
  id: string
  label: string
  target: string
  measured: string
  met: boolean | null
}

/**
 * Ratios between the runs of one invocation. Every ratio between naive and optimized runs is
 * null when the runs did not write the same biographies: they did unequal work.
 */
export interface Comparison {
  /** naive duration / optimized cold duration. */
  speedupCold: number | null
  /** naive duration / optimized warm duration. */
  speedupWarm: number | null
  /** 1 − optimized cold peak / naive peak. */
  memoryReduction: number | null
  /**
   * 1 − optimized cold (peak − start) / naive (peak − start): the memory the run itself added on
   * top of what the process held when the profile started (node, the database driver or PGlite).
   */
  runMemoryReduction: number | null
  /** naive validation wall time / optimized cold validation wall time. */
  validationSpeedup: number | null
  /** Every variant wrote the same biographies: same sources, same chapters, same Markdown bytes. */
  outputsIdentical: boolean
  /** How the biographies differ from the reference run's (naive when present), one line each. */
  differences: string[]
  /** The distributed run next to the local optimized cold run (`--workers`); null without one. */
  distributed: DistributedComparison | null
}

/** The distributed run (`--workers`) against the local run of the same pipeline. */
export interface DistributedComparison {
  /** The local run it is compared with: `optimized-cold` (both start from an empty cache). */
  local: Variant
  /** Local duration / distributed duration (above 1: the distributed run was faster); null when the results differ. */
  speedup: number | null
  /** The distributed run wrote exactly the local run's biographies (sources, chapters, Markdown bytes). */
  resultsIdentical: boolean
  /** Tasks the distributed run sent to the workers (cache misses). */
  tasksSent: number
  /** Task executions the workers tallied, summed over the workers (at least `tasksSent`). */
  tasksRun: number
}

const GiB = 1024 ** 3

/** Compares the runs and checks every original target against the measurements. */
export function compareRuns(runs: readonly RunResult[]): {
  comparison: Comparison
  targets: TargetCheck[]
} {
  const by = (v: Variant) => runs.find((r) => r.variant === v)
  const naive = by('naive')
  const cold = by('optimized-cold')
  const warm = by('optimized-warm')
  const differences = compareOutputs(runs)
  const comparable = differences.length === 0
  const ratio = (a?: number, b?: number) => (comparable && a !== undefined && b ? a / b : null)
  const comparison: Comparison = {
    speedupCold: ratio(naive?.durationMs, cold?.durationMs),
    speedupWarm: ratio(naive?.durationMs, warm?.durationMs),
    memoryReduction: comparable && naive && cold ? 1 - cold.memoryPeak / naive.memoryPeak : null,
    runMemoryReduction:
      comparable && naive && cold
        ? 1 - (cold.memoryPeak - cold.memoryStart) / (naive.memoryPeak - naive.memoryStart)
        : null,
    validationSpeedup: ratio(naive?.stages.validate, cold?.stages.validate),
    outputsIdentical: comparable,
    differences,
    distributed: compareDistributed(runs),
  }
  // A ratio that is missing because the outputs differ is a failure, not "not measured".
  const unequal = !comparable && naive !== undefined
  const ratioTarget = (value: number | null, goal: number, present: unknown) => ({
    measured: unequal ? notComparable : fmtRatio(value),
    met: unequal ? false : value === null || !present ? null : value >= goal,
  })
  const optimized = [cold, warm].filter((r): r is RunResult => r !== undefined)
  const worstAvg = Math.max(...runs.map((r) => r.dbQueryAvgMs))
  const peak = Math.max(...runs.map((r) => r.memoryPeak))
  const targets: TargetCheck[] = [
    {
      id: 'speedup-cold',
      label: 'Optimized (cold) faster than naive',
      target: '≥ 5×',
      ...ratioTarget(comparison.speedupCold, 5, cold),
    },
    {
      id: 'speedup-warm',
      label: 'Optimized (warm) faster than naive',
      target: '≥ 10×',
      ...ratioTarget(comparison.speedupWarm, 10, warm),
    },
    {
      id: 'db-average',
      label: 'DB query average (worst run, profiler dbQueryAvg)',
      target: '< 100 ms',
      measured: `${worstAvg.toFixed(2)} ms${runs.every((r) => r.dbQueryCrossCheck) ? '' : ' (QueryOptimizer disagrees: see metrics.json)'}`,
      met: runs.some((r) => r.dbQueryCount > 0) ? worstAvg < 100 : null,
    },
    {
      id: 'cache-hit-ratio',
      label: 'Cache hit ratio (warm run)',
      target: '> 80 %',
      measured: warm ? fmtPercent(warm.cacheHitRatio) : 'n/a (no warm run)',
      met: warm ? warm.cacheHitRatio > 0.8 : null,
    },
    {
      id: 'memory-reduction',
      label: 'Peak memory lower than naive (cold)',
      target: '≥ 30 %',
      measured: unequal
        ? notComparable
        : comparison.memoryReduction === null
          ? 'n/a'
          : `${fmtPercent(comparison.memoryReduction)} (${fmtBytes(cold!.memoryStart)} held before the run)`,
      met: unequal
        ? false
        : comparison.memoryReduction === null
          ? null
          : comparison.memoryReduction >= 0.3,
    },
    {
      id: 'memory-peak',
      label: 'Memory peak (every run)',
      target: '< 1.5 GB',
      measured: fmtBytes(peak),
      met: peak < 1.5 * GiB,
    },
    {
      id: 'validations-parallel',
      label: 'Validations run in parallel',
      target: '> 1 at once',
      measured: cold
        ? `${cold.validation.concurrency.toFixed(1)} at once, stage ${fmtRatio(comparison.validationSpeedup)} faster`
        : 'n/a',
      met: cold ? cold.validation.concurrency > 1.5 : null,
    },
    {
      id: 'embeddings-cached',
      label: 'Embeddings cached (warm run)',
      target: 'all from cache',
      measured: warm ? `${warm.embeddings.fromCache}/${warm.embeddings.total} from cache` : 'n/a',
      met: warm
        ? warm.embeddings.total > 0 && warm.embeddings.fromCache === warm.embeddings.total
        : null,
    },
    {
      id: 'lazy-loading',
      label: 'Chapter content loaded on demand',
      target: 'every chapter',
      measured: optimized[0]
        ? `${optimized[0].lazy.loadedOnDemand}/${optimized[0].lazy.chapters} chapters`
        : 'n/a',
      met: optimized[0]
        ? optimized[0].lazy.chapters > 0 &&
          optimized[0].lazy.loadedOnDemand === optimized[0].lazy.chapters &&
          !optimized[0].lazy.contentInInitialRead
        : null,
    },
  ]
  if (comparison.distributed) {
    const { resultsIdentical, local } = comparison.distributed
    targets.push({
      id: 'distributed-identical',
      label: `Distributed run writes what ${local} writes`,
      target: 'identical',
      measured: resultsIdentical ? 'identical' : notComparable,
      met: resultsIdentical,
    })
  }
  return { comparison, targets }
}

/** The distributed run against the local optimized cold run, when both ran. */
export function compareDistributed(runs: readonly RunResult[]): DistributedComparison | null {
  const remote = runs.find((r) => r.variant === 'distributed')
  const local = runs.find((r) => r.variant === 'optimized-cold')
  if (!remote?.distributed || !local) return null
  const resultsIdentical = compareOutputs([local, remote]).length === 0
  return {
    local: local.variant,
    speedup:
      resultsIdentical && remote.durationMs > 0 ? local.durationMs / remote.durationMs : null,
    resultsIdentical,
    tasksSent: remote.distributed.sent.total,
    tasksRun: remote.distributed.perWorker.reduce((n, w) => n + w.total, 0),
  }
}

/**
 * The terminal's distributed block: the distributed run next to the local one (duration, the
 * two stages that went to the workers), the tasks sent, how many each worker ran, and whether
 * the results are identical. Undefined without a distributed run.
 */
export function renderDistributed(runs: readonly RunResult[]): string | undefined {
  const remote = runs.find((r) => r.variant === 'distributed')
  const local = runs.find((r) => r.variant === 'optimized-cold')
  const d = remote?.distributed
  const c = compareDistributed(runs)
  if (!remote || !d || !local || !c) return undefined
  const speed = c.speedup === null ? '' : ` (${c.speedup.toFixed(2)}× local)`
  return table([
    [
      'distributed vs local',
      `${local.variant} (local)`,
      `distributed (${d.workers} worker${d.workers === 1 ? '' : 's'} × ${d.threadsPerWorker} threads)`,
    ],
    ['duration', fmtMs(local.durationMs), `${fmtMs(remote.durationMs)}${speed}`],
    ['validation stage', fmtMs(local.stages.validate), fmtMs(remote.stages.validate)],
    ['embedding stage', fmtMs(local.stages.embed), fmtMs(remote.stages.embed)],
    ['tasks sent to workers', '–', describeSent(d)],
    ['tasks per worker', '–', describePerWorker(d)],
    ['results identical', '–', c.resultsIdentical ? 'yes' : 'NO'],
  ]).join('\n')
}

/** "262 (212 validations, 50 embeddings)". */
export function describeSent(d: DistributedStats): string {
  return `${d.sent.total} (${d.sent.validations} validations, ${d.sent.embeddings} embeddings)`
}

/** "pid 4711: 90 · pid 4712: 88 (sum 178)". */
export function describePerWorker(d: DistributedStats): string {
  const sum = d.perWorker.reduce((n, w) => n + w.total, 0)
  return `${d.perWorker.map((w) => `pid ${w.pid}: ${w.total}`).join(' · ')} (sum ${sum})`
}

const notComparable = 'not comparable (outputs differ)'

/**
 * The reference run's biographies (naive when present, else the first run) against every other
 * run's: which sources each cites, which chapters it has, and the Markdown bytes.
 */
export function compareOutputs(runs: readonly RunResult[]): string[] {
  const reference = runs.find((r) => r.variant === 'naive') ?? runs[0]
  if (!reference) return []
  const differences: string[] = []
  for (const run of runs) {
    if (run === reference) continue
    for (const expected of reference.figures) {
      const got = run.figures.find((f) => f.slug === expected.slug)
      const who = `${expected.name}, ${run.variant} vs ${reference.variant}`
      if (!got) {
        differences.push(`${who}: no biography written`)
        continue
      }
      const missing = expected.sources.filter((u) => !got.sources.includes(u))
      const extra = got.sources.filter((u) => !expected.sources.includes(u))
      if (
        missing.length > 0 ||
        extra.length > 0 ||
        got.sources.length !== expected.sources.length
      ) {
        const parts = [`cites ${got.sources.length} sources instead of ${expected.sources.length}`]
        if (missing.length > 0) parts.push(`${missing.length} missing (${list(missing)})`)
        if (extra.length > 0) parts.push(`${extra.length} extra (${list(extra)})`)
        const unreachable = got.unreachable.filter((u) => !expected.unreachable.includes(u))
        if (unreachable.length > 0) {
          parts.push(`${unreachable.length} unreachable after retries (${list(unreachable)})`)
        }
        differences.push(`${who}: ${parts.join('; ')}`)
      } else if (got.chapterTitles.join('\n') !== expected.chapterTitles.join('\n')) {
        differences.push(
          `${who}: chapters ${JSON.stringify(got.chapterTitles)} instead of ${JSON.stringify(expected.chapterTitles)}`,
        )
      } else if (got.sha256 !== expected.sha256) {
        differences.push(`${who}: same sources and chapters, but the Markdown differs`)
      }
    }
  }
  return differences
}

/**
 * The one line the terminal shows when the variants wrote different biographies (undefined when
 * they agree).
 */
export function verdictLine(comparison: Comparison): string | undefined {
  if (comparison.outputsIdentical) return undefined
  return `✗ OUTPUTS DIFFER: the variants did not write the same biography (${comparison.differences.length} difference${comparison.differences.length === 1 ? '' : 's'}); speed-ups and memory savings are not comparable.`
}

/** The terminal table: one column per run, the distributed run next to the local one, then the targets. */
export function renderTable(runs: readonly RunResult[], targets: readonly TargetCheck[]): string {
  const naive = runs.find((r) => r.variant === 'naive')
  const comparable = compareOutputs(runs).length === 0
  const header = ['', ...runs.map((r) => r.variant)]
  const rel = (value: number, base: number | undefined, kind: 'speed' | 'less') => {
    if (!comparable || base === undefined || base === value || !value) return ''
    return kind === 'speed'
      ? ` (${(base / value).toFixed(1)}×)`
      : ` (${fmtSigned(value / base - 1)})`
  }
  const rows: string[][] = [
    [
      'duration',
      ...runs.map((r) => `${fmtMs(r.durationMs)}${rel(r.durationMs, naive?.durationMs, 'speed')}`),
    ],
    [
      'peak memory (RSS)',
      ...runs.map(
        (r) => `${fmtBytes(r.memoryPeak)}${rel(r.memoryPeak, naive?.memoryPeak, 'less')}`,
      ),
    ],
    // Node, the drivers and PGlite, before the profile starts: the same in every process, so it
    // is part of every peak and caps how much lower an optimized peak can go.
    ['memory at start', ...runs.map((r) => fmtBytes(r.memoryStart))],
    [
      'memory added by run',
      ...runs.map(
        (r) =>
          `${fmtBytes(r.memoryPeak - r.memoryStart)}${rel(r.memoryPeak - r.memoryStart, naive && naive.memoryPeak - naive.memoryStart, 'less')}`,
      ),
    ],
    [
      'DB queries (profiler)',
      ...runs.map(
        (r) =>
          `${r.dbQueryCount}${r.dbQueryCrossCheck ? '' : ` (QueryOptimizer: ${r.optimizerDbQueries.count})`}`,
      ),
    ],
    ['DB time (total)', ...runs.map((r) => fmtMs(r.dbQueryAvgMs * r.dbQueryCount))],
    [
      'DB avg / p95',
      ...runs.map((r) => `${r.dbQueryAvgMs.toFixed(2)} / ${r.dbQueryP95Ms.toFixed(2)} ms`),
    ],
    [
      'cache hit ratio',
      ...runs.map((r) =>
        r.cacheHits + r.cacheMisses === 0 ? 'no cache' : fmtPercent(r.cacheHitRatio),
      ),
    ],
    ['validations at once', ...runs.map((r) => r.validation.concurrency.toFixed(1))],
    ['embeddings computed', ...runs.map((r) => `${r.embeddings.computed}/${r.embeddings.total}`)],
  ]
  const lines = [...table([header, ...rows]), '']
  const distributed = renderDistributed(runs)
  if (distributed !== undefined) lines.push(distributed, '')
  lines.push(
    ...table([
      ['target', 'goal', 'measured', 'met'],
      ...targets.map((t) => [
        t.label,
        t.target,
        t.measured,
        t.met === null ? 'n/a' : t.met ? 'yes' : 'NO',
      ]),
    ]),
  )
  return lines.join('\n')
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)))
  return rows.map((r, i) => {
    const line = r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd()
    return i === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line
  })
}

/** Bytes as MB with one decimal. */
export function fmtBytes(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`
}

/** Milliseconds as ms or s. */
export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`
}

/** A 0..1 ratio as a percentage. */
export function fmtPercent(value: number): string {
  return `${(value * 100).toFixed(1)} %`
}

function fmtSigned(value: number): string {
  return `${value > 0 ? '+' : '−'}${Math.abs(value * 100).toFixed(0)} %`
}

function list(urls: readonly string[]): string {
  return urls.length <= 3 ? urls.join(', ') : `${urls.slice(0, 3).join(', ')}, …`
}

function fmtRatio(value: number | null): string {
  return value === null ? 'n/a' : `${value.toFixed(1)}×`
}
