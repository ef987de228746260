import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Queue } from 'bullmq'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bullmqBackend } from '../src/bullmq/index.js'
import { defineWorkerTask, type TaskResult, type WorkerTask } from '../src/index.js'
import type { ChunkEnd, ChunkHandle } from '../src/types.js'
import {
  cleanUp,
  connection,
  redisUrl,
  startWorker,
  uniqueQueue,
  type WorkerProcess,
} from './bullmqWorkers.js'
import callerRegistry, { doubleV2, secret } from './fixtures/bullmqCallerRegistry.js'
import registry, { big, double, echo, fail, sleepy } from './fixtures/bullmqRegistry.js'

// Real Redis, real bookgen-worker processes. Tests that stop workers get their own queue and
// workers; the others share one queue and two workers. Every queue is removed afterwards.
let queue = ''
let workers: WorkerProcess[] = []
const closers: (() => Promise<void>)[] = []
async function closeAll() {
  for (const close of closers.splice(0)) await close()
}

function backend(options: Partial<Parameters<typeof bullmqBackend>[0]> = {}) {
  const b = bullmqBackend({ connection: redisUrl, queue, tasks: registry, ...options })
  closers.push(() => b.close())
  return b
}

async function workersOn(count: number, args: string[] = []) {
  const started = await Promise.all(Array.from({ length: count }, () => startWorker(queue, args)))
  workers.push(...started)
  return started
}

interface ChunkOutcome {
  items: { k: number; success: boolean; value: unknown }[]
  end: ChunkEnd | undefined
  /** item() calls after end(). */
  late: number
}

/** Runs one chunk through the backend's executor seam and resolves at its end. */
function runChunk<In, Out>(
  b: ReturnType<typeof backend>,
  task: WorkerTask<In, Out>,
  inputs: In[],
  onItem?: (handle: ChunkHandle, reported: number) => void,
): Promise<ChunkOutcome> {
  const outcome: ChunkOutcome = { items: [], end: undefined, late: 0 }
  return new Promise((resolve) => {
    const handle = b.run(
      {
        task: task as WorkerTask<unknown, unknown>,
        inputs,
        transferList: undefined,
        timeout: undefined,
      },
      {
        item: (k, success, value) => {
          if (outcome.end !== undefined) outcome.late++
          else outcome.items.push({ k, success, value })
          onItem?.(handle, outcome.items.length)
        },
        end: (end) => {
          outcome.end = end
          resolve(outcome)
        },
      },
    )
  })
}

function tempLog(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bookgen-bullmq-'))
  closers.push(async () => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'executions.log')
}

function executions(log: string): number[] {
  let text = ''
  try {
    text = readFileSync(log, 'utf8')
  } catch {
    return []
  }
  return text.split('\n').filter(Boolean).map(Number)
}

