import { defineBookgenTestConfig } from '../../tools/build/vitest.mjs'

// The end-to-end tests run the built CLI (three runs per invocation, in child processes) in
// beforeAll hooks and tests. On a machine with both cores busy one invocation has taken two
// minutes; the bounds are generous so that load slows the suite down without failing it.
export default defineBookgenTestConfig({
  testTimeout: 600_000,
  hookTimeout: 600_000,
  fileParallelism: false,
})
