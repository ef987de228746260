import { defineBookgenConfig } from '../../tools/build/tsup.mjs'

// Two entries: the library, and the worker-thread entry tinypool loads (dist/worker.js).
export default defineBookgenConfig({
  entry: ['src/index.ts', 'src/worker.ts'],
  shims: true,
})
