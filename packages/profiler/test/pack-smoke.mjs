// Runs in a fresh project with only the packed @bookgen/profiler installed (tools/pack-check.mjs).
import assert from 'node:assert/strict'
import { channel } from 'node:diagnostics_channel'
import {
  getSystemMetrics,
  ProfilerError,
  performanceProfile,
  startProfile,
} from '@bookgen/profiler'

const prof = await performanceProfile(async (p) => {
  p.recordDbQuery(0.045)
  channel('bookgen:cache').publish({ op: 'hit', key: 'k', namespace: 'n', durationMs: 0.1 })
  await new Promise((resolve) => setTimeout(resolve, 5))
})
assert.equal(prof.dbQueryAvg, 0.045)
assert.equal(prof.cacheHits, 1)
assert.ok(prof.memoryPeak >= prof.memoryStart)
assert.equal(prof.toJSON().version, 2)
assert.match(prof.toPrometheus(), /^bookgen_profile_memory_peak_bytes\{source="\w+"\} \d+$/m)
assert.equal(prof.check().ok, true)

const p = startProfile()
p.stop()
assert.throws(
  () => p.stop(),
  (e) => e instanceof ProfilerError && e.code === 'ALREADY_STOPPED',
)
assert.ok(getSystemMetrics().memoryRss > 0)
console.log(`esm: peak ${prof.memoryPeak} bytes (${prof.memoryPeakSource})`)
