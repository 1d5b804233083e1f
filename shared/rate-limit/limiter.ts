import { createHash } from 'node:crypto';
import { createMemoryCache, type Cache, type TokenBucketRule } from '../cache/index.js';
import { isAppError } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';

export interface RateLimitDecision {
  allowed: boolean;
  /** 0 when allowed; otherwise whole seconds until a retry can succeed (at least 1). */
  retryAfterS: number;
  /** Whole tokens left in the bucket after this call. */
  remaining: number;
}

export interface RateLimiter {
  /**
   * Takes `rule.cost ?? 1` tokens from bucket `bucket` for `key`. Never rejects because the
   * shared cache is down: it then answers from in-process buckets. Rejects only for a caller
   * bug (an invalid rule), with the RangeError of the cache.
   */
  take(bucket: string, key: string, rule: TokenBucketRule): Promise<RateLimitDecision>;
  /** True while answering from the in-process fallback. */
  readonly degraded: boolean;
}

export interface RateLimiterOptions {
  /** The shared cache (Redis in production, so all replicas share one count). */
  cache: Cache;
  logger: Logger;
  /** Used while `cache` throws CACHE_UNAVAILABLE; a fresh in-process memory cache by default. */
  fallback?: Cache;
  /**
   * While degraded, the shared cache is retried at most once per interval; other calls go
   * straight to the fallback so a hung Redis costs at most one command timeout per interval.
   */
  probeIntervalMs?: number;
  now?: () => number;
}

export const DEGRADED_MESSAGE = 'rate limiting degraded to in-process buckets';
export const RECOVERED_MESSAGE = 'rate limiting restored to the shared cache';
const DEFAULT_PROBE_INTERVAL_MS = 1_000;

/**
 * Every key is hashed: the key part may be an email or an IP (personal data), and must never
 * appear in Redis. The bucket name stays readable; the hash also bounds the key length.
 */
export function rateLimitKey(bucket: string, key: string): string {
  return `rl:${bucket}:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

function isCacheUnavailable(err: unknown): boolean {
  return isAppError(err) && err.code === 'CACHE_UNAVAILABLE';
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { cache, logger } = options;
  const fallback = options.fallback ?? createMemoryCache();
  const probeIntervalMs = options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  const now = options.now ?? Date.now;
  let degraded = false;
  let nextProbeAt = 0;

  const decide = (r: { allowed: boolean; remaining: number; retryAfterMs: number }): RateLimitDecision => ({
    allowed: r.allowed,
    remaining: r.remaining,
    retryAfterS: r.allowed ? 0 : Math.max(1, Math.ceil(r.retryAfterMs / 1000)),
  });

  return {
    get degraded() {
      return degraded;
    },

    async take(bucket, key, rule) {
      const k = rateLimitKey(bucket, key);
      if (!degraded || now() >= nextProbeAt) {
        // Claimed before awaiting, so concurrent calls during an outage do not all probe.
        if (degraded) nextProbeAt = now() + probeIntervalMs;
        try {
          const result = await cache.takeToken(k, rule);
          if (degraded) {
            degraded = false;
            logger.info({ backend: cache.backend }, RECOVERED_MESSAGE);
          }
          return decide(result);
        } catch (err) {
          if (!isCacheUnavailable(err)) throw err;
          if (!degraded) {
            degraded = true;
            nextProbeAt = now() + probeIntervalMs;
            logger.warn({ err }, DEGRADED_MESSAGE);
          }
        }
      }
      return decide(await fallback.takeToken(k, rule));
    },
  };
}
