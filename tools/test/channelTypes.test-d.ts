// The channel messages are declared by each publisher and again by the profiler (no package
// depends on another at run time): these checks keep the declarations in step.
import { describe, expectTypeOf, it } from 'vitest'
import type { CACHE_CHANNEL, CacheEvent } from '../../packages/cache/src/index.js'
import type { QUERY_CHANNEL, QueryChannelMessage } from '../../packages/db-optimizer/src/index.js'
import type { TASK_CHANNEL, TaskEvent } from '../../packages/parallel/src/index.js'
import type {
  CacheChannelMessage,
  CHANNELS,
  DbQueryChannelMessage,
  ParallelTaskChannelMessage,
} from '../../packages/profiler/src/index.js'

describe('diagnostics channel contract', () => {
  it('publishers use the channel names the profiler subscribes to', () => {
    expectTypeOf<typeof CACHE_CHANNEL>().toEqualTypeOf<(typeof CHANNELS)['cache']>()
    expectTypeOf<typeof QUERY_CHANNEL>().toEqualTypeOf<(typeof CHANNELS)['dbQuery']>()
    expectTypeOf<typeof TASK_CHANNEL>().toEqualTypeOf<(typeof CHANNELS)['parallelTask']>()
  })

  it('every message a publisher declares is one the profiler accepts', () => {
    expectTypeOf<CacheEvent>().toExtend<CacheChannelMessage>()
    expectTypeOf<QueryChannelMessage>().toExtend<DbQueryChannelMessage>()
    expectTypeOf<TaskEvent>().toExtend<ParallelTaskChannelMessage>()
  })

  it('the profiler reads no field a publisher does not send', () => {
    expectTypeOf<keyof CacheChannelMessage>().toExtend<keyof CacheEvent>()
    expectTypeOf<keyof DbQueryChannelMessage>().toExtend<keyof QueryChannelMessage>()
    expectTypeOf<keyof ParallelTaskChannelMessage>().toExtend<keyof TaskEvent>()
    expectTypeOf<CacheEvent['op']>().toEqualTypeOf<CacheChannelMessage['op']>()
  })
})
