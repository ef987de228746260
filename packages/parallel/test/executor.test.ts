import diagnosticsChannel from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { ParallelError, ParallelTaskExecutor, parallelMap, type TaskResult } from '../src/index.js'

const executors: ParallelTaskExecutor[] = []
function executor(options: ConstructorParameters<typeof ParallelTaskExecutor>[0] = {}) {
  const e = new ParallelTaskExecutor(options)
  executors.push(e)
  return e
}
afterEach(async () => {
  await Promise.all(executors.splice(0).map((e) => e.close()))
})

describe('closures', () => {
  it('returns one TaskResult per task in input order, whatever the completion order', async () => {
    const ex = executor({ maxWorkers: 4 })
    const delays = [40, 10, 30, 0, 20]
    const finished: number[] = []
    const results = await ex.executeParallel(
      delays.map((ms, i) => async () => {
        await sleep(ms)
        finished.push(i)
        return ms
      }),
    )
    expect(finished).not.toEqual([0, 1, 2, 3, 4])
    expect(results.map((r) => r.result)).toEqual(delays)
    expect(results.map((r) => r.taskId)).toEqual([0, 1, 2, 3, 4])
    expect(results.every((r) => r.success && r.attempts === 1)).toBe(true)
    expect(results[0]?.duration).toBeGreaterThan(0.03)
  })

  it('keeps at most maxWorkers closures in flight', async () => {
    const ex = executor({ maxWorkers: 3 })
    let inFlight = 0
    let peak = 0
    await ex.executeParallel(
      Array.from({ length: 20 }, () => async () => {
        inFlight++
        peak = Math.max(peak, inFlight)
        await sleep(5)
        inFlight--
      }),
    )
    expect(peak).toBe(3)
  })

  it('reports failures in the results without rejecting, and uses the given task ids', async () => {
    const ex = executor({ maxWorkers: 2 })
    const boom = new TypeError('boom')
    const results = await ex.executeParallel([() => 1, () => Promise.reject(boom), () => 3], {
      taskIds: ['a', 'b', 'c'],
    })
    expect(results.map((r) => [r.taskId, r.success])).toEqual([
      ['a', true],
      ['b', false],
      ['c', true],
    ])
    expect(results[1]?.error).toBe(boom)
    expect(results[1]).not.toHaveProperty('result')
  })

  it('mapParallel passes item and index; parallelMap matches duplicates and objects by index', async () => {
    const ex = executor({ maxWorkers: 4 })
    const mapped = await ex.mapParallel((item: string, index) => `${item}${index}`, ['x', 'x', 'y'])
    expect(mapped.map((r) => r.result)).toEqual(['x0', 'x1', 'y2'])
    const obj = { v: 1 }
    const items = [obj, obj, { v: 1 }, 5, 5, 5]
    const out = await parallelMap(
      async (item: { v: number } | number) => {
        await sleep(Math.random() * 5)
        return typeof item === 'number' ? item * 10 : item.v
      },
      items,
      { maxWorkers: 3 },
    )
    expect(out).toEqual([1, 1, 1, 50, 50, 50])
    const fromSet = await parallelMap((n: number) => n + 1, new Set([1, 2, 3]))
    expect(fromSet).toEqual([2, 3, 4])
  })

  it('parallelMap rejects with TASK_FAILED carrying every result, and cancels the rest', async () => {
    const ex = executor({ maxWorkers: 1 })
    let started = 0
    const error = await ex
      .parallelMap(
        async (n: number) => {
          started++
          if (n === 2) throw new Error('two')
          return n
        },
        [1, 2, 3, 4],
      )
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ParallelError)
    const pe = error as ParallelError
    expect(pe.code).toBe('TASK_FAILED')
    expect((pe.cause as Error).message).toBe('two')
    const results = pe.results as TaskResult<number>[]
    expect(results).toHaveLength(4)
    expect(results[0]).toMatchObject({ success: true, result: 1 })
    expect((results[2]!.error as ParallelError).code).toBe('CANCELLED')
    expect(started).toBe(2)
  })

  it('onResult and stream deliver results as they finish', async () => {
    const ex = executor({ maxWorkers: 3 })
    // Each task waits for its gate; the gates open in the order 1, 2, 0, each one when the
    // previous task's result has been delivered: whatever the machine's speed, that is the order
    // in which they finish, and results must come back in it, not in input order.
    const gated = () => {
      const gates = [0, 1, 2].map(() => {
        let resolve!: () => void
        const promise = new Promise<void>((r) => {
          resolve = r
        })
        return { promise, resolve }
      })
      const tasks = [30, 1, 15].map((value, i) => async () => {
        await gates[i]!.promise
        return value
      })
      const next = new Map([
        [1, 2],
        [2, 0],
      ])
      gates[1]!.resolve()
      return { tasks, delivered: (i: number) => gates[next.get(i) ?? -1]?.resolve() }
    }
    const one = gated()
    const seen: (string | number)[] = []
    await ex.executeParallel(one.tasks, {
      onResult: (r) => {
        seen.push(r.taskId)
        one.delivered(r.taskId as number)
      },
    })
    expect(seen).toEqual([1, 2, 0])
    const two = gated()
    const streamed: number[] = []
    for await (const r of ex.stream(two.tasks)) {
      streamed.push(r.result as number)
      two.delivered(r.taskId as number)
    }
    expect(streamed).toEqual([1, 15, 30])
  })

  it('keeps partial results when a stream is abandoned or a run is aborted', async () => {
    const ex = executor({ maxWorkers: 2 })
    const ran: number[] = []
    const tasks = Array.from({ length: 10 }, (_, i) => async () => {
      ran.push(i)
      await sleep(10)
      return i
    })
    const got: number[] = []
    for await (const r of ex.stream(tasks)) {
      got.push(r.result as number)
      if (got.length === 3) break
    }
    expect(got).toHaveLength(3)
    await sleep(30)
    expect(ran.length).toBeLessThanOrEqual(5)

    const controller = new AbortController()
    const partial: TaskResult<number>[] = []
    // Aborted once two tasks have finished (not after a delay: a loaded machine may need longer).
    const results = await ex.executeParallel(tasks, {
      signal: controller.signal,
      onResult: (r) => {
        partial.push(r)
        if (partial.filter((p) => p.success).length === 2) controller.abort(new Error('user stop'))
      },
    })
    const ok = results.filter((r) => r.success)
    const cancelled = results.filter((r) => !r.success)
    expect(ok.length).toBeGreaterThanOrEqual(2)
    expect(ok.length + cancelled.length).toBe(10)
    expect(cancelled.every((r) => (r.error as ParallelError).code === 'CANCELLED')).toBe(true)
    expect(((cancelled[0]!.error as ParallelError).cause as Error).message).toBe('user stop')
    expect(partial).toHaveLength(10)
  })

  it('a stream closed before it is read runs nothing', async () => {
    const ex = executor({ maxWorkers: 2 })
    let ran = 0
    const stream = ex.stream(
      Array.from({ length: 6 }, () => async () => {
        ran++
        await sleep(20)
      }),
    )
    await stream.return?.()
    expect(ran).toBe(0)
    expect(await stream.next()).toEqual({ value: undefined, done: true })
    const empty = ex.stream([])
    await empty.return?.()
    expect(await ex.executeParallel([], { signal: AbortSignal.abort() })).toEqual([])
    // Streams read their input lazily: closed before the first read, nothing was taken from it.
    expect(ex.getMetrics().tasks.total).toBe(0)
  })

  it('settles everything as cancelled when the signal is already aborted', async () => {
    const ex = executor()
    let ran = false
    const results = await ex.executeParallel([() => (ran = true)], {
      signal: AbortSignal.abort(),
    })
    expect(ran).toBe(false)
    expect((results[0]!.error as ParallelError).code).toBe('CANCELLED')
    expect(results[0]?.attempts).toBe(0)
  })

  it('times out a task counted from its own start and aborts its signal', async () => {
    const ex = executor({ maxWorkers: 1, timeout: 50 })
    let aborted = false
    const results = await ex.executeParallel([
      async () => sleep(30, 'first'),
      async ({ signal }) => {
        signal.addEventListener('abort', () => (aborted = true))
        await sleep(500, undefined, { signal }).catch(() => {})
        return 'late'
      },
      () => new Promise(() => {}),
    ])
    expect(results[0]).toMatchObject({ success: true, result: 'first' })
    expect((results[1]!.error as ParallelError).code).toBe('TASK_TIMEOUT')
    expect((results[2]!.error as ParallelError).code).toBe('TASK_TIMEOUT')
    expect(aborted).toBe(true)
    expect(ex.getMetrics().tasks.timedOut).toBe(2)
  })

  it('retries with exponential backoff and reports the attempts', async () => {
    const ex = executor({ retries: 3, retryDelay: 20 })
    const calls: number[] = []
    const results = await ex.executeParallel([
      ({ attempt }) => {
        calls.push(performance.now())
        if (attempt < 3) throw new Error(`attempt ${attempt}`)
        return attempt
      },
      () => {
        throw new Error('always')
      },
    ])
    expect(results[0]).toMatchObject({ success: true, result: 3, attempts: 3 })
    expect(results[1]).toMatchObject({ success: false, attempts: 4 })
    const gap1 = (calls[1] as number) - (calls[0] as number)
    const gap2 = (calls[2] as number) - (calls[1] as number)
    expect(gap1).toBeGreaterThanOrEqual(9)
    expect(gap2).toBeGreaterThanOrEqual(19)
    expect(ex.getMetrics().tasks.retried).toBe(5)
  })

  it('waits at least the lower half of the backoff before a retry (timers may only be late)', async () => {
    const ex = executor({ maxWorkers: 10, retries: 1, retryDelay: 100 })
    const gaps: number[] = []
    const failedAt = new Map<number, number>()
    await ex.executeParallel(
      Array.from({ length: 10 }, (_, i) => ({ attempt }: { attempt: number }) => {
        if (attempt === 1) {
          failedAt.set(i, performance.now())
          throw new Error('first')
        }
        gaps.push(performance.now() - (failedAt.get(i) as number))
        return i
      }),
    )
    expect(gaps).toHaveLength(10)
    // Backoff 100 ms, jitter puts each retry 50..100 ms later; the spread is tested on
    // RetryPolicy.delay itself (test/retryPolicy.test.ts), where no timer can be late.
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(49)
  })

  it('records run and wait time percentiles and utilization', async () => {
    const ex = executor({ maxWorkers: 2 })
    await ex.executeParallel(Array.from({ length: 6 }, () => () => sleep(20)))
    const m = ex.getMetrics()
    expect(m.tasks).toMatchObject({ total: 6, succeeded: 6, failed: 0 })
    expect(m.runTime.p50).toBeGreaterThanOrEqual(15)
    expect(m.runTime.p95).toBeGreaterThanOrEqual(m.runTime.p50)
    expect(m.waitTime.max).toBeGreaterThanOrEqual(30)
    expect(m.utilization.inProcess).toBeGreaterThan(0.5)
    expect(m.utilization.inProcess).toBeLessThanOrEqual(1)
  })

  it('publishes bookgen:parallel:task events only to subscribers', async () => {
    const ex = executor()
    const events: unknown[] = []
    const listener = (message: unknown) => events.push(message)
    diagnosticsChannel.subscribe('bookgen:parallel:task', listener)
    try {
      await ex.executeParallel(
        [
          () => 1,
          () => {
            throw new Error('x')
          },
        ],
        { taskIds: ['ok', 'bad'] },
      )
    } finally {
      diagnosticsChannel.unsubscribe('bookgen:parallel:task', listener)
    }
    expect(events).toHaveLength(2)
    expect(events).toContainEqual({ taskId: 'ok', durationMs: expect.any(Number), success: true })
    expect(events).toContainEqual({ taskId: 'bad', durationMs: expect.any(Number), success: false })
    await ex.executeParallel([() => 1])
    expect(events).toHaveLength(2)
  })

  it('rejects with CALLBACK_FAILED when onResult throws, after every task settled', async () => {
    const ex = executor()
    const error = await ex
      .executeParallel([() => 1, () => 2], {
        onResult: () => {
          throw new Error('callback bug')
        },
      })
      .catch((e: unknown) => e)
    expect((error as ParallelError).code).toBe('CALLBACK_FAILED')
    expect(((error as ParallelError).cause as Error).message).toBe('callback bug')
  })

  it('close() cancels running work and refuses new work; asyncDispose closes', async () => {
    const ex = executor({ maxWorkers: 1 })
    const pending = ex.executeParallel([() => sleep(1000), () => 2])
    await sleep(10)
    await ex.close()
    const results = await pending
    expect(results.map((r) => (r.error as ParallelError).code)).toEqual(['CANCELLED', 'CANCELLED'])
    await expect(ex.executeParallel([() => 1])).rejects.toMatchObject({ code: 'CLOSED' })
    {
      await using disposable = new ParallelTaskExecutor()
      expect(await disposable.parallelMap((n: number) => n, [1])).toEqual([1])
    }
  })
})
