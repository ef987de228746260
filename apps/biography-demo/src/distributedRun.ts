import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DemoError, DemoErrorCode } from './demoError.js'
import { removeQueue, runQueueName } from './runQueue.js'
import type { RunResult } from './runTypes.js'
import { readTally } from './taskTally.js'
import type { DistributedConfig } from './variantRunner.js'
import { fleetDefaults, WorkerFleet } from './workerFleet.js'

/** What {@link runDistributed} needs from the CLI. */
export interface DistributedRunOptions {
  /** `bookgen-worker` processes to start (`--workers`). */
  workers: number
  redisUrl: string
  /** The cache namespace, which the queue's name starts with. */
  namespace: string
  /** Step messages (nothing with `--quiet`). */
  log: (line: string) => void
  /** Every line the workers print (`--debug`), or nothing. */
  onWorkerLine?: ((line: string) => void) | undefined
  /** Runs the `distributed` variant in a child process with this queue. */
  runChild: (distributed: DistributedConfig) => Promise<RunResult[]>
  /** Stops the child run at once (a worker failed). */
  stopChild: () => void
  /**
   * Bound of the whole distributed run, in milliseconds.
   * @default 1_200_000 (20 minutes)
   */
  timeoutMs?: number
}

/**
 * The distributed run, from the CLI's process: starts the workers on a queue of the run's own,
 * runs the `distributed` variant in a child process once every worker is ready, stops the
 * workers with SIGTERM and removes the queue, whatever happened; then adds to the run's result
 * who ran its tasks (the workers' tallies, read once they stopped). A worker that exits during
 * the run stops the run with a `WORKER_FAILED` error instead of leaving it waiting for results.
 */
export async function runDistributed(o: DistributedRunOptions): Promise<RunResult> {
  const queue = runQueueName(o.namespace)
  const tallyDir = await mkdtemp(join(tmpdir(), 'bookgen-demo-tally-'))
  const { threads, concurrency } = fleetDefaults
  let fleet: WorkerFleet | undefined
  let cleaning: Promise<void> | undefined
  const cleanUp = (graceMs?: number, removalMs?: number): Promise<void> => {
    cleaning ??= (async () => {
      await fleet?.stop(graceMs)
      await removeQueue(o.redisUrl, queue, removalMs).catch((error: Error) => {
        process.stderr.write(
          `warning: the queue ${queue} was not removed from Redis: ${error.message}\n`,
        )
      })
      await rm(tallyDir, { recursive: true, force: true })
    })()
    return cleaning
  }
  cleanups.add(cleanUp)
  try {
    o.log(
      `starting ${o.workers} bookgen-worker process${o.workers === 1 ? '' : 'es'} (${threads} threads each) on queue ${queue} …`,
    )
    fleet = await WorkerFleet.start({
      count: o.workers,
      queue,
      redisUrl: o.redisUrl,
      tallyDir,
      onLine: o.onWorkerLine,
    })
    o.log(`workers ready in ${fleet.readyMs.toFixed(0)} ms (pids ${fleet.pids.join(', ')})`)
    o.log('running distributed (child process) …')
    const child = o.runChild({
      queue,
      workers: o.workers,
      threadsPerWorker: threads,
      concurrency: 2 * o.workers * concurrency,
    })
    child.catch(() => {})
    const timeoutMs = o.timeoutMs ?? 1_200_000
    let timer: NodeJS.Timeout | undefined
    let results: RunResult[]
    try {
      results = await Promise.race([
        child,
        fleet.lost,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new DemoError(
                  DemoErrorCode.WORKER_FAILED,
                  `the distributed run did not finish within ${timeoutMs / 60_000} minutes`,
                ),
              ),
            timeoutMs,
          )
        }),
      ])
    } catch (error) {
      o.stopChild()
      throw error
    } finally {
      clearTimeout(timer)
    }
    const result = results[0]
    if (result?.distributed === undefined) {
      throw new DemoError(DemoErrorCode.RUN_FAILED, 'the distributed run reported no result')
    }
    const exits = await fleet.stop()
    const tally = await readTally(tallyDir)
    result.distributed.perWorker = fleet.pids.map(
      (pid) => tally.get(pid) ?? { pid, validations: 0, embeddings: 0, total: 0 },
    )
    result.distributed.readyMs = fleet.readyMs
    result.distributed.exits = exits
    o.log(
      `workers stopped (${exits.map((e) => (typeof e === 'number' ? `exit ${e}` : e)).join(', ')})`,
    )
    return result
  } finally {
    await cleanUp()
    cleanups.delete(cleanUp)
  }
}

const cleanups = new Set<(graceMs?: number, removalMs?: number) => Promise<void>>()

/**
 * A signal handler's cleanup: stops the workers of every distributed run still going (SIGTERM,
 * SIGKILL after `graceMs`) and removes their queues (given up after `graceMs` too).
 */
export async function stopDistributedRuns(graceMs: number): Promise<void> {
  // Fleets still starting (not yet known to their run's cleanup) included.
  await WorkerFleet.stopAll(graceMs)
  await Promise.all([...cleanups].map((cleanUp) => cleanUp(graceMs, graceMs)))
}
