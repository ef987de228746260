import { defineBookgenConfig } from '../../tools/build/tsup.mjs'

// Entries: the library and the Keyv adapter (`@bookgen/cache/keyv`, Keyv an optional peer).
export default defineBookgenConfig({ entry: ['src/index.ts', 'src/keyv.ts'] })
