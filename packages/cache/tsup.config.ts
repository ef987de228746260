import { defineBookgenConfig } from '../../tools/build/tsup.mjs'

export default defineBookgenConfig()
