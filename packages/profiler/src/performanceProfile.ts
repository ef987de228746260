import { runScoped } from './channels.js'
import { CpuProfiler } from './cpuProfiler.js'
import { Profile, SCOPED, SINK } from './profile.js'
import { ProfilerError, ProfilerErrorCode } from './profilerError.js'
import type { PerformanceProfileOptions } from './types.js'

/** What {@link performanceProfile} resolves with: the stopped profile and what `fn` returned. */
export type ProfileResult<T> = Profile & {
  /** The value `fn` returned (awaited). */
  readonly result: T
}

/**
 * Profiles `fn` (the original's `with performance_profile() as prof:`): starts a profile, runs
 * `fn(prof)`, stops the profile when `fn` settles and resolves with it. `bookgen:*` channel
 * messages are recorded like `startProfile()` records them; with `options.isolate`, only those
 * published from `fn`'s async context, so that concurrent calls keep their own counts. What
 * `fn` returns is kept as `result`. If `fn` throws, the profile is stopped and the error
 * rethrown.
 */
export async function performanceProfile<T>(
  fn: (prof: Profile) => T,
  options: PerformanceProfileOptions = {},
): Promise<ProfileResult<Awaited<T>>> {
  if (typeof fn !== 'function') {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_ARGUMENT,
      `fn must be a function, got ${fn === null ? 'null' : typeof fn}`,
    )
  }
  const { isolate = false, cpuProfile = null, ...profileOptions } = options ?? {}
  if (typeof isolate !== 'boolean') {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_OPTION,
      `options.isolate must be a boolean, got ${String(isolate)}`,
    )
  }
  if (cpuProfile !== null && (typeof cpuProfile !== 'string' || cpuProfile === '')) {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_OPTION,
      `options.cpuProfile must be a file path or null, got ${typeof cpuProfile === 'string' ? '""' : String(cpuProfile)}`,
    )
  }
  const cpu = cpuProfile === null ? undefined : await CpuProfiler.start(cpuProfile)
  let prof: Profile
  try {
    prof = new Profile(profileOptions, isolate ? SCOPED : undefined)
  } catch (error) {
    cpu?.cancel()
    throw error
  }
  const channels = profileOptions.channels ?? true
  let result: Awaited<T>
  try {
    if (channels && isolate) result = await runScoped(prof[SINK], () => fn(prof))
    else result = await fn(prof)
  } finally {
    // Node delivers GC entries from an immediate: one turn lets the pauses of fn's last
    // synchronous stretch reach the observer before stop() reads it.
    if ((profileOptions.gc ?? true) && prof.running) await new Promise(setImmediate)
    if (prof.running) prof.stop()
    await cpu?.stop()
  }
  return Object.defineProperty(prof, 'result', {
    value: result,
    enumerable: false,
  }) as ProfileResult<Awaited<T>>
}
