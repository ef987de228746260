// Runs in a fresh project with only the packed @bookgen/profiler installed (tools/pack-check.mjs).
const assert = require('node:assert/strict')
const { startProfile, ProfilerError, LogLinearHistogram } = require('@bookgen/profiler')

const p = startProfile({ name: 'cjs' })
p.recordDbQuery(0.2)
p.recordCacheMiss()
const m = p.stop()
assert.equal(m.dbQueryCount, 1)
assert.equal(m.name, 'cjs')
try {
  p.assert()
  assert.fail('assert() should have thrown')
} catch (error) {
  assert.ok(error instanceof ProfilerError)
  assert.equal(error.code, 'CRITERIA_NOT_MET')
  assert.equal(error.violations.length, 2)
}
const h = new LogLinearHistogram()
h.record(0.01)
assert.equal(h.max, 0.01)
console.log('cjs: ok')
