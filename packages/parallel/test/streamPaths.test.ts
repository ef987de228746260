import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { ParallelTaskExecutor, type TaskResult } from '../src/index.js'
import { LiveItems } from '../src/liveItems.js'
import { ResultStream } from '../src/resultStream.js'

// A stream keeps the items it read in a window (a Map only for stragglers), its buffered results
// in a ring, and reads an array input by index instead of through its iterator. Whatever the
// path, it must give what the plain structures give: a Map, a FIFO queue, the array's iterator.

const executor = new ParallelTaskExecutor({ mode: 'inline', maxWorkers: 4 })
afterAll(() => executor.close())

describe('stream paths', () => {
  it('LiveItems holds exactly what a Map of the read and not deleted items holds', () => {
    const op = fc.oneof(
      fc.record({ push: fc.integer({ min: 1, max: 2500 }) }),
      // Mostly in order after the `skip` oldest (stragglers stay behind), sometimes any item.
      fc.record({ skip: fc.integer({ min: 0, max: 3 }), count: fc.integer({ min: 1, max: 2000 }) }),
      fc.record({ any: fc.nat() }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const items = new LiveItems<{ i: number } | undefined>()
        const model = new Map<number, { i: number } | undefined>()
        let pushed = 0
        for (const o of ops) {
          if ('push' in o) {
            for (let k = 0; k < o.push; k++) {
              // undefined items too: a hole must not be mistaken for a settled item.
              const item = pushed % 7 === 3 ? undefined : { i: pushed }
              model.set(pushed++, item)
              items.push(item)
            }
          } else {
            const keys = [...model.keys()]
            const chosen =
              'any' in o
                ? keys.length > 0
                  ? [keys[o.any % keys.length] as number]
                  : []
                : keys.slice(o.skip, o.skip + o.count)
            for (const i of chosen) {
              items.delete(i)
              items.delete(i)
              model.delete(i)
            }
          }
          expect(items.length).toBe(pushed)
          for (const [i, item] of model) if (items.get(i) !== item) expect(items.get(i)).toBe(item)
        }
      }),
      { numRuns: 80 },
    )
  })

  it('ResultStream hands out pushed values in order to any number of readers, then the end', async () => {
    const step = fc.oneof(
      fc.record({ push: fc.integer({ min: 1, max: 70 }) }),
      fc.record({ read: fc.integer({ min: 1, max: 70 }) }),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), fc.boolean(), async (steps, fail) => {
        let consumed = 0
        const stream = new ResultStream<number>(
          async () => {},
          () => consumed++,
        )
        const reads: Promise<IteratorResult<number>>[] = []
        let pushed = 0
        let readers = 0
        for (const s of steps) {
          if ('push' in s) for (let k = 0; k < s.push; k++) stream.push(pushed++)
          else
            for (let k = 0; k < s.read; k++) {
              reads.push(stream.next())
              readers++
            }
          expect(stream.buffered).toBe(Math.max(0, pushed - readers))
        }
        const boom = new Error('boom')
        stream.end(fail ? { error: boom } : undefined)
        const outcomes = await Promise.allSettled(reads)
        const expected = outcomes.map((_, k) =>
          k < pushed
            ? { status: 'fulfilled', value: { value: k, done: false } }
            : k === pushed && fail
              ? { status: 'rejected', reason: boom }
              : { status: 'fulfilled', value: { value: undefined, done: true } },
        )
        expect(outcomes).toEqual(expected)
        expect(consumed).toBe(Math.min(pushed, readers))
        const rest: number[] = []
        for (;;) {
          const r = await stream.next().catch((e: unknown) => e)
          if (r === boom) continue
          if ((r as IteratorResult<number>).done) break
          rest.push((r as IteratorResult<number>).value)
        }
        expect(rest).toEqual(
          Array.from({ length: Math.max(0, pushed - readers) }, (_, k) => readers + k),
        )
      }),
      { numRuns: 100 },
    )
  })

  it('an array input streams the results its iterator would give (holes, failures, maxQueue)', async () => {
    const item = fc.oneof(fc.integer(), fc.constant(undefined), fc.constant('fail'))
    await fc.assert(
      fc.asyncProperty(
        fc.array(item, { maxLength: 300 }),
        fc.integer({ min: 1, max: 40 }),
        fc.boolean(),
        async (list, maxQueue, holes) => {
          const array = holes ? [...list] : list
          if (holes) for (let k = 0; k < array.length; k += 5) delete array[k]
          const fn = async (x: unknown, i: number) => {
            if (i % 3 === 0) await new Promise((r) => setTimeout(r, 0))
            if (x === 'fail') throw new Error(`item ${i}`)
            return [x, i]
          }
          const collect = async (input: Iterable<unknown>) => {
            const byIndex = new Map<number, TaskResult<unknown>>()
            for await (const r of executor.streamMap(fn, input, { maxQueue })) {
              expect(byIndex.has(r.taskId as number)).toBe(false)
              byIndex.set(r.taskId as number, r)
            }
            return [...byIndex.entries()]
              .sort((a, b) => a[0] - b[0])
              .map(([, r]) =>
                r.success ? { ok: r.result } : { error: (r.error as Error).message },
              )
          }
          const viaArray = await collect(array)
          // The same items through the generic iterator path (not an array any more).
          const viaIterator = await collect({ [Symbol.iterator]: () => array[Symbol.iterator]() })
          expect(viaArray).toEqual(viaIterator)
          expect(viaArray).toHaveLength(array.length)
        },
      ),
      { numRuns: 40 },
    )
  })

  it('an array whose iterator was replaced is read through that iterator', async () => {
    const array = [1, 2, 3]
    Object.defineProperty(array, Symbol.iterator, {
      value: function* () {
        yield 10
        yield 20
      },
    })
    const seen: unknown[] = []
    for await (const r of executor.streamMap(async (x: number) => x, array)) {
      if (r.success) seen.push(r.result)
    }
    expect(seen.sort()).toEqual([10, 20])
    // An array iterator, but over another array.
    const other = [7, 8]
    const borrowed = [1, 2, 3]
    Object.defineProperty(borrowed, Symbol.iterator, { value: () => other[Symbol.iterator]() })
    const again: unknown[] = []
    for await (const r of executor.streamMap(async (x: number) => x, borrowed)) {
      if (r.success) again.push(r.result)
    }
    expect(again.sort()).toEqual([7, 8])
  })
})
