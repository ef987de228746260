import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { extractExamples, runExample } from '../../../tools/testing/readme.mjs'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const examples = extractExamples(`${packageDir}/README.md`)

// What some examples must print, keyed by a line of their code.
const expected: [string, RegExp][] = [
  ['prof.updateMemoryPeak()', /^peak \d+\.\d MiB \((vmhwm|maxrss|sampler)\)$/m],
  ['monitor.recordDbQuery(0.045)', /^3 0\.\d+ 0\.\d+ 0\.\d+\n2 1 0\.6666666666666666$/m],
  ['getSystemMetrics()', /^cpu \d+\.\d %, rss \d+ B/m],
  ['const [warm, cold]', /^10 0 0\n0 4 4 0\.042$/m],
  [
    'prof.check({ maxDbQueryAvg',
    /^false\ndbQueryAvg 150\.00 ms exceeds maxDbQueryAvg 100\.00 ms\ndbQueries\.p99 250\.00 ms exceeds maxDbQueryP99 200\.00 ms\ncacheHitRatio 75\.0 % is below minCacheHitRatio 80\.0 %\n2 /m,
  ],
  [
    'prof.toPrometheus({ labels',
    /bookgen_profile_memory_peak_bytes\{service="bookgen",profile="biography",source="\w+"\} \d+/,
  ],
  [
    'const fleet = mergeProfiles(jsons)',
    /^102 true 0\.5\nbookgen_profile_db_query_duration_seconds_count\{service="bookgen",profile="host-a"\} 99\nbookgen_profile_db_query_duration_seconds_count\{service="bookgen",profile="host-b"\} 3$/m,
  ],
  [
    'prof.recordDbQuery(-0.5)',
    /^INVALID_DURATION seconds must be a finite, non-negative number, got -0\.5$/m,
  ],
]

describe('README examples', () => {
  it('has runnable examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(7)
  })

  for (const example of examples) {
    it(`runs the example at line ${example.line} as written`, async () => {
      const { stdout } = await runExample(example, packageDir, {
        // Runners such as nx set FORCE_COLOR, which would colour the printed values.
        env: { FORCE_COLOR: '0' },
      })
      for (const [marker, pattern] of expected) {
        if (example.code.includes(marker)) expect(stdout).toMatch(pattern)
      }
    })
  }

  it('checks the output of every example it names', () => {
    for (const [marker] of expected) {
      expect(examples.some((e) => e.code.includes(marker))).toBe(true)
    }
  })
})
