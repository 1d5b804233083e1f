import type { Context, Middleware } from 'koa';
import type { TokenBucketRule } from '../cache/index.js';
import { appError } from '../errors/index.js';
import { RateLimitErrors } from './errors.js';
import type { RateLimiter } from './limiter.js';

export interface KoaRateLimitOptions {
  /** Bucket name, e.g. 'sign-in:ip' (see RATE_LIMIT_RULES). */
  bucket: string;
  rule: TokenBucketRule;
  /**
   * What the bucket counts per: an IP, a normalised email, a client id. `undefined` means the
   * request is not subject to this limit and passes. The key is hashed before it is stored.
   */
  key: (ctx: Context) => string | undefined | Promise<string | undefined>;
  /** Called before the 429 is thrown (audit log, metrics). */
  onLimited?: (ctx: Context, bucket: string) => void;
}

/** Refuses a request over its limit with 429 RATE_LIMITED and `Retry-After: <seconds>`. */
export function koaRateLimit(limiter: RateLimiter, options: KoaRateLimitOptions): Middleware {
  const { bucket, rule, key, onLimited } = options;
  return async (ctx, next) => {
    const k = await key(ctx);
    if (k !== undefined) {
      const decision = await limiter.take(bucket, k, rule);
      if (!decision.allowed) {
        onLimited?.(ctx, bucket);
        throw appError(RateLimitErrors, 'RATE_LIMITED', { headers: { 'Retry-After': String(decision.retryAfterS) } });
      }
    }
    await next();
  };
}
