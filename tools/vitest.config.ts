import { defineBookgenTestConfig } from './build/vitest.mjs'

export default defineBookgenTestConfig()
