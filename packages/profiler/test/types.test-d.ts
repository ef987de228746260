import { describe, expectTypeOf, it } from 'vitest'
import {
  type CheckResult,
  type Criteria,
  type MemoryPeakSource,
  type PerformanceMetrics,
  type PerformanceMetricsJSON,
  type Profile,
  type ProfileOptions,
  type ProfileResult,
  ProfilerErrorCode,
  performanceProfile,
  startProfile,
} from '../src/index.js'

describe('types', () => {
  it('performanceProfile resolves with a Profile carrying fn s result and passes it to fn', () => {
    expectTypeOf(performanceProfile).parameter(0).parameter(0).toEqualTypeOf<Profile>()
    expectTypeOf(performanceProfile(async () => {})).resolves.toMatchTypeOf<Profile>()
    expectTypeOf(performanceProfile(async () => 42)).resolves.toEqualTypeOf<ProfileResult<number>>()
    expectTypeOf(performanceProfile(() => 'sync'))
      .resolves.toHaveProperty('result')
      .toEqualTypeOf<string>()
  })

  it('profiles are disposable and expose the original fields as numbers', () => {
    const p = startProfile()
    expectTypeOf(p).toMatchTypeOf<Disposable & AsyncDisposable>()
    expectTypeOf(p.memoryPeak).toEqualTypeOf<number>()
    expectTypeOf(p.memoryPeakSource).toEqualTypeOf<MemoryPeakSource>()
    expectTypeOf(p.startDbQuery()).toEqualTypeOf<() => number>()
    expectTypeOf(p.stop()).toEqualTypeOf<PerformanceMetrics>()
    expectTypeOf(p.toJSON()).toEqualTypeOf<PerformanceMetricsJSON>()
    expectTypeOf(p.toJSON().version).toEqualTypeOf<2>()
    expectTypeOf(p.check()).toEqualTypeOf<CheckResult>()
  })

  it('rejects unknown criteria at compile time', () => {
    const p = startProfile()
    expectTypeOf(p.check).parameter(0).toEqualTypeOf<Criteria | undefined>()
    // @ts-expect-error unknown criterion
    p.check({ maxMemoryPeek: 1 })
    expectTypeOf<MemoryPeakSource>().toEqualTypeOf<'vmhwm' | 'maxrss' | 'sampler'>()
    expectTypeOf(ProfilerErrorCode.ALREADY_STOPPED).toEqualTypeOf<'ALREADY_STOPPED'>()
  })

  it('names how the heap peak is obtained, in the options and in the metrics alike', () => {
    expectTypeOf<ProfileOptions['heapPeak']>().toEqualTypeOf<'gc' | 'sampler' | undefined>()
    expectTypeOf<PerformanceMetrics['heapPeakSource']>().toEqualTypeOf<'gc' | 'sampler'>()
    // @ts-expect-error not a source
    startProfile({ heapPeak: 'exact' })
  })
})
