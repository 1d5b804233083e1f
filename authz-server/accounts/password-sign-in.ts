import type { Context } from 'koa';
import { fromNodeHeaders } from 'better-auth/node';
import { APIError } from 'better-auth/api';
import type { Container } from '#shared/container.js';
import { appError, StorageErrors } from '#shared/errors/index.js';
import { betterAuthStorageFailures } from './storage-failures.js';
import type { AuthzLimits } from '../rate-limits.js';

export type PasswordSignIn =
  | { kind: 'bad-input'; status: 400 | 401 }
  | { kind: 'limited'; wait: number }
  | { kind: 'failed'; status: number }
  | { kind: 'two-factor' }
  | { kind: 'signed-in'; userId: string };

/**
 * The password step, the same for the sign-in interaction and the account's own sign-in, so both
 * answer every failure alike (unknown address, wrong password, unverified or banned account):
 * bad input first, then the sign-in buckets of the address and the account, then better-auth.
 * Its cookies (session, or the pending second factor) are set on `ctx`.
 */
export async function passwordSignIn(c: Pick<Container, 'auth'>, limits: AuthzLimits, ctx: Context, email: string, password: string): Promise<PasswordSignIn> {
  if (!email || !password) return { kind: 'bad-input', status: 401 };
  // No account can hold a NUL (PostgreSQL cannot even compare one): bad input, not a lookup.
  if (email.includes('\u0000') || password.includes('\u0000')) return { kind: 'bad-input', status: 400 };
  const wait = await limits.check(ctx, [['sign-in:ip', ctx.ip], ['sign-in:account', email.toLowerCase()]]);
  if (wait > 0) return { kind: 'limited', wait };
  // A before-hook refusal (the unverified account, shared/auth/better-auth.ts) is thrown even with
  // asResponse: it must look exactly like a wrong password, never like a 500.
  const res = await c.auth.api.signInEmail({ body: { email, password }, headers: fromNodeHeaders(ctx.req.headers), asResponse: true }).catch((err: unknown) => {
    if (err instanceof APIError) return new Response(null, { status: err.statusCode });
    throw err;
  });
  // Our failure, not a wrong password: an outage is retryable (503), anything else a 500.
  if (res.status >= 500) {
    if (betterAuthStorageFailures.within(5000)) throw appError(StorageErrors, 'DATABASE_UNAVAILABLE');
    throw new Error(`better-auth sign-in answered ${res.status}`);
  }
  if (!res.ok) return { kind: 'failed', status: res.status };
  const signedIn = (await res.json()) as { user?: { id: string }; twoFactorRedirect?: boolean };
  for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
  return signedIn.twoFactorRedirect ? { kind: 'two-factor' } : { kind: 'signed-in', userId: signedIn.user!.id };
}
