import { defineWorkerTask, ParallelTaskExecutor, ThreadBackend } from '../src/index.js'
import { backendSuite, type SuiteTasks } from './backendSuite.js'

const fixtures = new URL('./fixtures/tasks.mjs', import.meta.url)
const tasks: SuiteTasks = {
  double: defineWorkerTask(fixtures, 'double'),
  failOdd: defineWorkerTask(fixtures, 'failOdd'),
  spin: defineWorkerTask(fixtures, 'spin'),
  logged: defineWorkerTask(fixtures, 'logged'),
}

backendSuite('local threads (default)', {
  executor: (options = {}) => new ParallelTaskExecutor({ threads: 2, retryDelay: 1, ...options }),
  tasks,
})

backendSuite('a ThreadBackend given as options.backend', {
  executor: (options = {}) =>
    new ParallelTaskExecutor({
      retryDelay: 1,
      ...options,
      backend: new ThreadBackend({
        threads: 2,
        minThreads: 0,
        idleTimeout: undefined,
        resourceLimits: undefined,
        setup: undefined,
        loadTimeout: 30_000,
      }),
    }),
  tasks,
})
