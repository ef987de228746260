import { defineBookgenTestConfig } from '../../tools/build/vitest.mjs'

// The end-to-end tests run the built CLI (three runs per invocation) in beforeAll hooks.
export default defineBookgenTestConfig({
  testTimeout: 120_000,
  hookTimeout: 150_000,
  fileParallelism: false,
})
