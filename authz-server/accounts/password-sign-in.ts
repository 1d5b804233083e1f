import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { fromNodeHeaders } from 'better-auth/node';
import { APIError } from 'better-auth/api';
import type { Container } from '#shared/container.js';
import { appError, StorageErrors } from '#shared/errors/index.js';
import { fromRequest, type AuditInput } from '#shared/audit/index.js';
import { formBody, formText, type Buckets } from '../forms/steps.js';
import { refusal } from '../forms/refusal.js';
import { AccountErrors } from './errors.js';

/**
 * The password step, the same for the sign-in interaction and the account's own sign-in, so both
 * answer every failure alike (unknown address, wrong password, unverified or banned account):
 * bad input first (`signInForm`), then the sign-in buckets of the address and the account
 * (`signInBuckets`), then better-auth (`checkPassword`).
 */
const email = formText().transform((e) => e.trim());
export const signInForm = z
  .object({ email, password: formText() })
  .refine((f) => f.email !== '' && f.password !== '', { message: 'SIGN_IN_FAILED', abort: true })
  .refine((f) => !f.email.includes('\u0000') && !f.password.includes('\u0000'), { message: 'SIGN_IN_MALFORMED' });

export type SignInForm = z.output<typeof signInForm>;

/** The address to show on the page again after a refusal: as typed, but none that held a NUL. */
export const typedEmail = (ctx: Context, refused: { code: string }) => (refused.code === 'SIGN_IN_MALFORMED' ? '' : email.parse(formBody(ctx).email));

export const signInBuckets = (ctx: Context): Buckets => [['sign-in:ip', ctx.ip], ['sign-in:account', (ctx.state.form as SignInForm).email.toLowerCase()]];

/** Who signed in: an account, or one whose second factor is still to come (better-auth's pending two_factor cookie). */
export type PasswordChecked = { twoFactor: 'pending' } | { userId: string };
export const passwordChecked = (ctx: Context) => ctx.state.signIn as PasswordChecked;

/**
 * better-auth checks the password; its cookies (session, or the pending second factor) are set
 * on `ctx`. A failure is audited with `actor`'s view of the request and refused.
 */
export function checkPassword(c: Pick<Container, 'auth' | 'audit' | 'storageFailures'>, actor: (ctx: Context) => AuditInput['actor']): Middleware {
  return async function checkPassword(ctx, next) {
    const { email, password } = ctx.state.form as SignInForm;
    // A before-hook refusal (the unverified account, shared/auth/better-auth.ts) is thrown even with
    // asResponse: it must look exactly like a wrong password, never like a 500.
    const res = await c.auth.api.signInEmail({ body: { email, password }, headers: fromNodeHeaders(ctx.req.headers), asResponse: true }).catch((err: unknown) => {
      if (err instanceof APIError) return new Response(null, { status: err.statusCode });
      throw err;
    });
    // Our failure, not a wrong password: an outage is retryable (503), anything else a 500.
    if (res.status >= 500) {
      if (c.storageFailures.within(5000)) throw appError(StorageErrors, 'DATABASE_UNAVAILABLE');
      throw new Error(`better-auth sign-in answered ${res.status}`);
    }
    if (!res.ok) {
      c.audit.record('sign_in.failed', { outcome: 'failure', actor: actor(ctx), ...fromRequest(ctx), properties: { method: 'password', reason: `http_${res.status}`, emailHash: email } });
      throw refusal(AccountErrors, 'SIGN_IN_FAILED');
    }
    const signedIn = (await res.json()) as { user?: { id: string }; twoFactorRedirect?: boolean };
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    ctx.state.signIn = (signedIn.twoFactorRedirect ? { twoFactor: 'pending' } : { userId: signedIn.user!.id }) satisfies PasswordChecked;
    await next();
  };
}
