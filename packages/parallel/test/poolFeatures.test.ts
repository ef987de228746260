import { setTimeout as sleep } from 'node:timers/promises'
import { MessagePort } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import {
  defineWorkerTask,
  type ExecutorOptions,
  ParallelTaskExecutor,
  parallelBatchProcess,
  transfer,
} from '../src/index.js'

const fixtures = new URL('./fixtures/tasks.mjs', import.meta.url)

const executors: ParallelTaskExecutor[] = []
function executor(options: ExecutorOptions = {}) {
  const e = new ParallelTaskExecutor({ maxWorkers: 2, ...options })
  executors.push(e)
  return e
}
afterEach(async () => {
  await Promise.all(executors.splice(0).map((e) => e.close()))
})

describe('pool features', () => {
  it('returns SharedArrayBuffers (shared, not copied) and MessagePorts (moved)', async () => {
    const ex = executor()
    const shared = defineWorkerTask<{ kind: string; n: number }, unknown>(fixtures, 'sharedResult')
    const [buffer, port] = await ex.parallelMap(shared, [
      { kind: 'shared', n: 7 },
      { kind: 'port', n: 9 },
    ])
    expect(buffer).toBeInstanceOf(SharedArrayBuffer)
    expect(new Int32Array(buffer as SharedArrayBuffer)[0]).toBe(7)
    expect(port).toBeInstanceOf(MessagePort)
    const received = await new Promise((resolve) => (port as MessagePort).once('message', resolve))
    expect(received).toBe(9)
    ;(port as MessagePort).close()
  })

  it('moves inputs and results marked with transfer() instead of copying them', async () => {
    const ex = executor()
    const moved = defineWorkerTask<Float64Array, { out: Float64Array }>(fixtures, 'doubleMoved')
    const input = Float64Array.of(1, 2, 3)
    const [result] = await ex.parallelMap(moved, [transfer(input, [input.buffer])])
    expect(input.byteLength).toBe(0)
    expect(Array.from(result?.out ?? [])).toEqual([2, 4, 6])
    const byteLengthOf = defineWorkerTask<Uint8Array, number>(fixtures, 'byteLengthOf')
    const bytes = new Uint8Array(16)
    const [length] = await ex.executeParallel([byteLengthOf.with(transfer(bytes, [bytes.buffer]))])
    expect(length?.result).toBe(16)
    expect(bytes.byteLength).toBe(0)
    // Inline mode gives the same values.
    const inline = executor({ mode: 'inline' })
    const again = Float64Array.of(5)
    expect((await inline.parallelMap(moved, [transfer(again, [again.buffer])]))[0]?.out).toEqual(
      Float64Array.of(10),
    )
  })

  it('shrinks idle threads after idleTimeout and starts new ones on demand', async () => {
    const ex = executor({ threads: 2, idleTimeout: 50 })
    const threadIdOf = defineWorkerTask<number, number>(fixtures, 'threadIdOf')
    const first = await ex.parallelMap(threadIdOf, [1, 2, 3, 4], { chunkSize: 1 })
    await sleep(400)
    const second = await ex.parallelMap(threadIdOf, [1, 2, 3, 4], { chunkSize: 1 })
    expect(Math.min(...second)).toBeGreaterThan(Math.max(...first))
    const kept = executor({ threads: 2 })
    const a = await kept.parallelMap(threadIdOf, [1, 2], { chunkSize: 1 })
    await sleep(200)
    const b = await kept.parallelMap(threadIdOf, [1, 2], { chunkSize: 1 })
    expect(new Set([...a, ...b]).size).toBeLessThanOrEqual(2)
  })

  it('keeps the shape of a thrown plain object across threads', async () => {
    const ex = executor()
    const throwObject = defineWorkerTask<number, never>(fixtures, 'throwObject')
    const [result] = await ex.mapParallel(throwObject, [3])
    expect(result?.error).toEqual({ code: 'E_PLAIN', n: 3, nested: { list: [1, 2] } })
    const inline = await executor({ mode: 'inline' }).mapParallel(throwObject, [3])
    expect(inline[0]?.error).toEqual(result?.error)
  })

  it('keeps the holes of a sparse input in their place', async () => {
    // biome-ignore lint/suspicious/noSparseArray: the holes are what is tested
    const sparse = [1, , 3, , 5] as number[]
    const out = await parallelBatchProcess(sparse, (batch) => batch.map((n) => n * 10), {
      batchSize: 2,
      mode: 'inline',
    })
    expect(out).toHaveLength(5)
    expect(1 in out).toBe(false)
    expect(3 in out).toBe(false)
    expect([out[0], out[2], out[4]]).toEqual([10, 30, 50])
  })
})
