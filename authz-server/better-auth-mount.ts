import type { Context, Middleware } from 'koa';
import type { Knex } from 'knex';
import { BASE_ERROR_CODES } from 'better-auth';
import { appError, HttpErrors, StorageErrors } from '#shared/errors/index.js';
import { RateLimitErrors, type RateLimitRuleName } from '#shared/rate-limit/index.js';
import type { Container } from '#shared/container.js';
import type { AuthzLimits } from './rate-limits.js';
import { sessionsByToken } from './queries/sessions.js';
import { verificationValues } from './queries/verifications.js';

/**
 * better-auth's HTTP endpoints under /api/auth, behind our rules:
 *
 * - Closed (404): what our pages do instead with the password policy, rate limits and grant
 *   revocation (password change and reset, sign-up), and every endpoint that checks a password
 *   or a code which nothing of ours calls over HTTP (verify-password, enabling or disabling the
 *   second factor, its URI and backup codes, OTP by mail, account deletion, setting a password
 *   as admin). A stolen session cookie cannot use them as a password oracle.
 * - Rate limited, in the sign-in buckets of the address and the account: the JSON sign-in and
 *   the second-factor step after it; verification mail per address and per recipient.
 * - Every answer is read here (bounded body in, JSON out) so that no response carries a
 *   session token: `token` fields are removed, the cookie is the only carrier.
 */
const CLOSED = new Set([
  '/change-password', '/reset-password', '/request-password-reset', '/sign-up/email', '/verify-password',
  '/two-factor/enable', '/two-factor/disable', '/two-factor/get-totp-uri', '/two-factor/generate-backup-codes',
  '/two-factor/send-otp', '/two-factor/verify-otp', '/delete-user', '/admin/set-user-password',
  // Ending sessions and creating users go through our pages and the admin CLI, which also end
  // the grants obtained through them and apply the password policy.
  '/revoke-session', '/revoke-sessions', '/revoke-other-sessions', '/admin/revoke-user-session', '/admin/revoke-user-sessions', '/admin/create-user',
]);
const SECOND_FACTOR = new Set(['/two-factor/verify-totp', '/two-factor/verify-backup-code']);
const MAX_BODY = 16 * 1024;
const PREFIX = '/api/auth';

export function betterAuthMount(c: Pick<Container, 'auth' | 'db'>, limits: AuthzLimits): Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith(`${PREFIX}/`)) return next();
    const route = ctx.path.slice(PREFIX.length);
    if (ctx.method === 'POST' && CLOSED.has(route)) throw appError(HttpErrors, 'NOT_FOUND');
    const body = ctx.method === 'GET' || ctx.method === 'HEAD' ? undefined : await readBody(ctx);
    const json = parseJson(body);
    if (ctx.method === 'POST') await limit(ctx, route, json);
    await forward(ctx, body);
  };

  async function limit(ctx: Context, route: string, json: Record<string, unknown> | undefined): Promise<void> {
    const email = typeof json?.email === 'string' ? json.email.trim().toLowerCase() : undefined;
    let checks: Parameters<AuthzLimits['check']>[1] = [];
    if (route === '/sign-in/email') {
      // No account can hold a NUL, and PostgreSQL cannot compare one: 400, not a lookup.
      if ([json?.email, json?.password].some((v) => typeof v === 'string' && v.includes('\u0000'))) throw appError(StorageErrors, 'UNSUPPORTED_CHARACTER');
      checks = [['sign-in:account', email]]; // sign-in:ip is limits.signInApi, before this
    } else if (SECOND_FACTOR.has(route)) {
      const accounts = await secondFactorAccounts(c.db, ctx.get('Cookie'));
      checks = [['sign-in:ip', ctx.ip], ...accounts.map((a) => ['totp:account', a] as [RateLimitRuleName, string])];
    } else if (route === '/send-verification-email') {
      checks = [['verify-mail:ip', ctx.ip], ['verify-mail:recipient', email]];
    }
    const wait = await limits.check(ctx, checks);
    if (wait > 0) throw appError(RateLimitErrors, 'RATE_LIMITED', { headers: { 'Retry-After': String(wait) } });
  }

  async function forward(ctx: Context, body: Buffer | undefined): Promise<void> {
    const headers = new Headers();
    for (const [k, v] of Object.entries(ctx.req.headers)) if (typeof v === 'string') headers.set(k, v);
    const res = await c.auth.handler(new Request(`${ctx.protocol}://${ctx.host}${ctx.originalUrl}`, { method: ctx.method, headers, body: body?.length ? new Uint8Array(body) : undefined }));
    let answer = Buffer.from(await res.arrayBuffer());
    ctx.status = res.status;
    // better-auth's admin plugin refuses a banned account only after the password matched: a 403
    // would confirm both the account and its password. It gets the wrong-password answer.
    if (res.status === 403 && parseJson(answer)?.code === 'BANNED_USER') {
      ctx.status = 401;
      answer = Buffer.from(JSON.stringify({ message: BASE_ERROR_CODES.INVALID_EMAIL_OR_PASSWORD.message, code: 'INVALID_EMAIL_OR_PASSWORD' }));
    } else if (/^application\/json/.test(res.headers.get('content-type') ?? '') && answer.length) {
      answer = Buffer.from(JSON.stringify(withoutTokens(JSON.parse(answer.toString('utf8')))));
    }
    res.headers.forEach((value, key) => {
      if (key !== 'set-cookie' && key !== 'content-length') ctx.set(key, value);
    });
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    ctx.body = answer;
  }
}

