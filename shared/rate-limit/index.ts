export {
  createRateLimiter,
  rateLimitKey,
  DEGRADED_MESSAGE,
  RECOVERED_MESSAGE,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitDecision,
} from './limiter.js';
export { RATE_LIMIT_RULES, type RateLimitRuleName, type RateLimitRules } from './rules.js';
export { koaRateLimit, type KoaRateLimitOptions } from './koa-rate-limit.js';
export { RateLimitErrors } from './errors.js';
