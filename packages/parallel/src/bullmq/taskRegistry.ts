import { describe, isWorkerTask, type WorkerTask } from '../defineWorkerTask.js'
import { ParallelError } from '../parallelError.js'
import { bullmqError } from './bullmqError.js'

const kRegistry = Symbol.for('bookgen.parallel.taskRegistry')

/** How a task is named across machines: module URLs differ between hosts, names do not. */
export interface TaskIdentity {
  /** The task's name in the registry. */
  readonly name: string
  /** Its version: a worker serving another version refuses it (`TASK_VERSION_MISMATCH`). */
  readonly version: number
}

/** One entry of `defineTaskRegistry`: a worker task, or a worker task with its version. */
export type TaskRegistryEntry =
  | WorkerTask<unknown, unknown>
  | { readonly task: WorkerTask<unknown, unknown>; readonly version?: number }

/**
 * The tasks a module makes available to remote workers, by name and version. A worker only runs
 * what its registry lists (an allowlist: a job cannot make it import any other code), and the
 * caller names each task by its entry here, never by a file URL.
 */
export interface TaskRegistry {
  readonly [kRegistry]: true
  /** The registered names, in definition order. */
  readonly names: readonly string[]
  /** The worker task and version registered as `name`, or undefined. */
  get(name: string): { task: WorkerTask<unknown, unknown>; version: number } | undefined
  /** The name and version of a registered worker task, or undefined. */
  identify(task: WorkerTask<unknown, unknown>): TaskIdentity | undefined
}

const NAME = /^[A-Za-z0-9_.-]{1,100}$/

/**
 * Names worker tasks for remote workers. Export the registry from the module given to
 * `bookgen-worker --tasks` (as `default` or `tasks`), and pass the same registry to
 * `bullmqBackend({ tasks })` on the caller's side.
 *
 * @param entries name → worker task, or name → `{ task, version }` (version 1 when omitted)
 * @example
 * export default defineTaskRegistry({
 *   hash: { task: defineWorkerTask<string, string>(new URL('./hash.js', import.meta.url), 'hash'), version: 2 },
 * })
 */
export function defineTaskRegistry(entries: Record<string, TaskRegistryEntry>): TaskRegistry {
  if (entries === null || typeof entries !== 'object' || Array.isArray(entries)) {
    throw new ParallelError(
      'INVALID_OPTION',
      `entries must be an object of name → worker task, got ${describe(entries)}`,
    )
  }
  const byName = new Map<string, { task: WorkerTask<unknown, unknown>; version: number }>()
  const byTask = new Map<string, TaskIdentity>()
  for (const [name, entry] of Object.entries(entries)) {
    if (!NAME.test(name)) {
      throw new ParallelError(
        'INVALID_OPTION',
        `entries: a task name must be 1-100 characters of A-Z a-z 0-9 _ . -, got ${describe(name)}`,
      )
    }
    const task = (isWorkerTask(entry) ? entry : (entry as { task?: unknown })?.task) as
      | WorkerTask<unknown, unknown>
      | undefined
    if (!isWorkerTask(task)) {
      throw new ParallelError(
        'INVALID_OPTION',
        `entries.${name} must be a worker task (defineWorkerTask) or { task, version }, got ${describe(entry)}`,
      )
    }
    const version = isWorkerTask(entry) ? 1 : ((entry as { version?: number }).version ?? 1)
    if (!Number.isSafeInteger(version) || version < 0) {
      throw new ParallelError(
        'INVALID_OPTION',
        `entries.${name}.version must be a non-negative integer, got ${describe(version)}`,
      )
    }
    const twin = byTask.get(taskKey(task))
    if (twin !== undefined) {
      throw new ParallelError(
        'INVALID_OPTION',
        `entries.${name}: the same worker task is registered as "${twin.name}" already (one name per task)`,
      )
    }
    byName.set(name, { task, version })
    byTask.set(taskKey(task), Object.freeze({ name, version }))
  }
  const names = Object.freeze([...byName.keys()])
  return Object.freeze({
    [kRegistry]: true as const,
    names,
    get: (name: string) => byName.get(name),
    identify: (task: WorkerTask<unknown, unknown>) => byTask.get(taskKey(task)),
  })
}

/** True when `value` was made by `defineTaskRegistry`. */
export function isTaskRegistry(value: unknown): value is TaskRegistry {
  return typeof value === 'object' && value !== null && kRegistry in value
}

/**
 * The worker task `identity` names in `registry`: `TASK_NOT_ALLOWED` when the name is not
 * registered, `TASK_VERSION_MISMATCH` when it is under another version.
 */
export function resolveTask(
  registry: TaskRegistry,
  identity: TaskIdentity,
): WorkerTask<unknown, unknown> {
  const entry = registry.get(identity.name)
  if (entry === undefined) {
    throw bullmqError(
      'TASK_NOT_ALLOWED',
      `task "${identity.name}" is not in this worker's registry (it serves ${registry.names.map((n) => `"${n}"`).join(', ') || 'nothing'})`,
    )
  }
  if (entry.version !== identity.version) {
    throw bullmqError(
      'TASK_VERSION_MISMATCH',
      `task "${identity.name}": the caller sent version ${identity.version}, this worker serves version ${entry.version}`,
    )
  }
  return entry.task
}

function taskKey(task: WorkerTask<unknown, unknown>): string {
  return `${task.exportName}\u0000${task.moduleUrl}`
}
