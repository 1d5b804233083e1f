import type { Context, Middleware } from 'koa';
import { createRateLimiter, koaRateLimit, RATE_LIMIT_RULES, type RateLimiter, type RateLimitRuleName } from '#shared/rate-limit/index.js';
import type { Container } from '#shared/container.js';
import { fromRequest } from '#shared/audit/index.js';

/**
 * Rate limits of the authz-server (token buckets in the shared cache: Redis across
 * replicas, per-process when Redis is down). Which requests count against what:
 *
 * | bucket | key | where |
 * |---|---|---|
 * | sign-in:ip, sign-in:account | client IP; lower-cased email | sign-in form, /api/auth/sign-in/email (IP) |
 * | sign-up:ip | client IP | /account/sign-up |
 * | sign-in:ip, sign-in:account | client IP; account email | password checks of the account page (2FA on/off) |
 * | sign-in:ip, totp:account | client IP; account id (pending two_factor cookie or session) | every TOTP / backup code check: sign-in step, JSON second factor, enrolment |
 * | verify-mail:ip, verify-mail:recipient | client IP; email | /api/auth/send-verification-email |
 * | password-reset:ip, password-reset:account | client IP; email | /account/forgot-password |
 * | token:client | Basic-auth client id, else client IP | /token |
 * | register:ip | client IP | POST /reg (RFC 7591 dynamic registration) |
 * | device-code:ip, device-code:session | client IP; the OpenID session cookie | POST /device (RFC 8628 user code entry and confirmation: oidc/device-flow.ts) |
 */
export function createAuthzLimits(c: Pick<Container, 'cache' | 'logger' | 'config' | 'audit' | 'metrics'>) {
  const m = c.config.rateLimitMultiplier;
  const rule = (bucket: RateLimitRuleName) => ({ capacity: RATE_LIMIT_RULES[bucket].capacity * m, refillPerSecond: RATE_LIMIT_RULES[bucket].refillPerSecond * m });
  const limiter: RateLimiter = createRateLimiter({ cache: c.cache, logger: c.logger.child({ component: 'rate-limit' }) });
  const onLimited = (ctx: Context, bucket: string) => {
    c.logger.warn({ event: 'rate_limit.hit', bucket, path: ctx.path, requestId: ctx.state.requestId }, 'rate limit hit');
    c.metrics.rateLimited.inc({ bucket });
    c.audit.record('rate_limit.hit', { outcome: 'denied', ...fromRequest(ctx), properties: { route: ctx.path, limit: bucket } });
  };
  const middleware = (bucket: RateLimitRuleName, key: (ctx: Context) => string | undefined): Middleware =>
    koaRateLimit(limiter, { bucket, rule: rule(bucket), key, onLimited });

  return {
    limiter,
    /** For pages: the first refused bucket's retry delay in seconds, or 0 when allowed. */
    async check(ctx: Context, checks: [RateLimitRuleName, string | undefined][]): Promise<number> {
      for (const [bucket, key] of checks) {
        if (!key) continue;
        const d = await limiter.take(bucket, key, rule(bucket));
        if (!d.allowed) {
          onLimited(ctx, bucket);
          ctx.set('Retry-After', String(d.retryAfterS));
          return d.retryAfterS;
        }
      }
      return 0;
    },
    signInApi: middleware('sign-in:ip', (ctx) => (ctx.method === 'POST' && ctx.path === '/api/auth/sign-in/email' ? ctx.ip : undefined)),
    signUp: middleware('sign-up:ip', (ctx) => (ctx.method === 'POST' ? ctx.ip : undefined)),
    // Matched as oidc-provider routes (any letter case, one trailing slash): /TOKEN is /token.
    token: middleware('token:client', (ctx) => (ctx.method === 'POST' && /^\/token\/?$/i.test(ctx.path) ? basicClientId(ctx) ?? ctx.ip : undefined)),
    // Every registration attempt counts, refused ones too. Matched as oidc-provider routes:
    // any letter case, one trailing slash.
    register: middleware('register:ip', (ctx) => (ctx.method === 'POST' && /^\/reg\/?$/i.test(ctx.path) ? ctx.ip : undefined)),
  };
}

export type AuthzLimits = ReturnType<typeof createAuthzLimits>;

/** RFC 6749 §2.3.1: the client id is the url-decoded user part of HTTP Basic credentials. */
function basicClientId(ctx: Context): string | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(ctx.get('Authorization'));
  if (!m) return undefined;
  const user = Buffer.from(m[1]!, 'base64').toString('utf8').split(':')[0];
  try {
    return user ? decodeURIComponent(user) : undefined;
  } catch {
    return undefined;
  }
}
