import type { ErrorCatalog } from '../errors/index.js';

/** Codes thrown by the rate limiting middleware. */
export const RateLimitErrors = {
  RATE_LIMITED: { status: 429, message: 'Too many requests. Try again later.' },
} as const satisfies ErrorCatalog;
