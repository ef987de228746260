export type { BoundWorkerTask, WorkerTask } from './defineWorkerTask.js'
export {
  defineWorkerTask,
  isBoundWorkerTask,
  isWorkerTask,
} from './defineWorkerTask.js'
export type {
  BatchOutcome,
  BatchProcessOptions,
  BatchProcessor,
} from './parallelBatchProcess.js'
export { parallelBatchProcess } from './parallelBatchProcess.js'
export type { ParallelErrorDetails } from './parallelError.js'
export { ParallelError, ParallelErrorCode } from './parallelError.js'
export type { ParallelMapOptions } from './parallelMap.js'
export { parallelMap } from './parallelMap.js'
export type { Input, MapFunction, TaskOutput } from './parallelTaskExecutor.js'
export { DEFAULT_OPTIONS, ParallelTaskExecutor } from './parallelTaskExecutor.js'
export type { TaskEvent } from './taskChannel.js'
export { TASK_CHANNEL } from './taskChannel.js'
export type { ThreadBackendOptions } from './threadBackend.js'
export { ThreadBackend } from './threadBackend.js'
export type { Transfer } from './transfer.js'
export { transfer } from './transfer.js'
export type {
  ChunkBackend,
  ChunkEnd,
  ChunkHandle,
  ChunkListener,
  ChunkRequest,
  DurationStats,
  ExecutorMetrics,
  ExecutorOptions,
  RunOptions,
  Task,
  TaskContext,
  TaskResult,
  WorkerTaskContext,
} from './types.js'
export type { ValidationSummary, Validator } from './validationParallelizer.js'
export { ValidationParallelizer } from './validationParallelizer.js'
