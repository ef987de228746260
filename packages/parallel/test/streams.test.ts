import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import {
  defineWorkerTask,
  type ParallelError,
  ParallelTaskExecutor,
  parallelMap,
} from '../src/index.js'

const fixtures = new URL('./fixtures/tasks.mjs', import.meta.url)
const spin = defineWorkerTask<number, number>(fixtures, 'spin')
const double = defineWorkerTask<number, number>(fixtures, 'double')

const executors: ParallelTaskExecutor[] = []
function executor(options: ConstructorParameters<typeof ParallelTaskExecutor>[0] = {}) {
  const e = new ParallelTaskExecutor(options)
  executors.push(e)
  return e
}
afterEach(async () => {
  await Promise.all(executors.splice(0).map((e) => e.close()))
})

/** A generator counting how far it was read. */
function counted(n: number) {
  const state = { read: 0, closed: false }
  function* items() {
    try {
      for (let i = 0; i < n; i++) {
        state.read++
        yield i
      }
    } finally {
      state.closed = true
    }
  }
  return { state, items: items() }
}

describe('streams read their input lazily, with backpressure', () => {
  it('reads at most maxQueue items ahead of the consumer', async () => {
    const ex = executor({ maxWorkers: 4, maxQueue: 8 })
    const { state, items } = counted(1_000)
    const stream = ex.streamMap((n: number) => n * 2, items)
    const first = await stream.next()
    expect(first.done).toBe(false)
    await sleep(20)
    // Not read: the consumer holds the stream, 8 results wait for it.
    expect(state.read).toBeLessThanOrEqual(9)
    let sum = first.value?.result as number
    for await (const r of stream) sum += r.result as number
    expect(sum).toBe(999 * 1000)
    expect(state.read).toBe(1_000)
  })

  it('streams 20,000 items, each result exactly once, in bounded memory of the input', async () => {
    const ex = executor({ maxWorkers: 8, maxQueue: 64 })
    const { state, items } = counted(20_000)
    const seen = new Uint8Array(20_000)
    let consumed = 0
    let most = 0
    for await (const r of ex.streamMap(async (n: number) => n, items)) {
      const id = r.taskId as number
      seen[id] = (seen[id] ?? 0) + 1
      consumed++
      if (r.result !== r.taskId) throw new Error(`result ${r.result} for task ${r.taskId}`)
      most = Math.max(most, state.read - consumed)
    }
    expect(most).toBeLessThanOrEqual(64)
    // Tasks (closures that could be mixed with worker tasks) take the other path: the same holds.
    function* tasks() {
      for (let i = 0; i < 10_000; i++) yield () => i
    }
    const got = new Uint8Array(10_000)
    for await (const r of ex.stream(tasks())) got[r.result as number] = 1
    expect(got.every((v) => v === 1)).toBe(true)
    expect(seen.every((count) => count === 1)).toBe(true)
  })

  it('accepts async iterables in every entry point, results in input order', async () => {
    async function* numbers(n: number) {
      for (let i = 0; i < n; i++) {
        if (i % 3 === 0) await sleep(1)
        yield i
      }
    }
    const ex = executor({ maxWorkers: 3 })
    expect(await ex.parallelMap(async (n: number) => n + 1, numbers(10))).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ])
    const results = await ex.mapParallel(double, numbers(5))
    expect(results.map((r) => r.result)).toEqual([0, 2, 4, 6, 8])
    expect(await parallelMap((n: number) => -n, numbers(3))).toEqual([-0, -1, -2])
    const streamed: number[] = []
    for await (const r of ex.streamMap(double, numbers(6))) streamed.push(r.result as number)
    expect(streamed.sort((a, b) => a - b)).toEqual([0, 2, 4, 6, 8, 10])
  })

  it('serves any number of concurrent next() calls, in call order', async () => {
    const ex = executor({ maxWorkers: 2 })
    const stream = ex.streamMap(
      async (n: number) => {
        await sleep(5)
        return n
      },
      [1, 2, 3],
    )
    const pending = [stream.next(), stream.next(), stream.next(), stream.next(), stream.next()]
    const settled = await Promise.all(pending)
    expect(settled.slice(0, 3).map((r) => r.done)).toEqual([false, false, false])
    expect(
      settled
        .slice(0, 3)
        .map((r) => r.value?.result)
        .sort(),
    ).toEqual([1, 2, 3])
    expect(settled.slice(3)).toEqual([
      { value: undefined, done: true },
      { value: undefined, done: true },
    ])
  })

  it('break stops the producer and the running worker tasks, without a signal', async () => {
    const ex = executor({ threads: 2 })
    const spinThenMark = defineWorkerTask<
      { ms: number; log: SharedArrayBuffer; id: number },
      number
    >(fixtures, 'spinThenMark')
    const log = new SharedArrayBuffer(4 * 100)
    const { state, items } = counted(100)
    const inputs = (function* () {
      for (const id of items) yield { ms: id === 0 ? 1 : 1_500, log, id }
    })()
    for await (const r of ex.streamMap(spinThenMark, inputs, { chunkSize: 1 })) {
      expect(r.result).toBe(0)
      break
    }
    expect(state.closed).toBe(true)
    // Had the 1.5 s tasks kept running, they would have marked the log by now.
    await sleep(2_000)
    expect(Array.from(new Int32Array(log)).slice(1)).toEqual(new Array(99).fill(0))
    expect(await ex.parallelMap(spin, [1, 1])).toEqual([1, 1])
  })

  it('return() settles the rest as cancelled; what was yielded is kept', async () => {
    const ex = executor({ maxWorkers: 2 })
    const seen: number[] = []
    const cancelled: string[] = []
    const stream = ex.streamMap(
      async (n: number) => {
        await sleep(n === 0 ? 1 : 200)
        return n
      },
      [0, 1, 2, 3],
      { onResult: (r) => !r.success && cancelled.push((r.error as ParallelError).code) },
    )
    for await (const r of stream) {
      seen.push(r.result as number)
      break
    }
    expect(seen).toEqual([0])
    expect(cancelled.length).toBeGreaterThan(0)
    expect(new Set(cancelled)).toEqual(new Set(['CANCELLED']))
    expect(await stream.next()).toEqual({ value: undefined, done: true })
  })

  it('an input that throws fails the stream with its error after the results before it', async () => {
    const ex = executor({ maxWorkers: 2 })
    function* broken() {
      yield 1
      throw new Error('input broke')
    }
    const seen: number[] = []
    await expect(
      (async () => {
        for await (const r of ex.streamMap((n: number) => n, broken()))
          seen.push(r.result as number)
      })(),
    ).rejects.toThrow('input broke')
    await expect(ex.parallelMap((n: number) => n, broken())).rejects.toThrow('input broke')
  })
})
