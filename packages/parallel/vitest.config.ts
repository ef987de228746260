import { defineBookgenTestConfig } from '../../tools/build/vitest.mjs'

export default defineBookgenTestConfig()
