import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import {
  defineWorkerTask,
  type ParallelError,
  ParallelTaskExecutor,
  type TaskResult,
} from '../src/index.js'
import {
  cellText,
  cellValue,
  createProgress,
  itemViews,
  STRING,
  STRING_SHIFT,
} from '../src/progress.js'

// Results come back from threads by several paths: a chunk whose tasks all succeeded is settled
// in one call, its numbers read straight from the shared cell and its short strings sliced from
// one decoding of the cell; a chunk with a failure is settled task by task; values that are not
// primitives travel in the reply or on the journal port. Whatever the path, every result and
// every error must be the one the plain in-process run gives.

const fixtures = new URL('./fixtures/tasks.mjs', import.meta.url)
const echo = defineWorkerTask<unknown, unknown>(fixtures, 'echo')
interface Case {
  ok?: unknown
  error?: string
  code?: string
  thrown?: unknown
  exit?: number
}
const act = defineWorkerTask<Case, unknown>(fixtures, 'act')

const threads = new ParallelTaskExecutor({ threads: 2 })
const inline = new ParallelTaskExecutor({ mode: 'inline' })
afterAll(async () => {
  await Promise.all([threads.close(), inline.close()])
})

/** Any string of UTF-16 code units: lone surrogates, unpaired halves, NUL and empty included. */
const codeUnits = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 24 })
  .map((units) => String.fromCharCode(...units))
