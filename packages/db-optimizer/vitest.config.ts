import { defineBookgenTestConfig } from '../../tools/build/vitest.mjs'

export default defineBookgenTestConfig({ globalSetup: ['test/globalSetup.ts'], isolate: false })
