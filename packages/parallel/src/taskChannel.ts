import diagnosticsChannel from 'node:diagnostics_channel'

/** Name of the diagnostics channel every settled task is published on (when subscribed). */
export const TASK_CHANNEL = 'bookgen:parallel:task'

/** The message published on `bookgen:parallel:task`. */
export interface TaskEvent {
  /** The task's id (given in `taskIds`, or its index). */
  taskId: string | number
  /** Run time of the last attempt, in milliseconds. */
  durationMs: number
  /** Whether the task succeeded. */
  success: boolean
}

/** The channel object; publish only when `taskChannel.hasSubscribers`. */
export const taskChannel = diagnosticsChannel.channel(TASK_CHANNEL)
