import { runScoped } from './channels.js'
import { Profile, SCOPED, SINK } from './profile.js'
import { ProfilerError, ProfilerErrorCode } from './profilerError.js'
import type { PerformanceProfileOptions } from './types.js'

/**
 * Profiles `fn` (the original's `with performance_profile() as prof:`): starts a profile, runs
 * `fn(prof)`, stops the profile when `fn` settles and resolves with it. `bookgen:*` channel
 * messages published from `fn`'s async context are recorded in this profile only, so concurrent
 * calls keep their own counts (see `options.isolate`). If `fn` throws, the profile is stopped
 * and the error rethrown.
 */
export async function performanceProfile(
  fn: (prof: Profile) => unknown,
  options: PerformanceProfileOptions = {},
): Promise<Profile> {
  if (typeof fn !== 'function') {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_ARGUMENT,
      `fn must be a function, got ${fn === null ? 'null' : typeof fn}`,
    )
  }
  const { isolate = true, ...profileOptions } = options ?? {}
  if (typeof isolate !== 'boolean') {
    throw new ProfilerError(
      ProfilerErrorCode.INVALID_OPTION,
      `options.isolate must be a boolean, got ${String(isolate)}`,
    )
  }
  const prof = new Profile(profileOptions, isolate ? SCOPED : undefined)
  const channels = profileOptions.channels ?? true
  try {
    if (channels && isolate) await runScoped(prof[SINK], () => fn(prof))
    else await fn(prof)
  } finally {
    // Node delivers GC entries from an immediate: one turn lets the pauses of fn's last
    // synchronous stretch reach the observer before stop() reads it.
    if ((profileOptions.gc ?? true) && prof.running) await new Promise(setImmediate)
    if (prof.running) prof.stop()
  }
  return prof
}
