#!/usr/bin/env node
// Rebuilds docs/benchmarks.md from the measured tables each project writes next to its benchmark
// (packages/*/bench/RESULTS.md, apps/*/RESULTS.md). Run after `npm run bench`.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const sources = [
  ...readdirSync(join(root, 'packages')).map((p) => join('packages', p, 'bench', 'RESULTS.md')),
  ...readdirSync(join(root, 'apps')).map((a) => join('apps', a, 'RESULTS.md')),
].filter((file) => existsSync(join(root, file)))

const header = `# Benchmarks

Measured tables of every package's \`bench/\` and of the demo, each comparing us with the named
peers in the same run on the same machine. Machines here are shared 2-core VMs and noisy: read the
medians and the ratios, not single absolute times. Each section gives its date and the command that
produced it; targets that were missed are marked as missed, with the reason. The one-page
summary of every target is [targets.md](targets.md).

Regenerate: \`npm run bench\` (each package writes its \`bench/RESULTS.md\`), then
\`node tools/collect-benchmarks.mjs\`.
`

const sections = sources.map((file) => {
  const text = readFileSync(join(root, file), 'utf8').trim()
  // Demote the section's own headings one level so the document keeps one top-level title.
  const body = text.replace(/^(#+) /gm, '#$1 ')
  return `${body}\n\n_Source: [\`${file}\`](../${file})_`
})

writeFileSync(join(root, 'docs', 'benchmarks.md'), `${header}\n${sections.join('\n\n')}\n`)
console.log(`docs/benchmarks.md: ${sources.length} sections (${sources.join(', ')})`)
