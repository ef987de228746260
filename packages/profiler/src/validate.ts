import { ProfilerError, ProfilerErrorCode } from './profilerError.js'
import type { ProfileOptions } from './types.js'

/** The defaults of every profile option, in one place. @internal */
export const PROFILE_DEFAULTS: Readonly<Required<ProfileOptions>> = Object.freeze({
  name: null,
  sampleIntervalMs: 100,
  eventLoopResolutionMs: 10,
  eventLoop: true,
  gc: true,
  heapPeak: 'sampler',
  channels: true,
})

/** Checks every profile option (one line each) and fills in the defaults. @internal */
export function resolveProfileOptions(options: ProfileOptions): Required<ProfileOptions> {
  if (options === null || typeof options !== 'object') {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_OPTION,
      `options must be an object, got ${String(options)}`,
    )
  }
  const o = { ...PROFILE_DEFAULTS }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue
    if (!Object.hasOwn(PROFILE_DEFAULTS, key)) {
      throw new ProfilerError(ProfilerErrorCode.INVALID_OPTION, `options.${key} is not an option`)
    }
    ;(o as Record<string, unknown>)[key] = value
  }
  if (o.name !== null && typeof o.name !== 'string') {
    throw invalidOption('name', 'a string or null', o.name)
  }
  if (!Number.isInteger(o.sampleIntervalMs) || o.sampleIntervalMs < 0) {
    throw invalidOption('sampleIntervalMs', 'a non-negative integer', o.sampleIntervalMs)
  }
  if (!Number.isInteger(o.eventLoopResolutionMs) || o.eventLoopResolutionMs < 1) {
    throw invalidOption('eventLoopResolutionMs', 'a positive integer', o.eventLoopResolutionMs)
  }
  for (const key of ['eventLoop', 'gc', 'channels'] as const) {
    if (typeof o[key] !== 'boolean') throw invalidOption(key, 'a boolean', o[key])
  }
  if (o.heapPeak !== 'gc' && o.heapPeak !== 'sampler') {
    throw invalidOption('heapPeak', "'gc' or 'sampler'", o.heapPeak)
  }
  return o
}

/** A finite, non-negative number of seconds or milliseconds. @internal */
export function validDuration(value: unknown): value is number {
  return typeof value === 'number' && value >= 0 && value < Number.POSITIVE_INFINITY
}

/** Throws INVALID_DURATION naming the value unless `seconds` is a valid duration. @internal */
export function assertDuration(seconds: unknown): asserts seconds is number {
  if (!validDuration(seconds)) {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_DURATION,
      `seconds must be a finite, non-negative number, got ${typeof seconds === 'string' ? JSON.stringify(seconds) : String(seconds)}`,
    )
  }
}

function invalidOption(key: string, what: string, value: unknown): ProfilerError {
  return new ProfilerError(
    ProfilerErrorCode.INVALID_OPTION,
    `options.${key} must be ${what}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
  )
}
