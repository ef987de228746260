import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { ResourceLimits } from 'node:worker_threads'
import type { TaskQueue, Tinypool } from 'tinypool'
import type { WorkerTask } from './defineWorkerTask.js'
import { ParallelError } from './parallelError.js'
import { createProgress, watchProgress } from './progress.js'
import { deserializeError } from './serializeError.js'
import type { ChunkMessage, ChunkReply, ProbeMessage, ProbeReply, WorkerConfig } from './worker.js'

/** Options of the internal worker-thread pool. */
export interface WorkerPoolOptions {
  threads: number
  resourceLimits: ResourceLimits | undefined
  setup: string | undefined
  /** Bound of one task module's load on a thread (ms). */
  loadTimeout: number
}

/**
 * A lazily created tinypool running the package's worker entry. Tinypool does not notice a
 * worker thread that ends through `process.exit()`, so every thread is watched and an unexpected
 * exit is turned into the thread's `error` event, which makes tinypool fail that thread's tasks
 * and replace it.
 */
export class WorkerPool {
  readonly #options: WorkerPoolOptions
  #pool: Tinypool | undefined
  #creating: Promise<Tinypool> | undefined
  readonly #probes = new Map<string, Promise<void>>()
  readonly #watched = new WeakSet<object>()
  #closed = false

  constructor(options: WorkerPoolOptions) {
    this.#options = options
  }

