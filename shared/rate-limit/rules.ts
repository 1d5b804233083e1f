import type { TokenBucketRule } from '../cache/index.js';

/**
 * Default token buckets, named `<flow>:<what the key identifies>`. `capacity` is the burst a
 * fresh bucket allows; `refillPerSecond` the sustained rate (1/30 = one token every 30 s).
 * The name doubles as the `bucket` argument of `RateLimiter.take` and `koaRateLimit`.
 */
export const RATE_LIMIT_RULES = {
  'sign-in:ip': { capacity: 20, refillPerSecond: 1 / 3 },
  'sign-in:account': { capacity: 10, refillPerSecond: 1 / 30 },
  'sign-up:ip': { capacity: 5, refillPerSecond: 1 / 60 },
  'password-reset:ip': { capacity: 5, refillPerSecond: 1 / 60 },
  'password-reset:account': { capacity: 3, refillPerSecond: 1 / 300 },
  'totp:account': { capacity: 5, refillPerSecond: 1 / 30 },
  'verify-mail:ip': { capacity: 5, refillPerSecond: 1 / 60 },
  'verify-mail:recipient': { capacity: 3, refillPerSecond: 1 / 300 },
  'token:client': { capacity: 100, refillPerSecond: 10 },
  // RFC 7591 registration (POST /reg) per client address: self-registered clients are free to create.
  'register:ip': { capacity: 10, refillPerSecond: 1 / 60 },
  // RFC 8628 §5.1: user codes typed at POST /device (every attempt, right or wrong: the bucket
  // answers before the code is looked up). One device sign-in costs two (entry, confirmation).
  'device-code:ip': { capacity: 20, refillPerSecond: 1 / 30 },
  'device-code:session': { capacity: 10, refillPerSecond: 1 / 60 },
} as const satisfies Record<string, TokenBucketRule>;

export type RateLimitRuleName = keyof typeof RATE_LIMIT_RULES;
export type RateLimitRules = Record<RateLimitRuleName, TokenBucketRule>;
