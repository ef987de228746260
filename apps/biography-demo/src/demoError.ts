/** Error codes of the demo CLI; the CLI maps each to an exit code. */
export const DemoErrorCode = {
  BAD_ARGUMENT: 'BAD_ARGUMENT',
  UNKNOWN_CHARACTER: 'UNKNOWN_CHARACTER',
  OUTPUT_NOT_WRITABLE: 'OUTPUT_NOT_WRITABLE',
  /** `--workers` was given without a Redis server (`REDIS_URL`) for the queue. */
  REDIS_REQUIRED: 'REDIS_REQUIRED',
  REDIS_UNREACHABLE: 'REDIS_UNREACHABLE',
  DATABASE_UNREACHABLE: 'DATABASE_UNREACHABLE',
  RUN_FAILED: 'RUN_FAILED',
  /** A `bookgen-worker` process of `--workers` did not start, exited early or did not answer in time. */
  WORKER_FAILED: 'WORKER_FAILED',
  OUTPUTS_DIFFER: 'OUTPUTS_DIFFER',
} as const

export type DemoErrorCode = (typeof DemoErrorCode)[keyof typeof DemoErrorCode]

/** The one error class of the demo: a code callers branch on, a message for people, the cause. */
export class DemoError extends Error {
  override readonly name = 'DemoError'
  readonly code: DemoErrorCode

  constructor(code: DemoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** Exit code of the CLI for an error code. */
export function exitCodeFor(code: DemoErrorCode): number {
  switch (code) {
    case DemoErrorCode.BAD_ARGUMENT:
    case DemoErrorCode.UNKNOWN_CHARACTER:
    case DemoErrorCode.REDIS_REQUIRED:
      return 2
    case DemoErrorCode.OUTPUT_NOT_WRITABLE:
      return 3
    case DemoErrorCode.REDIS_UNREACHABLE:
    case DemoErrorCode.DATABASE_UNREACHABLE:
      return 4
    case DemoErrorCode.OUTPUTS_DIFFER:
      return 5
    default:
      return 1
  }
}

/** A connection URL with its password replaced by `***`, safe to print. */
export function maskUrl(raw: string): string {
  try {
    const url = new URL(raw)
    if (url.password) url.password = '***'
    return url.toString()
  } catch {
    return raw.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@')
  }
}
