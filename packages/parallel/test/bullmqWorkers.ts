// Spawns real bookgen-worker processes (from the sources, under tsx) for the BullMQ tests, and
// cleans up a test's queue and run keys afterwards.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Queue } from 'bullmq'

export const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** ioredis options of `redisUrl`. */
export function connection(url = redisUrl) {
  const u = new URL(url)
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
  }
}

/** A queue name no other test uses. */
export function uniqueQueue(): string {
  return `test-${randomUUID().slice(0, 8)}`
}

const cli = fileURLToPath(new URL('../src/bullmq/cli.ts', import.meta.url))
const registry = fileURLToPath(new URL('./fixtures/bullmqRegistry.ts', import.meta.url))

/** One spawned worker process. */
export interface WorkerProcess {
  child: ChildProcess
  /** Every line it printed so far. */
  lines: string[]
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>
  /** Resolves when a printed line contains `text` (rejects if the process exits first). */
  waitFor(text: string): Promise<void>
}

/** Starts a worker on `queue` and waits until it is ready. */
export async function startWorker(
  queue: string,
  args: string[] = [],
  url = redisUrl,
): Promise<WorkerProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      cli,
      '--queue',
      queue,
      '--tasks',
      registry,
      '--threads',
      '1',
      '--redis',
      url,
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const lines: string[] = []
  const waiters: { text: string; resolve: () => void }[] = []
  let buffer = ''
  const onData = (data: Buffer) => {
    buffer += data.toString()
    let nl = buffer.indexOf('\n')
    while (nl !== -1) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      lines.push(line)
      for (const w of waiters.splice(0)) {
        if (line.includes(w.text)) w.resolve()
        else waiters.push(w)
      }
      nl = buffer.indexOf('\n')
    }
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1))
  })
  const worker: WorkerProcess = {
    child,
    lines,
    exited,
    waitFor(text) {
      if (lines.some((l) => l.includes(text))) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        waiters.push({ text, resolve })
        exited.then(() =>
          reject(new Error(`worker exited before printing "${text}":\n${lines.join('\n')}`)),
        )
      })
    },
  }
  await worker.waitFor('] ready ')
  return worker
}

/** Stops the workers (SIGKILL when still running) and removes the queue and its run keys. */
export async function cleanUp(
  queue: string,
  workers: WorkerProcess[],
  url = redisUrl,
): Promise<void> {
  for (const w of workers) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL')
  }
  await Promise.all(workers.map((w) => w.exited))
  const q = new Queue(queue, { connection: connection(url), prefix: '{bookgen}' })
  try {
    await q.obliterate({ force: true })
    const client = await q.client
    let cursor = '0'
    do {
      const [next, keys] = (await client.scan(cursor, {
        MATCH: `{bookgen}:${queue}:*`,
        COUNT: 1000,
      })) as [string, string[]]
      cursor = next
      if (keys.length > 0) await client.del(...keys)
    } while (cursor !== '0')
  } finally {
    await q.close()
  }
}