const primitive = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY),
  codeUnits,
  fc.string({ maxLength: 12 }),
  fc.constant(''),
  // Longer than a cell keeps (256), or filling the cell's share of characters: posted instead.
  fc.string({ minLength: 200, maxLength: 300 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
)
const value = fc.oneof(
  primitive,
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.record({ id: fc.integer(), name: codeUnits }, { noNullPrototype: true }),
)
const failure: fc.Arbitrary<Case> = fc.oneof(
  fc.record({ error: codeUnits, code: fc.constantFrom('E_ONE', 'E_TWO') }),
  fc.record({ error: fc.string({ maxLength: 8 }) }),
  fc.record({
    thrown: fc.oneof(
      codeUnits,
      fc.record({ code: fc.string(), n: fc.integer() }, { noNullPrototype: true }),
    ),
  }),
)
const chunkSize = fc.oneof(fc.constant('auto' as const), fc.integer({ min: 1, max: 40 }))
/** Mostly successes, so that most chunks are all-success ones. */
const cases = (maxLength: number): fc.Arbitrary<Case[]> =>
  fc.array(
    fc.oneof(
      { weight: 12, arbitrary: value.map((ok): Case => ({ ok })) },
      { weight: 1, arbitrary: failure },
    ),
    { maxLength },
  )

/** What a result says, without its timing: the value, or the error's class, name, message, code. */
function outcome(r: TaskResult<unknown>): unknown {
  if (r.success) return { ok: r.result }
  const e = r.error
  if (!(e instanceof Error)) return { thrown: e }
  const { code } = e as Error & { code?: unknown }
  return { error: { ctor: e.constructor.name, name: e.name, message: e.message, code } }
}

describe('results and errors are the same on every return path', () => {
  it('a cell decoded at once gives every UTF-16 code unit, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.array(codeUnits, { maxLength: 40 }), (strings) => {
        const cell = createProgress(Math.max(1, strings.length * 2))
        const views = itemViews(cell, Math.max(1, strings.length * 2))
        let at = 0
        strings.forEach((s, k) => {
          for (let c = 0; c < s.length; c++) views.chars[at + c] = s.charCodeAt(c)
          views.values[k] = at * STRING_SHIFT + s.length
          at += s.length
        })
        const text = cellText(views.chars, at)
        expect(text).toBe(strings.join(''))
        const sliced = strings.map((_, k) => cellValue(STRING, views.values, k, views.chars, text))
        const alone = strings.map((_, k) => cellValue(STRING, views.values, k, views.chars))
        expect(sliced).toStrictEqual(strings)
        expect(alone).toStrictEqual(strings)
      }),
    )
  })

  it('primitive inputs come back exactly (numbers, -0, NaN, unicode, lone surrogates, empty strings)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(primitive, { maxLength: 400 }), chunkSize, async (items, size) => {
        const out = await threads.parallelMap(echo, items, { chunkSize: size })
        expect(out).toStrictEqual(items)
        // One by one: with onResult every task settles on its own.
        const seen: unknown[] = []
        const again = await threads.parallelMap(echo, items, {
          chunkSize: size,
          onResult: (r) => seen.push(r.result),
        })
        expect(again).toStrictEqual(items)
        expect(seen).toHaveLength(items.length)
      }),
      { numRuns: 60 },
    )
  })

  it('all numbers (sent as one Float64Array, read from the cell) come back exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.double(), fc.integer()), { minLength: 16, maxLength: 2000 }),
        chunkSize,
        async (items, size) => {
          expect(await threads.parallelMap(echo, items, { chunkSize: size })).toStrictEqual(items)
        },
      ),
      { numRuns: 40 },
    )
  })

  it('values, failures and thrown values match the in-process run, task by task', async () => {
    await fc.assert(
      fc.asyncProperty(cases(150), chunkSize, async (list, size) => {
        const expected = (await inline.mapParallel(act, list)).map(outcome)
        const results = await threads.mapParallel(act, list, { chunkSize: size })
        expect(results.map(outcome)).toStrictEqual(expected)
        // With onResult, every task settles on its own (no bulk settlement).
        const oneByOne: TaskResult<unknown>[] = []
        await threads.mapParallel(act, list, { chunkSize: size, onResult: (r) => oneByOne.push(r) })
        oneByOne.sort((a, b) => (a.taskId as number) - (b.taskId as number))
        expect(oneByOne.map(outcome)).toStrictEqual(expected)
        // A stream without onResult takes an all-success chunk at once too, pushed in task order.
        const settledBefore = threads.getMetrics().tasks
        const streamed: TaskResult<unknown>[] = []
        for await (const r of threads.streamMap(act, list, { chunkSize: size })) streamed.push(r)
        const settledAfter = threads.getMetrics().tasks
        streamed.sort((a, b) => (a.taskId as number) - (b.taskId as number))
        expect(streamed.map(outcome)).toStrictEqual(expected)
        expect(streamed.every((r) => r.attempts === 1 && r.duration >= 0)).toBe(true)
        expect(settledAfter.succeeded + settledAfter.failed).toBe(
          settledBefore.succeeded + settledBefore.failed + list.length,
        )
        const before = threads.getMetrics().tasks.succeeded
        if (expected.every((o) => 'ok' in (o as object))) {
          const values = await threads.parallelMap(act, list, { chunkSize: size })
          expect(values).toStrictEqual(list.map((c) => c.ok))
          expect(threads.getMetrics().tasks.succeeded - before).toBe(list.length)
          return
        }
        // Fail-fast: tasks not finished at the first failure are cancelled; every other one
        // holds exactly what the in-process run gives.
        const error = (await threads
          .parallelMap(act, list, { chunkSize: size })
          .catch((e: unknown) => e)) as ParallelError
        expect(error.code).toBe('TASK_FAILED')
        const partial = error.results as TaskResult<unknown>[]
        expect(partial).toHaveLength(list.length)
        partial.forEach((r, i) => {
          if (!r.success && (r.error as ParallelError).code === 'CANCELLED') return
          expect(outcome(r)).toStrictEqual(expected[i])
        })
      }),
      { numRuns: 50 },
    )
  })

  it('a crash inside a chunk fails only its task; every other result is the in-process one', async () => {
    await fc.assert(
      fc.asyncProperty(
        cases(120).filter((l) => l.length > 0),
        fc.nat(),
        chunkSize,
        async (list, at, size) => {
          const crashAt = at % list.length
          const expected = (await inline.mapParallel(act, list)).map(outcome)
          const withCrash = list.map((c, i) => (i === crashAt ? { exit: 3 } : c))
          const results = await threads.mapParallel(act, withCrash, { chunkSize: size })
          expect(results).toHaveLength(list.length)
          results.forEach((r, i) => {
            if (i === crashAt) {
              expect((r.error as ParallelError).code).toBe('WORKER_CRASHED')
            } else expect(outcome(r)).toStrictEqual(expected[i])
          })
        },
      ),
      { numRuns: 15 },
    )
  })
})
