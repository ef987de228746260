export { CACHE_CHANNEL, cacheChannel } from './cacheChannel.js'
export type { CachedFunction, CachedOptions } from './cached.js'
export { Cached, cached } from './cached.js'
export { CacheError, CacheErrorCode } from './cacheError.js'
export { CACHE_KEY_MAX_LENGTH, CACHE_KEY_PREFIX, cacheKey } from './cacheKey.js'
export type { CircuitBreakerOptions } from './circuitBreaker.js'
export { CircuitBreaker, circuitBreakerDefaults } from './circuitBreaker.js'
export { float32Codec, jsonCodec, msgpackCodec, resolveCodec } from './codecs.js'
export { closeCache, getCache, setCache } from './getCache.js'
export type { MemoryCacheOptions } from './memoryCache.js'
export { MemoryCache, memoryCacheDefaults } from './memoryCache.js'
export type { RedisCacheOptions } from './redisCache.js'
export { RedisCache, redisCacheDefaults } from './redisCache.js'
export type { TieredCacheOptions } from './tieredCache.js'
export { TieredCache, tieredCacheDefaults } from './tieredCache.js'
export type {
  Cache,
  CacheEvent,
  CacheEventOp,
  CacheHealth,
  CacheStats,
  Codec,
  CodecName,
  CodecOption,
  GetOptions,
  SetOptions,
} from './types.js'
