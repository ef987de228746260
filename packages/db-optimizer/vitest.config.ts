import { defineBookgenTestConfig } from '../../tools/build/vitest.mjs'

export default defineBookgenTestConfig({
  globalSetup: ['test/globalSetup.ts'],
  // one worker process runs every file (2 shared cores): PGlite's WebAssembly and the modules
  // load once, not once per file. Files use their own tables and remove their subscribers.
  isolate: false,
})
