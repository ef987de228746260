import { defineBookgenConfig } from '../../tools/build/tsup.mjs'

// Entries: the library, the worker-thread entry tinypool loads (dist/worker.js), the BullMQ
// backend (`./bullmq`) and its `bookgen-worker` command. Shared code goes to chunks (splitting),
// so that `./bullmq` uses the library's own classes (one ParallelError, one WorkerTask symbol).
export default defineBookgenConfig({
  entry: ['src/index.ts', 'src/worker.ts', 'src/bullmq/index.ts', 'src/bullmq/cli.ts'],
  shims: true,
  splitting: true,
})
