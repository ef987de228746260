import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DemoError, DemoErrorCode } from './demoError.js'
import { tallyDirVariable } from './taskTally.js'

/** Options of {@link WorkerFleet.start}. */
export interface WorkerFleetOptions {
  /** `bookgen-worker` processes to start. */
  count: number
  /** The queue they serve. */
  queue: string
  /** Redis URL, given to the workers in their environment (`REDIS_URL`), never on the command line. */
  redisUrl: string
  /** Folder where their tasks tally each execution (see `taskTally.ts`). */
  tallyDir: string
  /**
   * Worker threads of each process (`--threads`).
   * @default 4
   */
  threads?: number
  /**
   * Chunks (jobs) each process holds at once (`--concurrency`).
   * @default 4
   */
  concurrency?: number
  /**
   * Milliseconds each worker may take to print `ready` (loading Node, BullMQ and the tasks on a
   * busy machine).
   * @default 120_000
   */
  readyTimeoutMs?: number
  /**
   * Milliseconds a worker may take to drain and exit after SIGTERM before it is killed.
   * @default 30_000
   */
  stopTimeoutMs?: number
  /**
   * Receives every line the workers print, prefixed by nothing (each line names its pid).
   * @default undefined
   */
  onLine?: (line: string) => void
}

/** Defaults of {@link WorkerFleetOptions}. */
export const fleetDefaults = {
  threads: 4,
  concurrency: 4,
  readyTimeoutMs: 120_000,
  stopTimeoutMs: 30_000,
} as const

/** How one worker ended: its exit code, or the signal that ended it. */
export type WorkerExit = number | string

interface Member {
  /** 1-based, for messages. */
  readonly no: number
  readonly child: ChildProcess
  readonly pid: number
  /** The last lines it printed (for error messages). */
  readonly lines: string[]
  readonly exited: Promise<WorkerExit>
  exit: WorkerExit | undefined
  readonly ready: Promise<void>
  isReady: boolean
}

const keptLines = 20

/**
 * The `bookgen-worker` processes of one distributed run, started on this host: spawned from the
 * `@bookgen/parallel` package's bin with the demo's task registry (`dist/workerTasks.js`), each
 * awaited until it prints `ready`, and stopped with SIGTERM (SIGKILL after a bound). A worker that
 * exits before {@link stop} rejects {@link lost}; every wait is bounded. Each worker also watches
 * its stdin, a pipe from this process (`dist/parentWatch.js`), and stops when it closes, so none
 * outlives the demo even when the demo is killed outright.
 */
export class WorkerFleet {
  static readonly #running = new Set<WorkerFleet>()

  readonly #members: Member[]
  readonly #stopTimeoutMs: number
  #stopping: Promise<WorkerExit[]> | undefined
  /** Rejects with a `WORKER_FAILED` DemoError when a worker exits before `stop()`; never resolves. */
  readonly lost: Promise<never>
  /** Milliseconds from the first spawn until every worker was ready. */
  readyMs = 0

  private constructor(members: Member[], stopTimeoutMs: number) {
    this.#members = members
    this.#stopTimeoutMs = stopTimeoutMs
    this.lost = new Promise<never>((_, reject) => {
      for (const m of members) {
        void m.exited.then((exit) => {
          if (this.#stopping !== undefined) return
          const when = m.isReady ? 'while it served the run' : 'before it was ready'
          reject(workerError(m, members.length, `exited with ${describeExit(exit)} ${when}`))
        })
      }
    })
    this.lost.catch(() => {})
  }

  /**
   * Starts the workers and resolves once each printed `ready`. Rejects with a `WORKER_FAILED`
   * DemoError (after stopping the ones that started) when one exits first or is not ready in time.
   */
  static async start(options: WorkerFleetOptions): Promise<WorkerFleet> {
    const o = { ...fleetDefaults, ...options }
    const bin = workerBin()
    const started = performance.now()
    const members = Array.from({ length: o.count }, (_, i) => spawnMember(i + 1, bin, o))
    const fleet = new WorkerFleet(members, o.stopTimeoutMs)
    WorkerFleet.#running.add(fleet)
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        Promise.all(members.map((m) => m.ready)),
        fleet.lost,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const late = members.filter((m) => m.exit === undefined)
            reject(
              workerError(
                late[0] ?? members[0]!,
                members.length,
                `did not print "ready" within ${o.readyTimeoutMs / 1000} s`,
              ),
            )
          }, o.readyTimeoutMs)
        }),
      ])
    } catch (error) {
      await fleet.stop()
      throw error
    } finally {
      clearTimeout(timer)
    }
    fleet.readyMs = performance.now() - started
    return fleet
  }

  /** Stops every fleet not stopped yet (a signal handler's cleanup), each worker within `graceMs`. */
  static stopAll(graceMs: number): Promise<unknown> {
    return Promise.all([...WorkerFleet.#running].map((fleet) => fleet.stop(graceMs)))
  }

  /** The workers' process ids, in start order. */
  get pids(): number[] {
    return this.#members.map((m) => m.pid)
  }

  /**
   * Sends SIGTERM to every worker (they drain their jobs and exit), waits for each at most
   * `graceMs`, then kills what is left with SIGKILL. Resolves with how each one ended, in start
   * order; calling it again returns the same promise.
   */
  stop(graceMs = this.#stopTimeoutMs): Promise<WorkerExit[]> {
    this.#stopping ??= (async () => {
      const exits = await Promise.all(this.#members.map((m) => stopMember(m, graceMs)))
      WorkerFleet.#running.delete(this)
      return exits
    })()
    return this.#stopping
  }
}

