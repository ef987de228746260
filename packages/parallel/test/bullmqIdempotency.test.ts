import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { bullmqBackend } from '../src/bullmq/index.js'
import { ParallelTaskExecutor } from '../src/index.js'
import { cleanUp, redisUrl, startWorker, uniqueQueue, type WorkerProcess } from './bullmqWorkers.js'
import registry, { failsOnce, keyed } from './fixtures/bullmqRegistry.js'

// The idempotency key of a task: the same on every execution of that task of that run (retries,
// and redeliveries after a worker died), on local threads and on BullMQ workers alike.
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean()
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bookgen-keys-'))
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Every execution logged by `keyed`: index → the keys it ran with. */
function executions(log: string): Map<number, string[]> {
  const byIndex = new Map<number, string[]>()
  for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
    const [i, key] = line.split(' ') as [string, string, string]
    const keys = byIndex.get(Number(i)) ?? []
    keys.push(key)
    byIndex.set(Number(i), keys)
  }
  return byIndex
}

/** The side effects applied: one marker file per key, holding the index that wrote it. */
function effects(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const name of readdirSync(dir)) {
    out.set(decodeURIComponent(name), readFileSync(join(dir, name), 'utf8'))
  }
  return out
}

describe('idempotency keys', () => {
  it('local threads: a retried worker task gets the key of its first attempt', async () => {
    const executor = new ParallelTaskExecutor({ threads: 2 })
    cleanups.push(() => executor.close())
    const dir = tempDir()
    const n = 20
    const results = await executor.mapParallel(
      failsOnce,
      Array.from({ length: n }, () => ({ dir })),
      { retries: 1, retryDelay: 1 },
    )
    expect(results.every((r) => r.success && r.attempts === 2)).toBe(true)
    const keys = results.map((r) => r.result as string)
    expect(new Set(keys).size).toBe(n)
    const prefix = keys[0]?.split(':')[0]
    expect(keys).toEqual(keys.map((_, i) => `${prefix}:${i}`))
    // The first attempt created the marker under the same key the retry returned.
    expect([...effects(dir).keys()].sort()).toEqual([...keys].sort())
  })

  it('local threads and closures: options.idempotencyKeys are the keys', async () => {
    const executor = new ParallelTaskExecutor({ threads: 1 })
    cleanups.push(() => executor.close())
    const dir = tempDir()
    const given = ['order-7', 'order-8', 'order-9']
    const remote = await executor.mapParallel(
      failsOnce,
      given.map(() => ({ dir })),
      { retries: 1, idempotencyKeys: given },
    )
    expect(remote.map((r) => r.result)).toEqual(given)
    const local = await executor.mapParallel(
      (_: number, _i, context) => context.idempotencyKey,
      [1, 2, 3],
      { idempotencyKeys: given },
    )
    expect(local.map((r) => r.result)).toEqual(given)
    await expect(
      executor.mapParallel(failsOnce, [{ dir }], { idempotencyKeys: ['a', 'b'] }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTION', message: /options\.idempotencyKeys/ })
  })

  it('BullMQ: a task re-run after its worker was killed mid-chunk gets the same key; keyed effects apply once', async () => {
    const queue = uniqueQueue()
    const workers: WorkerProcess[] = []
    cleanups.push(() => cleanUp(queue, workers))
    const fast = ['--lock-duration', '2000', '--stalled-interval', '1000', '--concurrency', '1']
    workers.push(...(await Promise.all([startWorker(queue, fast), startWorker(queue, fast)])))
    const victim = workers[0] as WorkerProcess
    const backend = bullmqBackend({ connection: redisUrl, queue, tasks: registry, concurrency: 4 })
    const executor = new ParallelTaskExecutor({ backend })
    cleanups.push(async () => {
      await executor.close()
      await backend.close()
    })
    const dir = tempDir()
    const log = join(tempDir(), 'executions.log')
    const n = 40
    const items = Array.from({ length: n }, (_, i) => ({ i, ms: 150, log, dir }))
    let killed = false
    // Killed once it started its third task of a chunk: two have applied their effect without
    // being reported (a worker reports a thread's tasks together), the third is running.
    const watch = setInterval(() => {
      if (killed || !existsSync(log)) return
      const mine = readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.endsWith(` ${victim.child.pid}`))
      if (mine.length >= 3) {
        killed = true
        victim.child.kill('SIGKILL')
      }
    }, 10)
    const settled = new Uint8Array(n)
    const results = await executor
      .mapParallel(keyed, items, {
        chunkSize: 10,
        onResult: (r) => {
          settled[r.taskId as number] = (settled[r.taskId as number] ?? 0) + 1
        },
      })
      .finally(() => clearInterval(watch))
    expect(killed).toBe(true)
    expect(await victim.exited).toBe('SIGKILL')
    expect(settled.every((c) => c === 1)).toBe(true)
    expect(results.map((r) => r.result?.i)).toEqual(items.map((item) => item.i))
    const ran = executions(log)
    expect(ran.size).toBe(n)
    // Every execution of a task carried one key, and no two tasks share a key.
    const keyOf = new Map<number, string>()
    for (const [i, keys] of ran) {
      expect(new Set(keys).size).toBe(1)
      keyOf.set(i, keys[0] as string)
    }
    expect(new Set(keyOf.values()).size).toBe(n)
    // The killed worker's tasks ran again elsewhere, under the keys of their first run.
    const again = [...ran.values()].filter((keys) => keys.length > 1)
    expect(again.length).toBeGreaterThanOrEqual(1)
    // The caller's result carries the key the task ran with; the keyed effect applied once.
    for (const r of results) expect(r.result?.key).toBe(keyOf.get(r.result?.i as number))
    const applied = effects(dir)
    expect(applied.size).toBe(n)
    for (const [i, key] of keyOf) expect(applied.get(key)).toBe(`${i}\n`)
  })
})
