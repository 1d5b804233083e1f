import type { Config } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import { createMemoryCache } from './memory.js';
import { createRedisCache } from './redis.js';
import type { Cache } from './types.js';

export type { Cache, TokenBucketResult, TokenBucketRule } from './types.js';
export { MemoryCache, createMemoryCache, type MemoryCacheOptions } from './memory.js';
export { RedisCache, createRedisCache } from './redis.js';
export type { RedisCacheConfig } from './redis-connection.js';

/**
 * The one place that picks the backend from config. Never throws for an unreachable Redis:
 * see createRedisCache.
 */
export async function createCache(config: Config['cache'], logger: Logger): Promise<Cache> {
  if (config.backend === 'memory') return createMemoryCache();
  return createRedisCache(config, logger);
}
