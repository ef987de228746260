import { defineBookgenConfig } from '../../tools/build/tsup.mjs'

export default defineBookgenConfig({
  entry: ['src/cli.ts', 'src/embedTask.ts'],
  format: ['esm'],
  dts: false,
})
