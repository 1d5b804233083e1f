import type { Config } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import { createOffBus } from './off.js';
import { createRedisBus } from './redis-bus.js';
import type { ChangeBus } from './types.js';

export type { BusEvent, BusHandler, ChangeBus, DenySnapshot } from './types.js';
export { type Change, type ChangeType, type Revocation, isRevocation } from './changes.js';
export { createOffBus } from './off.js';

/**
 * A token issued before a revocation lives at most ACCESS_TOKEN_TTL_S more; the margin covers
 * clocks that differ between the publisher, the authorization server and the API.
 */
export const denyWindowMs = (config: Pick<Config, 'tokens'>) => config.tokens.accessTokenTtlS * 1000 + 60_000;

/** The one place that picks the bus from config: Redis when REDIS_URL is set, else none (embedded mode). */
export async function createChangeBus(config: Pick<Config, 'cache' | 'tokens' | 'bus'>, logger: Logger): Promise<ChangeBus> {
  if (config.cache.backend === 'memory') return createOffBus();
  const window = denyWindowMs(config);
  return createRedisBus({
    redis: config.cache,
    maxLength: config.bus.streamMaxLength,
    denyWindowMs: window,
    // An unannounced change matters while a token it revokes or a cache entry it invalidates lives.
    retryForMs: Math.max(window, config.bus.cacheMaxAgeMs),
    logger,
  });
}