/** The `bookgen-worker` bin of the installed `@bookgen/parallel`. */
function workerBin(): string {
  const require = createRequire(import.meta.url)
  const manifest = require.resolve('@bookgen/parallel/package.json')
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: Record<string, string> }
  const relative = bin?.['bookgen-worker']
  const path = relative === undefined ? undefined : join(dirname(manifest), relative)
  if (path === undefined || !existsSync(path)) {
    throw new DemoError(
      DemoErrorCode.WORKER_FAILED,
      `bookgen-worker is not built (${path ?? `no bin in ${manifest}`}): build @bookgen/parallel first (npm run demo builds it)`,
    )
  }
  return path
}

function spawnMember(
  no: number,
  bin: string,
  o: WorkerFleetOptions & { threads: number; concurrency: number },
): Member {
  const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))
  const child = spawn(
    process.execPath,
    [
      '--import',
      new URL('./parentWatch.js', import.meta.url).href,
      bin,
      '--queue',
      o.queue,
      '--tasks',
      here('./workerTasks.js'),
      '--concurrency',
      String(o.concurrency),
      '--threads',
      String(o.threads),
    ],
    {
      env: { ...process.env, REDIS_URL: o.redisUrl, [tallyDirVariable]: o.tallyDir },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  const lines: string[] = []
  let markReady!: () => void
  const ready = new Promise<void>((resolve) => {
    markReady = resolve
  })
  const member: Member = {
    no,
    child,
    pid: child.pid ?? -1,
    lines,
    exit: undefined,
    ready,
    isReady: false,
    exited: new Promise<WorkerExit>((resolve) => {
      child.once('error', (error) => {
        lines.push(`spawn failed: ${error.message}`)
        member.exit = 'spawn error'
        resolve('spawn error')
      })
      child.once('exit', (code, signal) => {
        member.exit = code ?? signal ?? 'unknown'
        resolve(member.exit)
      })
    }),
  }
  let buffer = ''
  const onData = (data: Buffer) => {
    buffer += data.toString('utf8')
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      lines.push(line)
      if (lines.length > keptLines) lines.shift()
      o.onLine?.(line)
      if (!member.isReady && line.includes('] ready ')) {
        member.isReady = true
        markReady()
      }
    }
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  // The pipe is never written to; closing it (this process gone) is what the worker watches.
  child.stdin?.on('error', () => {})
  return member
}

async function stopMember(m: Member, graceMs: number): Promise<WorkerExit> {
  if (m.exit !== undefined) return m.exit
  m.child.kill('SIGTERM')
  const ended = await within(m.exited, graceMs)
  if (ended !== undefined) return ended
  m.child.kill('SIGKILL')
  return (await within(m.exited, 10_000)) ?? 'SIGKILL (still running)'
}

async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

function workerError(m: Member, count: number, what: string): DemoError {
  const tail =
    m.lines.length > 0 ? `; its last lines:\n${m.lines.map((l) => `  ${l}`).join('\n')}` : ''
  return new DemoError(
    DemoErrorCode.WORKER_FAILED,
    `bookgen-worker ${m.no}/${count} (pid ${m.pid}) ${what}${tail}`,
  )
}

function describeExit(exit: WorkerExit): string {
  return typeof exit === 'number' ? `code ${exit}` : exit
}
