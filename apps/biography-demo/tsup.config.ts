import { defineBookgenConfig } from '../../tools/build/tsup.mjs'

export default defineBookgenConfig({
  entry: ['src/cli.ts', 'src/embedTask.ts'],
  format: ['esm'],
  dts: false,
  // cli.js imports the runs (drivers, PGlite, the packages) on demand: a chunk of their own.
  splitting: true,
})
