import { defineWorkerTask } from '@bookgen/parallel'
import { defineTaskRegistry } from '@bookgen/parallel/bullmq'
import type { ValidationInput, ValidationOutput } from './validateTask.js'

/** The embedding worker task: `termVector` of dist/embedTask.js, on local or remote threads. */
export const termVectorTask = defineWorkerTask<string, Float32Array>(
  new URL('./embedTask.js', import.meta.url),
  'termVector',
)

/** The validation worker task: `validateSource` of dist/validateTask.js (fetch and score one page). */
export const validateSourceTask = defineWorkerTask<ValidationInput, ValidationOutput>(
  new URL('./validateTask.js', import.meta.url),
  'validateSource',
)

/**
 * The tasks the demo's `bookgen-worker` processes serve (`--tasks dist/workerTasks.js`), and the
 * registry the distributed run names them by. Bump a version when the task's result changes.
 */
const workerTasks = defineTaskRegistry({
  validateSource: { task: validateSourceTask, version: 1 },
  termVector: { task: termVectorTask, version: 1 },
})

export default workerTasks