  /** Loads the module in a worker and checks the export; rejects with a ParallelError. */
  probe(task: WorkerTask<unknown, unknown>): Promise<void> {
    const key = `${task.exportName}\u0000${task.moduleUrl}`
    let probe = this.#probes.get(key)
    if (probe === undefined) {
      probe = this.#probe(task)
      this.#probes.set(key, probe)
      probe.catch(() => this.#probes.delete(key))
    }
    return probe
  }

  async #probe(task: WorkerTask<unknown, unknown>): Promise<void> {
    const progress = createProgress()
    const message: ProbeMessage = { k: 'probe', m: task.moduleUrl, e: task.exportName, p: progress }
    // Abortable, so that a module blocking its thread at top level can be stopped: the load is
    // timed from its start on a thread (the worker marks it), not from the queueing of the probe.
    const ctrl = new AbortController()
    let expired = false
    const stop = watchProgress(
      progress,
      { loadTimeout: this.#options.loadTimeout, taskTimeout: undefined },
      () => {
        expired = true
        ctrl.abort()
      },
    )
    let reply: ProbeReply
    try {
      reply = (await this.#run(message, ctrl.signal)) as ProbeReply
    } catch (error) {
      if (expired) throw probeError(task, 'timeout', error, this.#options.loadTimeout)
      if (error instanceof ParallelError) throw error
      // The module killed its thread while loading (process.exit, resourceLimits...).
      throw probeError(task, 'load', error)
    } finally {
      stop()
    }
    if (!reply.ok) {
      const cause = deserializeError(reply.error)
      throw probeError(task, reply.reason, cause, this.#options.loadTimeout)
    }
  }

  /** Bound of one module load on a thread (ms). */
  get loadTimeout(): number {
    return this.#options.loadTimeout
  }

  /** Runs one chunk of inputs through `task` on a worker thread. */
  runChunk(
    task: WorkerTask<unknown, unknown>,
    inputs: unknown[],
    signal: AbortSignal | undefined,
    progress: SharedArrayBuffer | undefined,
  ): Promise<ChunkReply> {
    const message: ChunkMessage = { k: 'chunk', m: task.moduleUrl, e: task.exportName, inputs }
    if (progress !== undefined) message.p = progress
    return this.#run(message, signal) as Promise<ChunkReply>
  }

  async #run(message: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    const pool = this.#pool ?? (await this.#create())
    const result = pool.run(message, signal ? { signal } : undefined)
    this.#watch(pool)
    // Tinypool replaces a dead thread while failing its task: watch the replacement too.
    const watch = () => this.#watch(pool)
    result.then(watch, watch)
    return result
  }

  #create(): Promise<Tinypool> {
    if (this.#closed) return Promise.reject(new ParallelError('CLOSED', 'the executor is closed'))
    this.#creating ??= (async () => {
      const filename = resolveWorkerEntry()
      const { Tinypool } = await import('tinypool')
      if (this.#closed) throw new ParallelError('CLOSED', 'the executor is closed')
      const pool = new Tinypool({
        filename,
        minThreads: this.#options.threads,
        maxThreads: this.#options.threads,
        concurrentTasksPerWorker: 2,
        taskQueue: new ArrayQueue() as unknown as TaskQueue,
        workerData: {
          setup: this.#options.setup,
          loadTimeout: this.#options.loadTimeout,
        } satisfies WorkerConfig,
        ...(this.#options.resourceLimits ? { resourceLimits: this.#options.resourceLimits } : {}),
      })
      // Without a listener, a thread dying while idle would throw from the pool's emitter.
      pool.on('error', () => {})
      this.#pool = pool
      this.#watch(pool)
      return pool
    })()
    return this.#creating
  }

  #watch(pool: Tinypool): void {
    for (const thread of pool.threads) {
      if (this.#watched.has(thread)) continue
      this.#watched.add(thread)
      thread.once('exit', (code: number) => {
        if (pool.threads.includes(thread)) {
          const error = new Error(`worker thread exited unexpectedly with code ${code}`)
          ;(error as Error & { exitCode: number }).exitCode = code
          thread.emit('error', error)
          this.#watch(pool)
        }
      })
    }
  }

  /** Number of live threads (0 before the first worker task). */
  get threadCount(): number {
    return this.#pool?.threads.length ?? 0
  }

  /** Terminates every thread; pending chunks reject. */
  async close(): Promise<void> {
    this.#closed = true
    const pool =
      this.#pool ?? (this.#creating ? await this.#creating.catch(() => undefined) : undefined)
    this.#pool = undefined
    if (pool) await pool.destroy()
  }
}

/** Finds the compiled worker entry next to this file (dist) or in ../dist (running from src). */
export function resolveWorkerEntry(): string {
  const candidates = [
    new URL('./worker.js', import.meta.url),
    new URL('../dist/worker.js', import.meta.url),
  ]
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate)
    if (existsSync(path)) return path
  }
  throw new ParallelError(
    'WORKER_ENTRY_MISSING',
    `the worker entry was not found at ${candidates.map((c) => fileURLToPath(c)).join(' or ')}; build @bookgen/parallel first (npx tsup)`,
  )
}

function probeError(
  task: WorkerTask<unknown, unknown>,
  reason: ProbeReply['reason'],
  cause: unknown,
  loadTimeout?: number,
): ParallelError {
  const what = `worker task "${task.exportName}" from module ${task.moduleUrl}`
  if (reason === 'timeout') return loadTimeoutError(task, loadTimeout as number, cause)
  if (reason === 'export') {
    return new ParallelError(
      'WORKER_TASK_NOT_FOUND',
      `${what}: the module has no exported function "${task.exportName}"`,
    )
  }
  if (reason === 'module') {
    return new ParallelError(
      'WORKER_TASK_NOT_FOUND',
      `${what}: the module ${task.moduleUrl} was not found (export "${task.exportName}")`,
      { cause },
    )
  }
  return new ParallelError(
    'WORKER_TASK_LOAD_FAILED',
    `${what}: the module threw while loading: ${(cause as Error)?.message ?? String(cause)}`,
    { cause },
  )
}

/** Tinypool's default queue object is shared by every pool; each of ours gets its own. */
class ArrayQueue {
  #items: object[] = []
  #head = 0
  get size(): number {
    return this.#items.length - this.#head
  }
  push(task: object): void {
    this.#items.push(task)
  }
  shift(): object | null {
    if (this.#head >= this.#items.length) return null
    const task = this.#items[this.#head] as object
    this.#items[this.#head++] = undefined as unknown as object
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return task
  }
  remove(task: object): void {
    const index = this.#items.indexOf(task, this.#head)
    if (index !== -1) this.#items.splice(index, 1)
  }
  cancel(): void {
    for (let i = this.#head; i < this.#items.length; i++) {
      ;(this.#items[i] as { cancel?: () => void } | undefined)?.cancel?.()
    }
    this.#items = []
    this.#head = 0
  }
}

/** A task module that did not finish loading in time. */
export function loadTimeoutError(
  task: WorkerTask<unknown, unknown>,
  loadTimeout: number,
  cause?: unknown,
): ParallelError {
  return new ParallelError(
    'WORKER_TASK_LOAD_TIMEOUT',
    `worker task "${task.exportName}" from module ${task.moduleUrl}: the module did not finish loading within ${loadTimeout} ms (options.loadTimeout)`,
    cause === undefined ? {} : { cause },
  )
}
