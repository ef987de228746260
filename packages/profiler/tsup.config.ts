import { defineBookgenConfig } from '../../tools/build/tsup.mjs'

export default defineBookgenConfig({ entry: ['src/index.ts', 'src/otel.ts'] })
