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
} as const

/** One of the `CacheErrorCode` values. */
export type CacheErrorCode = (typeof CacheErrorCode)[keyof typeof CacheErrorCode]

/** The one error class of `@bookgen/cache`; bad input only, never server faults. */
export class CacheError extends Error {
  /** What went wrong, from `CacheErrorCode`. */
  readonly code: CacheErrorCode

  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CacheError'
    this.code = code
  }
}
