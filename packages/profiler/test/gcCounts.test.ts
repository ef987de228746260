import { execFile } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const esmBuild = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href

// A child under --trace-gc: two forced collections mark the window's start, one forced collection
// inside the window empties the young generation (so no scavenge can fall between the entries'
// delivery and stop()), and three more mark the end. V8 prints every collection in order, so the
// lines after the second forced one, up to the third, are exactly the window's.
const child = `
const { startProfile } = await import(${JSON.stringify(esmBuild)})
const heapPeak = process.argv[1]
gc(); gc()
const p = startProfile({ heapPeak, sampleIntervalMs: 0, eventLoop: false })
let keep = 0
for (let b = 0; b < 60; b++) {
  let rows = []
  for (let i = 0; i < 20000; i++) rows.push({ i, s: 'x' + i })
  keep += rows.length
  rows = null
  await new Promise(setImmediate)
}
gc()
await new Promise(setImmediate)
const m = p.stop()
gc(); gc(); gc()
console.error(JSON.stringify({ keep, source: m.heapPeakSource, byKind: m.gc.byKind }))
`

async function traced(heapPeak: 'gc' | 'sampler') {
  const { stdout, stderr } = await run(
    process.execPath,
    ['--trace-gc', '--expose-gc', '--input-type=module', '-e', child, heapPeak],
    { maxBuffer: 1 << 24 },
  )
  const lines = stdout.split('\n').filter((l) => / ms: (Scavenge|Mark-Compact|Mark-Sweep)/.test(l))
  const forced = lines.flatMap((l, i) => (/ testing[;,]/.test(l) ? [i] : []))
  expect(forced).toHaveLength(6)
  const window = lines.slice(forced[1]! + 1, forced[2]! + 1)
  const result = JSON.parse(stderr.trim().split('\n').at(-1)!) as {
    source: string
    byKind: Record<string, { count: number }>
  }
  return {
    source: result.source,
    counted: { minor: result.byKind.minor!.count, major: result.byKind.major!.count },
    traced: {
      minor: window.filter((l) => / ms: Scavenge/.test(l)).length,
      major: window.filter((l) => / ms: Mark-(Compact|Sweep)/.test(l)).length,
    },
  }
}

describe('GC counts', () => {
  it.each([
    ['gc', "V8's GC profiler (default)"],
    ['sampler', "the GC observer (heapPeak: 'sampler')"],
  ] as const)('match --trace-gc exactly with heapPeak: %s, %s', async (heapPeak, _from) => {
    const r = await traced(heapPeak)
    expect(r.source).toBe(heapPeak)
    expect(r.traced.minor).toBeGreaterThan(5)
    expect(r.counted).toEqual(r.traced)
  })
})
