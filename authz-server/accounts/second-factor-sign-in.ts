import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { fromNodeHeaders } from 'better-auth/node';
import type { Container } from '#shared/container.js';
import type { ErrorCatalog } from '#shared/errors/index.js';
import { fromRequest, type AuditInput } from '#shared/audit/index.js';
import { secondFactorMethod } from '#shared/auth/assurance.js';
import { formText, type Buckets } from '../forms/steps.js';
import { refusal } from '../forms/refusal.js';
import { twoFactorAccount } from '../better-auth-mount.js';
import { AccountErrors } from './errors.js';

/**
 * The code step after the password, the same for the sign-in interaction and the account's own
 * sign-in: `requirePendingSignIn → rateLimit(secondFactorBuckets) → checkCode`.
 */
export const codeForm = z.object({ code: formText().transform((c) => c.replace(/\s+/g, '')) });

/** The Cookie header with only better-auth's pending second-factor cookie, or undefined. */
export function pendingSecondFactor(cookieHeader: string): string | undefined {
  const kept = cookieHeader.split(';').map((c) => c.trim()).filter((c) => /^(?:__Host-)?portcullis\.two_factor=[^;]+$/.test(c));
  return kept.length === 1 ? kept[0] : undefined;
}

/**
 * This step finishes the password step of this browser: only its pending two_factor cookie goes
 * to better-auth. A session cookie would let better-auth check the code for that session's
 * account instead — a stolen session plus a code skipping the password step. Without one, the
 * catalog's `code` (the sign-in has expired).
 */
export function requirePendingSignIn<C extends ErrorCatalog>(catalog: C, code: keyof C & string): Middleware {
  return async function requirePendingSignIn(ctx, next) {
    const pending = pendingSecondFactor(ctx.get('Cookie'));
    if (!pending) throw refusal(catalog, code);
    ctx.state.pending = pending;
    await next();
  };
}

/** Charged to the account whose code is checked: the pending sign-in's, never another account's session the request also carries. */
export const secondFactorBuckets = (db: Container['db']) => async (ctx: Context): Promise<Buckets> => [['sign-in:ip', ctx.ip], ['totp:account', await twoFactorAccount(db, ctx.state.pending as string)]];

/** The account whose code matched; better-auth's session cookie is set on `ctx`. */
export const codeChecked = (ctx: Context) => ctx.state.signIn as { userId: string };

/** better-auth checks the code: a TOTP code, or else a single-use backup code. A failure is audited with `actor`. */
export function checkCode(c: Pick<Container, 'auth' | 'audit'>, actor: (ctx: Context) => AuditInput['actor']): Middleware {
  return async function checkCode(ctx, next) {
    const { code } = ctx.state.form as z.output<typeof codeForm>;
    const headers = fromNodeHeaders({ ...ctx.req.headers, cookie: ctx.state.pending as string });
    const method = secondFactorMethod(code);
    const res = method === 'totp'
      ? await c.auth.api.verifyTOTP({ body: { code }, headers, asResponse: true })
      : await c.auth.api.verifyBackupCode({ body: { code }, headers, asResponse: true });
    if (!res.ok) {
      c.audit.record('two_factor.challenge_failed', { outcome: 'failure', actor: actor(ctx), ...fromRequest(ctx), properties: { method } });
      throw refusal(AccountErrors, 'CODE_INVALID');
    }
    const verified = (await res.json()) as { user: { id: string } };
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    ctx.state.signIn = { userId: verified.user.id };
    await next();
  };
}
