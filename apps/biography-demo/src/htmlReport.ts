import { type Comparison, describeSent, fmtBytes, fmtMs, type TargetCheck } from './comparison.js'
import { escapeHtml } from './html.js'
import type { RunResult, StageTimes } from './runTypes.js'

/** What the HTML report shows. */
export interface ReportInput {
  generatedAt: string
  backends: { cache: string; database: string }
  runs: readonly RunResult[]
  comparison: Comparison
  targets: readonly TargetCheck[]
  memoryMeasurement: string
}

const colors: Record<string, string> = {
  naive: '#c0504d',
  'optimized-cold': '#4f81bd',
  'optimized-warm': '#9bbb59',
  distributed: '#e377c2',
}
const stageColors: Record<keyof StageTimes, string> = {
  search: '#8064a2',
  validate: '#4bacc6',
  embed: '#f79646',
  deduplicate: '#7f7f7f',
  chapters: '#c4bd97',
  store: '#1f497d',
  read: '#9bbb59',
  write: '#c0504d',
}

/**
 * A self-contained HTML page (inline CSS and SVG, no script, no network) comparing the runs:
 * bar charts of duration, peak memory, DB queries and cache hit ratio, stage breakdown, targets.
 */
export function renderReport(input: ReportInput): string {
  const { runs } = input
  const bars = (value: (r: RunResult) => number) =>
    runs.map((r) => ({ label: r.variant, value: value(r), color: colors[r.variant] ?? '#888' }))
  const charts = [
    barChart(
      'duration',
      'Duration',
      'ms',
      bars((r) => r.durationMs),
      fmtMs,
    ),
    barChart(
      'memory',
      'Peak memory (RSS)',
      'MB',
      bars((r) => r.memoryPeak),
      fmtBytes,
    ),
    barChart(
      'run-memory',
      'Memory added by the run (peak − start)',
      'MB',
      bars((r) => r.memoryPeak - r.memoryStart),
      fmtBytes,
    ),
    barChart(
      'queries',
      'DB queries (profiler)',
      'queries',
      bars((r) => r.dbQueryCount),
      (v) => String(v),
    ),
    barChart(
      'db-time',
      'DB time (total)',
      'ms',
      bars((r) => r.dbQueryAvgMs * r.dbQueryCount),
      fmtMs,
    ),
    barChart(
      'query-avg',
      'DB query average',
      'ms',
      bars((r) => r.dbQueryAvgMs),
      (v) => `${v.toFixed(2)} ms`,
    ),
    barChart(
      'hit-ratio',
      'Cache hit ratio',
      '%',
      bars((r) => r.cacheHitRatio * 100),
      (v) => `${v.toFixed(1)} %`,
      100,
    ),
    stageChart(runs),
  ]
  const targetRows = input.targets
    .map(
      (t) =>
        `<tr class="${t.met === null ? 'na' : t.met ? 'met' : 'missed'}"><td>${escapeHtml(t.label)}</td><td>${escapeHtml(t.target)}</td><td>${escapeHtml(t.measured)}</td><td>${t.met === null ? 'n/a' : t.met ? 'met' : 'missed'}</td></tr>`,
    )
    .join('\n')
  const figureRows = (runs.at(-1)?.figures ?? [])
    .map(
      (f) =>
        `<tr><td>${escapeHtml(f.name)}</td><td>${f.considered}</td><td>${f.valid}</td><td>${f.duplicates}</td><td>${f.citations}</td><td>${f.chapters}</td><td>${f.conflicts}</td><td><a href="${escapeHtml(f.file)}">${escapeHtml(f.file)}</a></td></tr>`,
    )
    .join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>BookGen demo — naive vs optimized</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 1rem; }