describe('BullMQ backend on two shared workers', () => {
  beforeAll(async () => {
    queue = uniqueQueue()
    await workersOn(2)
  })
  afterEach(closeAll)
  afterAll(async () => {
    await cleanUp(queue, workers)
    workers = []
  })

  it('settles 10,000 tiny tasks over two workers once each, in input order', async () => {
    const b = backend()
    const items = Array.from({ length: 10_000 }, (_, i) => i)
    const seen = new Uint8Array(items.length)
    let reports = 0
    const results = await b.map(double, items, {
      onResult: (r) => {
        reports++
        seen[r.taskId as number] = (seen[r.taskId as number] ?? 0) + 1
      },
    })
    expect(results).toHaveLength(items.length)
    expect(reports).toBe(items.length)
    expect(seen.every((c) => c === 1)).toBe(true)
    for (let i = 0; i < items.length; i++) {
      const r = results[i] as TaskResult<number>
      expect(r.success).toBe(true)
      expect(r.result).toBe(i * 2)
      expect(r.taskId).toBe(i)
    }
  })

  it('keeps typed arrays, Map, Set, Date and BigInt through the queue', async () => {
    const b = backend()
    const values = [
      new Float32Array([1.5, -2.25, 3]),
      new Uint8Array([0, 255, 7]),
      new Map<string, unknown>([
        ['a', 1],
        ['b', new Set([1, 2])],
      ]),
      new Date('2026-12-01T10:00:00.000Z'),
      2n ** 70n,
      { nested: { vector: new Float64Array([Math.PI]) } },
    ]
    const results = await b.map(echo, values)
    expect(results.map((r) => r.success)).toEqual(values.map(() => true))
    expect(results[0]?.result).toBeInstanceOf(Float32Array)
    expect(results.map((r) => r.result)).toEqual(values)
  })

  it('refuses a task the worker does not serve and a version it does not have', async () => {
    const b = backend({ tasks: callerRegistry })
    const notAllowed = await b.map(secret, [1, 2])
    expect(notAllowed.map((r) => (r.error as { code?: string }).code)).toEqual([
      'TASK_NOT_ALLOWED',
      'TASK_NOT_ALLOWED',
    ])
    const mismatch = await b.map(doubleV2, [1])
    expect(mismatch[0]?.success).toBe(false)
    expect(mismatch[0]?.error).toMatchObject({
      code: 'TASK_VERSION_MISMATCH',
      message: expect.stringContaining('version 2'),
    })
  })

  it('rejects a task missing from the caller registry before anything is queued', async () => {
    const b = backend()
    const stray = defineWorkerTask<number, number>(
      new URL('./fixtures/tasks.mjs', import.meta.url),
      'hash',
    )
    await expect(b.map(stray, [1])).rejects.toMatchObject({ code: 'TASK_NOT_ALLOWED' })
  })

  it('fails only the tasks whose error, input or result cannot travel', async () => {
    const b = backend({ maxPayloadBytes: 4096 })
    const failed = await b.map(fail, [7])
    expect(failed[0]?.error).toBeInstanceOf(RangeError)
    expect(failed[0]?.error).toMatchObject({ code: 'E_FIXTURE', message: 'failed 7' })
    const sizes = await b.map(big, [16, 100_000])
    expect(sizes[0]?.result).toEqual(new Uint8Array(16))
    expect(sizes[1]?.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
    const inputs = await b.map(echo, ['small', 'x'.repeat(10_000), () => 1])
    expect(inputs.map((r) => r.success)).toEqual([true, false, false])
    expect(inputs[1]?.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
    expect(inputs[2]?.error).toMatchObject({ code: 'NOT_CLONEABLE' })
  })

  it('collects the results of a run again by its id', async () => {
    const b = backend()
    const log = tempLog()
    const items = [1, 2, 3].map((i) => ({ i, ms: 1, log }))
    const first = await b.map(sleepy, items, { runId: 'report-42' })
    expect(first.map((r) => r.result)).toEqual([1, 2, 3])
    const again = await b.collect('report-42')
    expect(again.map((r) => r.result)).toEqual([1, 2, 3])
    expect(again.map((r) => r.taskId)).toEqual([0, 1, 2])
    // A caller that restarts attaches to the same run: results come back, nothing runs twice.
    const other = backend()
    const attached = await other.map(sleepy, items, { runId: 'report-42' })
    expect(attached.map((r) => r.result)).toEqual([1, 2, 3])
    expect(executions(log).sort()).toEqual([1, 2, 3])
    expect(await b.collect('never-ran')).toEqual([])
  })

  it('attaches to a run with more chunks than its window: results read early wait for their chunk', async () => {
    const log = tempLog()
    const items = Array.from({ length: 12 }, (_, i) => ({ i, ms: 1, log }))
    const runId = `window-${Math.random().toString(36).slice(2)}`
    const first = await backend({ chunkSize: 1 }).map(sleepy, items, { runId })
    expect(first.map((r) => r.result)).toEqual(items.map((item) => item.i))
    // Two chunks at a time: the first read of the stream returns the results of all twelve,
    // ten of them for chunks not submitted yet.
    const attached = await backend({ chunkSize: 1, concurrency: 2 }).map(sleepy, items, { runId })
    expect(attached.map((r) => r.result)).toEqual(items.map((item) => item.i))
    expect(attached.map((r) => r.taskId)).toEqual(items.map((item) => item.i))
    expect(executions(log).sort((a, b) => a - b)).toEqual(items.map((item) => item.i))
  })

  it('enforces timeouts and retries on the worker, counting attempts', async () => {
    const b = backend()
    const timed = await b.map(
      sleepy,
      [
        { i: 0, ms: 1 },
        { i: 1, ms: 5000 },
      ],
      { timeout: 300 },
    )
    expect(timed[0]?.result).toBe(0)
    expect(timed[1]?.error).toMatchObject({ code: 'TASK_TIMEOUT' })
    const retried = await b.map(fail, [3], { retries: 2, retryDelay: 1 })
    expect(retried[0]).toMatchObject({ success: false, attempts: 3 })
  })

  it('serves the executor seam: chunk items in item order, once each, then one end', async () => {
    const b = backend()
    await b.prepare(double as WorkerTask<unknown, unknown>)
    const stray = defineWorkerTask(new URL('./fixtures/tasks.mjs', import.meta.url), 'hash')
    await expect(b.prepare(stray)).rejects.toMatchObject({ code: 'TASK_NOT_ALLOWED' })
    const inputs = Array.from({ length: 100 }, (_, k) => k)
    const chunk = await runChunk(b, double, inputs)
    expect(chunk.items.map((item) => item.k)).toEqual(inputs)
    expect(chunk.items.map((item) => item.value)).toEqual(inputs.map((k) => k * 2))
    expect(chunk.end).toEqual({ completed: 100 })
    const failing = await runChunk(b, fail, [1, 2])
    expect(failing.items.map((item) => [item.k, item.success])).toEqual([
      [0, false],
      [1, false],
    ])
    expect(failing.items[1]?.value).toMatchObject({ code: 'E_FIXTURE', message: 'failed 2' })
    const unsendable = await runChunk(b, echo, [1, () => 2, 3])
    expect(unsendable.items).toEqual([])
    expect(unsendable.end).toMatchObject({ completed: 0, notStarted: { kind: 'unsendable' } })
  })

  it('ends a drained chunk with the items reported so far, and reports nothing after', async () => {
    const b = backend()
    const items = Array.from({ length: 30 }, (_, i) => ({ i, ms: 30 }))
    const chunk = await runChunk(b, sleepy, items, (handle, reported) => {
      if (reported === 1) handle.drain()
    })
    expect(chunk.end?.completed).toBe(chunk.items.length)
    expect(chunk.items.length).toBeLessThan(items.length)
    expect(chunk.items.map((item) => item.value)).toEqual(
      items.slice(0, chunk.items.length).map((item) => item.i),
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(chunk.late).toBe(0)
  })
})

describe('BullMQ backend when workers stop or the caller cancels', () => {
  afterEach(async () => {
    await closeAll()
    await cleanUp(queue, workers)
    workers = []
  })

  it('recovers the chunks of a worker killed with SIGKILL: 0 lost, 0 duplicated', async () => {
    queue = uniqueQueue()
    const fast = ['--lock-duration', '2000', '--stalled-interval', '1000', '--concurrency', '2']
    const [victim] = await workersOn(2, fast)
    const b = backend({ concurrency: 8 })
    const log = tempLog()
    const n = 300
    const items = Array.from({ length: n }, (_, i) => ({ i, ms: 10, log }))
    const seen = new Uint8Array(n)
    let killed = false
    const results = await b.map(sleepy, items, {
      chunkSize: 10,
      onResult: (r) => {
        seen[r.taskId as number] = (seen[r.taskId as number] ?? 0) + 1
        if (!killed && r.taskId !== undefined && seen.reduce((a, c) => a + c, 0) >= 40) {
          killed = true
          victim?.child.kill('SIGKILL')
        }
      },
    })
    expect(killed).toBe(true)
    expect(await victim?.exited).toBe('SIGKILL')
    expect(seen.every((c) => c === 1)).toBe(true)
    expect(results.map((r) => r.result)).toEqual(items.map((item) => item.i))
    // At least once: every task ran; only those the dead worker had not reported ran twice.
    const ran = executions(log)
    expect(new Set(ran).size).toBe(n)
  })

  it('drains on SIGTERM: running chunks finish, the rest waits for another worker', async () => {
    queue = uniqueQueue()
    const [first] = await workersOn(1, ['--concurrency', '1'])
    const b = backend({ concurrency: 4 })
    const n = 40
    const items = Array.from({ length: n }, (_, i) => ({ i, ms: 20 }))
    let termed = false
    let second: Promise<WorkerProcess> | undefined
    const seen = new Uint8Array(n)
    const results = await b.map(sleepy, items, {
      chunkSize: 5,
      onResult: (r) => {
        seen[r.taskId as number] = (seen[r.taskId as number] ?? 0) + 1
        if (!termed) {
          termed = true
          first?.child.kill('SIGTERM')
          second = first?.exited.then(() => startWorker(queue, ['--concurrency', '1']))
          second?.then((w) => workers.push(w))
        }
      },
    })
    expect(await first?.exited).toBe(0)
    const lines = first?.lines.map((l) => l.replace(/^\[bookgen-worker \d+\] /, '')) ?? []
    const states = lines.filter((l) => /^(ready|SIGTERM|draining|stopped)/.test(l))
    expect(states.map((l) => l.split(' ')[0])).toEqual(['ready', 'SIGTERM', 'draining', 'stopped'])
    expect(await second).toBeDefined()
    expect(seen.every((c) => c === 1)).toBe(true)
    expect(results.map((r) => r.result)).toEqual(items.map((item) => item.i))
  })

  it('cancels: waiting jobs are removed, running ones stop, every task settles', async () => {
    queue = uniqueQueue()
    await workersOn(1, ['--concurrency', '1'])
    const b = backend({ concurrency: 4 })
    const log = tempLog()
    const n = 60
    const items = Array.from({ length: n }, (_, i) => ({ i, ms: 50, log }))
    const ctrl = new AbortController()
    const results = await b.map(sleepy, items, {
      chunkSize: 5,
      signal: ctrl.signal,
      onResult: () => ctrl.abort(new Error('enough')),
    })
    expect(results).toHaveLength(n)
    const codes = results.map((r) => (r.success ? 'ok' : (r.error as { code?: string }).code))
    expect(codes.filter((c) => c === 'ok').length).toBeGreaterThanOrEqual(1)
    expect(codes.every((c) => c === 'ok' || c === 'CANCELLED')).toBe(true)
    const q = new Queue(queue, { connection: connection(), prefix: '{bookgen}' })
    try {
      expect(await q.getWaitingCount()).toBe(0)
      // The running chunk stops at its next check: its queue drains without running the rest.
      while ((await q.getActiveCount()) > 0) await new Promise((r) => setTimeout(r, 50))
    } finally {
      await q.close()
    }
    expect(executions(log).length).toBeLessThan(n)
  })
})
