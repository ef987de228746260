import { defineBookgenTestConfig } from '../../tools/build/vitest.mjs'

export default defineBookgenTestConfig({
  testTimeout: 120_000,
  fileParallelism: false,
})
