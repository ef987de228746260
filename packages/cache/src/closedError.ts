import { CacheError, CacheErrorCode } from './cacheError.js'

/** The `CLOSED` error every store throws when it is used after `close()`. */
export function closedError(): CacheError {
  return new CacheError(CacheErrorCode.CLOSED, 'the cache was used after close()')
}
