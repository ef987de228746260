import { describe, expectTypeOf, it } from 'vitest'
import {
  type BatchOutcome,
  type ChunkBackend,
  defineWorkerTask,
  ParallelTaskExecutor,
  parallelBatchProcess,
  parallelMap,
  type TaskContext,
  type TaskResult,
  type ThreadBackend,
  transfer,
  ValidationParallelizer,
} from '../src/index.js'

const embed = defineWorkerTask<string, Float32Array>('/abs/embed.mjs', 'embed')
const executor = new ParallelTaskExecutor()

describe('types', () => {
  it('carries worker task input and output types end to end', () => {
    expectTypeOf(parallelMap(embed, ['a'])).toEqualTypeOf<Promise<Float32Array[]>>()
    expectTypeOf(executor.mapParallel(embed, ['a'])).toEqualTypeOf<
      Promise<TaskResult<Float32Array>[]>
    >()
    // @ts-expect-error the input type is string
    void parallelMap(embed, [1, 2])
    // @ts-expect-error with() takes the input type
    embed.with(42)
  })

  it('infers closure outputs, mixed with bound worker tasks', () => {
    expectTypeOf(parallelMap(async (n: number) => String(n), [1])).toEqualTypeOf<
      Promise<string[]>
    >()
    expectTypeOf(
      executor.executeParallel([() => 1, async () => 'x', embed.with('t')]),
    ).toEqualTypeOf<Promise<TaskResult<number | string | Float32Array>[]>>()
    expectTypeOf(executor.stream([() => true])).toEqualTypeOf<
      AsyncIterableIterator<TaskResult<boolean>>
    >()
  })

  it('returns outcomes with settle: true and values otherwise', () => {
    expectTypeOf(parallelBatchProcess([1], (b: number[]) => b.map(String))).toEqualTypeOf<
      Promise<string[]>
    >()
    expectTypeOf(
      parallelBatchProcess([1], (b: number[]) => b.map(String), { settle: true }),
    ).toEqualTypeOf<Promise<BatchOutcome<number, string>[]>>()
  })

  it('types validation results', () => {
    const v = new ValidationParallelizer()
    expectTypeOf(v.validateSourcesParallel([{ url: 'x' }], (s) => s.url.length)).toEqualTypeOf<
      Promise<TaskResult<number>[]>
    >()
  })

  it('takes async iterables, keeps types through transfer(), and types the backend seam', () => {
    async function* texts() {
      yield 'a'
    }
    expectTypeOf(parallelMap(embed, texts())).toEqualTypeOf<Promise<Float32Array[]>>()
    expectTypeOf(executor.streamMap(embed, texts())).toEqualTypeOf<
      AsyncIterableIterator<TaskResult<Float32Array>>
    >()
    expectTypeOf(transfer({ id: 1 }, [])).toEqualTypeOf<{ id: number }>()
    expectTypeOf<ThreadBackend>().toMatchTypeOf<ChunkBackend>()
    expectTypeOf(
      executor.executeParallel([(context: TaskContext) => context.signal]),
    ).toEqualTypeOf<Promise<TaskResult<AbortSignal>[]>>()
  })
})