/** Session tokens travel in HttpOnly cookies only (list-sessions, get-session, sign-in…). */
function withoutTokens(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTokens);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'token').map(([k, v]) => [k, withoutTokens(v)]));
}

/**
 * The accounts whose code a second-factor request would check, for the totp:account buckets.
 * better-auth checks the signed-in session's account when the request carries a live session
 * (plugins/two-factor/verify-two-factor.ts), else the pending sign-in named by the signed
 * two_factor cookie (a verification row whose value is the user id). Every cookie that could
 * be either one counts — read leniently (any spacing, quoted, percent-encoded, with or without
 * a `__Host-` or `__Secure-` prefix, first or not), so that no spelling better-auth accepts escapes the
 * account's bucket. A forged cookie names no row and charges nothing: better-auth refuses it
 * before looking at a code.
 */
export async function secondFactorAccounts(db: Knex, cookieHeader: string): Promise<string[]> {
  const tokens = cookieValues(cookieHeader, 'session_token');
  const pending = cookieValues(cookieHeader, 'two_factor');
  const sessions = tokens.length ? await sessionsByToken(db, tokens) : [];
  const rows = pending.length ? await verificationValues(db, pending) : [];
  const live = sessions.filter((r) => new Date(r.expiresAt).getTime() > Date.now()).map((r) => String(r.userId));
  const waiting = pending.flatMap((id) => rows.filter((r) => r.identifier === id).map((r) => String(r.value)));
  return [...new Set([...live, ...waiting])];
}

/** The account whose code better-auth will check (see secondFactorAccounts), for one bucket. */
export async function twoFactorAccount(db: Knex, cookieHeader: string): Promise<string | undefined> {
  return (await secondFactorAccounts(db, cookieHeader))[0];
}

/** Signed values of our `name` cookie as better-call reads them, without the signature; at most four. */
function cookieValues(cookieHeader: string, name: 'two_factor' | 'session_token'): string[] {
  const re = new RegExp(`(?:^|;)\\s*(?:__Host-|__Secure-)?portcullis\\.${name}\\s*=([^;]*)`, 'g');
  return [...cookieHeader.matchAll(re)].slice(0, 4).map((m) => {
    let v = m[1]!.trim();
    if (v.startsWith('"')) v = v.slice(1, -1);
    try {
      v = decodeURIComponent(v);
    } catch {
      // better-call keeps a value it cannot decode as it is
    }
    return v.slice(0, Math.max(0, v.lastIndexOf('.'))) || v;
  });
}

function parseJson(body: Buffer | undefined): Record<string, unknown> | undefined {
  if (!body?.length) return undefined;
  try {
    // As better-auth reads it (Fetch's body.json(): UTF-8 with a leading BOM dropped), or a
    // byte-order mark would hide the email from the account's bucket.
    const v = JSON.parse(new TextDecoder().decode(body)) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // not JSON: better-auth answers it
  }
}

async function readBody(ctx: Context): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Not destroyed when the limit stops the loop: the server discards the rest and the kept-alive
  // connection goes on (shared/http/server.ts).
  for await (const chunk of ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw appError(HttpErrors, 'PAYLOAD_TOO_LARGE');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
