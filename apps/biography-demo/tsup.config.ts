import { defineBookgenConfig } from '../../tools/build/tsup.mjs'

export default defineBookgenConfig({
  // The worker-thread entries, the registry `bookgen-worker --tasks` loads, and the module
  // preloaded into each worker the demo starts, all next to cli.js.
  entry: [
    'src/cli.ts',
    'src/embedTask.ts',
    'src/validateTask.ts',
    'src/workerTasks.ts',
    'src/parentWatch.ts',
  ],
  format: ['esm'],
  dts: false,
  // cli.js imports the runs (drivers, PGlite, the packages) on demand: a chunk of their own.
  splitting: true,
})