figure { margin: 0; border: 1px solid #ddd; border-radius: 6px; padding: .5rem; }
figcaption { font-weight: 600; margin-bottom: .25rem; }
table { border-collapse: collapse; width: 100%; } td, th { border-bottom: 1px solid #eee; padding: .3rem .5rem; text-align: left; }
tr.met td:last-child { color: #2e7d32; font-weight: 600; } tr.missed td:last-child { color: #c62828; font-weight: 600; }
.note { color: #555; font-size: .9rem; }
</style>
</head>
<body>
<h1>BookGen demo — naive vs optimized</h1>
<p class="note">Generated ${escapeHtml(input.generatedAt)} · cache: ${escapeHtml(input.backends.cache)} · database: ${escapeHtml(input.backends.database)}</p>
<p class="note">${escapeHtml(input.memoryMeasurement)}</p>
<h2>Targets</h2>
<table id="targets"><thead><tr><th>target</th><th>goal</th><th>measured</th><th>result</th></tr></thead>
<tbody>
${targetRows}
</tbody></table>
${distributedSection(runs, input.comparison)}
<h2>Charts</h2>
<div class="charts">
${charts.join('\n')}
</div>
<h2>Biographies</h2>
<table id="figures"><thead><tr><th>figure</th><th>considered</th><th>valid</th><th>duplicates</th><th>cited</th><th>chapters</th><th>year conflicts</th><th>file</th></tr></thead>
<tbody>
${figureRows}
</tbody></table>
<p class="note">Same biography (sources, chapters, Markdown bytes) in every variant: ${input.comparison.outputsIdentical ? 'yes' : '<strong>no — the speed-ups and memory savings are not comparable</strong>'}.</p>
${input.comparison.differences.length > 0 ? `<ul id="differences">${input.comparison.differences.map((d) => `<li>${escapeHtml(d)}</li>`).join('')}</ul>` : ''}
</body>
</html>
`
}

/** The distributed run next to the local one, with the tasks each worker ran (empty without one). */
function distributedSection(runs: readonly RunResult[], comparison: Comparison): string {
  const remote = runs.find((r) => r.variant === 'distributed')
  const local = runs.find((r) => r.variant === comparison.distributed?.local)
  const d = remote?.distributed
  if (!remote || !d || !local || !comparison.distributed) return ''
  const row = (label: string, a: string, b: string) =>
    `<tr><td>${escapeHtml(label)}</td><td>${escapeHtml(a)}</td><td>${escapeHtml(b)}</td></tr>`
  const workers = d.perWorker
    .map(
      (w) =>
        `<li>pid ${w.pid}: ${w.total} (${w.validations} validations, ${w.embeddings} embeddings)</li>`,
    )
    .join('')
  const speedup = comparison.distributed.speedup
  return `<h2>Distributed run</h2>
<table id="distributed"><thead><tr><th></th><th>${escapeHtml(local.variant)} (local)</th><th>distributed: ${d.workers} bookgen-worker process${d.workers === 1 ? '' : 'es'} × ${d.threadsPerWorker} threads</th></tr></thead>
<tbody>
${row('duration', fmtMs(local.durationMs), `${fmtMs(remote.durationMs)}${speedup === null ? '' : ` (${speedup.toFixed(2)}× local)`}`)}
${row('validation stage', fmtMs(local.stages.validate), fmtMs(remote.stages.validate))}
${row('embedding stage', fmtMs(local.stages.embed), fmtMs(remote.stages.embed))}
${row('tasks sent to workers', '–', describeSent(d))}
<tr><td>tasks per worker</td><td>–</td><td><ul class="workers">${workers}</ul></td></tr>
${row('results identical', '–', comparison.distributed.resultsIdentical ? 'yes' : 'no')}
</tbody></table>
<p class="note">Queue ${escapeHtml(d.queue)}; workers ready in ${fmtMs(d.readyMs)}. Only cache misses are sent; each worker's task module appends one line per completed task to a file per worker thread, read once the workers stopped (execution is at least once: a task re-run after its worker died counts twice).</p>`
}

interface Bar {
  label: string
  value: number
  color: string
}

function barChart(
  id: string,
  title: string,
  unit: string,
  bars: readonly Bar[],
  format: (v: number) => string,
  fixedMax?: number,
): string {
  const width = 340
  const rowHeight = 34
  const left = 120
  const height = bars.length * rowHeight + 20
  const max = fixedMax ?? Math.max(...bars.map((b) => b.value), 1e-9)
  const rows = bars
    .map((b, i) => {
      const w = Math.max(1, ((width - left - 90) * b.value) / max)
      const y = 10 + i * rowHeight
      return `<text x="${left - 8}" y="${y + 17}" text-anchor="end" font-size="12">${escapeHtml(b.label)}</text><rect class="bar" x="${left}" y="${y + 4}" width="${w.toFixed(1)}" height="20" fill="${b.color}"><title>${escapeHtml(b.label)}: ${escapeHtml(format(b.value))}</title></rect><text x="${(left + w + 6).toFixed(1)}" y="${y + 18}" font-size="12">${escapeHtml(format(b.value))}</text>`
    })
    .join('')
  return `<figure><figcaption>${escapeHtml(title)}</figcaption><svg id="chart-${id}" class="chart" role="img" aria-label="${escapeHtml(title)} in ${escapeHtml(unit)}" viewBox="0 0 ${width} ${height}" width="100%" xmlns="http://www.w3.org/2000/svg">${rows}</svg></figure>`
}

function stageChart(runs: readonly RunResult[]): string {
  const width = 340
  const left = 120
  const rowHeight = 34
  const legendHeight = 50
  const height = runs.length * rowHeight + 20 + legendHeight
  const stages = Object.keys(stageColors) as (keyof StageTimes)[]
  const total = (r: RunResult) => stages.reduce((s, k) => s + r.stages[k], 0)
  const max = Math.max(...runs.map(total), 1e-9)
  const rows = runs
    .map((r, i) => {
      const y = 10 + i * rowHeight
      let x = left
      const parts = stages
        .map((k) => {
          const w = ((width - left - 20) * r.stages[k]) / max
          const rect = `<rect class="bar" x="${x.toFixed(1)}" y="${y + 4}" width="${Math.max(0, w).toFixed(1)}" height="20" fill="${stageColors[k]}"><title>${r.variant} ${k}: ${fmtMs(r.stages[k])}</title></rect>`
          x += w
          return rect
        })
        .join('')
      return `<text x="${left - 8}" y="${y + 17}" text-anchor="end" font-size="12">${escapeHtml(r.variant)}</text>${parts}`
    })
    .join('')
  const legend = stages
    .map((k, i) => {
      const x = 10 + (i % 4) * 82
      const y = runs.length * rowHeight + 24 + Math.floor(i / 4) * 18
      return `<rect x="${x}" y="${y}" width="10" height="10" fill="${stageColors[k]}"/><text x="${x + 14}" y="${y + 9}" font-size="11">${k}</text>`
    })
    .join('')
  return `<figure><figcaption>Time per stage</figcaption><svg id="chart-stages" class="chart" role="img" aria-label="Time per stage" viewBox="0 0 ${width} ${height}" width="100%" xmlns="http://www.w3.org/2000/svg">${rows}${legend}</svg></figure>`
}
