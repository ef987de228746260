/** Every code a {@link ProfilerError} can carry. Branch on these, never on message text. */
export const ProfilerErrorCode = {
  /** A duration was negative, NaN or not finite. */
  INVALID_DURATION: 'INVALID_DURATION',
  /** An argument other than a duration or an option was invalid (e.g. `fn` not a function). */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** An option had a value of the wrong type or outside its range. */
  INVALID_OPTION: 'INVALID_OPTION',
  /** `check()` / `assert()` received a criterion name it does not know. */
  UNKNOWN_CRITERION: 'UNKNOWN_CRITERION',
  /** A criterion's limit was not a finite number. */
  INVALID_CRITERION: 'INVALID_CRITERION',
  /** `stop()` was called on a stopped profile, or something was recorded after `stop()`. */
  ALREADY_STOPPED: 'ALREADY_STOPPED',
  /** `endDbQuery()` was called with no query started by `startDbQuery()` still open. */
  NO_PENDING_QUERY: 'NO_PENDING_QUERY',
  /** `performanceProfile()` could not start the CPU profiler or write its `.cpuprofile`. */
  CPU_PROFILE_FAILED: 'CPU_PROFILE_FAILED',
  /** `assert()` found one or more violated criteria (listed in `violations`). */
  CRITERIA_NOT_MET: 'CRITERIA_NOT_MET',
} as const

/** The union of {@link ProfilerErrorCode} values. */
export type ProfilerErrorCode = (typeof ProfilerErrorCode)[keyof typeof ProfilerErrorCode]

/** The one error class of `@bookgen/profiler`. */
export class ProfilerError extends Error {
  /** Machine-readable reason, one of {@link ProfilerErrorCode}. */
  readonly code: ProfilerErrorCode
  /** For `CRITERIA_NOT_MET`: every violation found; empty otherwise. */
  readonly violations: readonly Violation[]

  constructor(
    code: ProfilerErrorCode,
    message: string,
    options: { cause?: unknown; violations?: readonly Violation[] } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ProfilerError'
    this.code = code
    this.violations = options.violations ?? []
  }
}

/** One criterion that a profile did not meet. */
export interface Violation {
  /** The criterion's name, e.g. `maxMemoryPeak`. */
  criterion: string
  /** The metric it compares, e.g. `memoryPeak`. */
  metric: string
  /** The limit given in the criteria. */
  limit: number
  /** The measured value. */
  actual: number
  /** A sentence naming both, e.g. `memoryPeak 1.62 GiB exceeds maxMemoryPeak 1.50 GiB`. */
  message: string
}
