/** Codes of `CacheError`: branch on these, never on message text. */
export const CacheErrorCode = {
  /** The key is not a string or is empty. */
  INVALID_KEY: 'INVALID_KEY',
  /** The key is longer than `maxKeyLength` bytes. */
  KEY_TOO_LONG: 'KEY_TOO_LONG',
  /** The TTL is negative, NaN, infinite or not an integer. */
  INVALID_TTL: 'INVALID_TTL',
  /** The codec cannot encode the value (BigInt, circular structure, function, wrong type...). */
  UNENCODABLE_VALUE: 'UNENCODABLE_VALUE',
  /** A constructor or function option is invalid. */
  INVALID_OPTION: 'INVALID_OPTION',
  /** An argument has the wrong kind (`getMany` keys not an array, `setMany` entries not a record or Map). */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** The cache was used after `close()`. */
  CLOSED: 'CLOSED',
  /** `clear()` could not reach every server; the error's `removed` says how many keys went. */
  CLEAR_INCOMPLETE: 'CLEAR_INCOMPLETE',
} as const

/** One of the `CacheErrorCode` values. */
export type CacheErrorCode = (typeof CacheErrorCode)[keyof typeof CacheErrorCode]

/**
 * The one error class of `@bookgen/cache`: bad input, and `clear()` that could not finish. Server
 * faults of reads and writes are never thrown.
 */
export class CacheError extends Error {
  /** What went wrong, from `CacheErrorCode`. */
  readonly code: CacheErrorCode
  /** For `CLEAR_INCOMPLETE`: how many keys were removed before the failure. */
  readonly removed?: number

  constructor(
    code: CacheErrorCode,
    message: string,
    options?: { cause?: unknown; removed?: number },
  ) {
    super(message, options)
    this.name = 'CacheError'
    this.code = code
    if (options?.removed !== undefined) this.removed = options.removed
  }
}

/** The `CLOSED` error every store throws when it is used after `close()`. */
export function closedError(): CacheError {
  return new CacheError(CacheErrorCode.CLOSED, 'the cache was used after close()')
}
