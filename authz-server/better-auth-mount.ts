import type { Context, Middleware } from 'koa';
import { toNodeHandler } from 'better-auth/node';
import { BASE_ERROR_CODES } from 'better-auth';
import { appError, HttpErrors, isAppError, StorageErrors } from '#shared/errors/index.js';
import { RateLimitErrors } from '#shared/rate-limit/index.js';
import type { Container } from '#shared/container.js';
import type { AuthzLimits } from './rate-limits.js';

/**
 * better-auth's HTTP endpoints under /api/auth. Password changes and resets only go through our
 * pages (they apply the password policy, rate limits and revoke OAuth grants), so better-auth's
 * own endpoints for them are not exposed. Its JSON sign-in is, behind the same per-IP and
 * per-account limits as the sign-in page: the body is read here (bounded) to find the account.
 */
const CLOSED = new Set(['/api/auth/change-password', '/api/auth/reset-password', '/api/auth/request-password-reset', '/api/auth/sign-up/email']);
const SIGN_IN = '/api/auth/sign-in/email';
const MAX_BODY = 16 * 1024;

export function betterAuthMount(c: Pick<Container, 'auth'>, limits: AuthzLimits): Middleware {
  const nodeHandler = toNodeHandler(c.auth);
  return async (ctx, next) => {
    if (!ctx.path.startsWith('/api/auth/')) return next();
    if (ctx.method === 'POST' && CLOSED.has(ctx.path)) throw appError(HttpErrors, 'NOT_FOUND');
    if (ctx.method === 'POST' && ctx.path === SIGN_IN) return signIn(ctx);
    ctx.respond = false;
    await nodeHandler(ctx.req, ctx.res);
  };

  async function signIn(ctx: Context): Promise<void> {
    const body = await readBody(ctx);
    let email: string | undefined;
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { email?: unknown; password?: unknown };
      if (typeof parsed.email === 'string') email = parsed.email.trim().toLowerCase();
      // No account can hold a NUL, and PostgreSQL cannot compare one: 400, not a lookup.
      if ([parsed.email, parsed.password].some((v) => typeof v === 'string' && v.includes('\u0000'))) throw appError(StorageErrors, 'UNSUPPORTED_CHARACTER');
    } catch (err) {
      if (isAppError(err)) throw err;
      // not JSON: better-auth answers it
    }
    const wait = await limits.check(ctx, [['sign-in:account', email]]);
    if (wait > 0) throw appError(RateLimitErrors, 'RATE_LIMITED', { headers: { 'Retry-After': String(wait) } });
    const headers = new Headers();
    for (const [k, v] of Object.entries(ctx.req.headers)) if (typeof v === 'string') headers.set(k, v);
    const res = await c.auth.handler(new Request(`${ctx.protocol}://${ctx.host}${ctx.originalUrl}`, { method: 'POST', headers, body }));
    let answer = Buffer.from(await res.arrayBuffer());
    ctx.status = res.status;
    // better-auth's admin plugin refuses a banned account only after the password matched: a 403
    // would confirm both the account and its password. It gets the wrong-password answer.
    if (res.status === 403 && isBannedRefusal(answer)) {
      ctx.status = 401;
      answer = Buffer.from(JSON.stringify({ message: BASE_ERROR_CODES.INVALID_EMAIL_OR_PASSWORD.message, code: 'INVALID_EMAIL_OR_PASSWORD' }));
    }
    res.headers.forEach((value, key) => {
      if (key !== 'set-cookie' && key !== 'content-length') ctx.set(key, value);
    });
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    ctx.body = answer;
  }
}

function isBannedRefusal(body: Buffer): boolean {
  try {
    return (JSON.parse(body.toString('utf8')) as { code?: unknown }).code === 'BANNED_USER';
  } catch {
    return false;
  }
}

async function readBody(ctx: Context): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw appError(HttpErrors, 'PAYLOAD_TOO_LARGE');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
