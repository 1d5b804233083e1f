import type Router from '@koa/router';
import type { Context } from 'koa';
import { fromNodeHeaders } from 'better-auth/node';
import type { Container } from '#shared/container.js';
import { currentSession } from '#shared/auth/session.js';
import { fromRequest } from '#shared/audit/index.js';
import { renderLogin } from '../pages/login.js';
import { renderTotpChallenge } from '../pages/two-factor.js';
import { koaForm } from '../pages/koa-form.js';
import { twoFactorAccount } from '../better-auth-mount.js';
import type { AuthzLimits } from '../rate-limits.js';
import { pendingSecondFactor } from './interaction.js';
import { passwordSignIn } from '../accounts/password-sign-in.js';

const SIGN_IN_FAILED = 'Incorrect email or password.';
const ACTION = '/account/sign-in';
const TOTP_ACTION = '/account/sign-in/totp';

const field = (ctx: Context, name: string) => {
  const v = (ctx.request as unknown as { body?: Record<string, unknown> }).body?.[name];
  return typeof v === 'string' ? v : '';
};

/**
 * The account area's own sign-in (no application needed), with the interaction's rules: the
 * same enumeration-safe answer for unknown, wrong-password, unverified and banned accounts, the
 * same sign-in buckets, and a second step that takes only this browser's pending two_factor
 * cookie (routes/interaction.ts). Lands on /account.
 */
export function accountSignInRoutes(router: Router, c: Pick<Container, 'auth' | 'config' | 'audit' | 'db'>, limits: AuthzLimits): void {
  const form = koaForm(c.config.authz.issuer, { limitBytes: 16 * 1024 });
  const failed = (ctx: Context, email: string, error = SIGN_IN_FAILED, status = 401) => renderLogin(ctx, { action: ACTION, email, error }, status);
  const landed = (ctx: Context) => {
    ctx.status = 303;
    ctx.redirect('/account');
  };

  router.get('/sign-in', async (ctx) => {
    if (await currentSession(c.auth, c.config, ctx.req.headers)) return landed(ctx);
    renderLogin(ctx, { action: ACTION });
  });

  router.post('/sign-in', form, async (ctx) => {
    const email = field(ctx, 'email').trim();
    const password = field(ctx, 'password');
    const r = await passwordSignIn(c, limits, ctx, email, password);
    if (r.kind === 'bad-input') return r.status === 400 ? failed(ctx, '', SIGN_IN_FAILED, 400) : failed(ctx, email);
    if (r.kind === 'limited') return failed(ctx, email, `Too many attempts. Try again in ${r.wait} seconds.`, 429);
    if (r.kind === 'failed') {
      c.audit.record('sign_in.failed', { outcome: 'failure', ...fromRequest(ctx), properties: { method: 'password', reason: `http_${r.status}`, emailHash: email } });
      return failed(ctx, email);
    }
    if (r.kind === 'two-factor') return renderTotpChallenge(ctx, { action: TOTP_ACTION });
    c.audit.record('sign_in.succeeded', { outcome: 'success', actor: { userId: r.userId }, ...fromRequest(ctx), properties: { method: 'password', mfa: false } });
    landed(ctx);
  });

  router.post('/sign-in/totp', form, async (ctx) => {
    const code = field(ctx, 'code').replace(/\s+/g, '');
    // Only the password step's pending cookie: a session cookie would have better-auth check
    // the code for that session's account instead (a stolen session plus a code).
    const pending = pendingSecondFactor(ctx.get('Cookie'));
    if (!pending) return renderTotpChallenge(ctx, { action: TOTP_ACTION, error: 'This sign-in has expired. Sign in again.', restart: ACTION }, 400);
    const wait = await limits.check(ctx, [['sign-in:ip', ctx.ip], ['totp:account', await twoFactorAccount(c.db, pending)]]);
    if (wait > 0) return renderTotpChallenge(ctx, { action: TOTP_ACTION, error: `Too many attempts. Try again in ${wait} seconds.` }, 429);
    const headers = fromNodeHeaders({ ...ctx.req.headers, cookie: pending });
    const totp = /^\d{6}$/.test(code);
    const res = totp
      ? await c.auth.api.verifyTOTP({ body: { code }, headers, asResponse: true })
      : await c.auth.api.verifyBackupCode({ body: { code }, headers, asResponse: true });
    if (!res.ok) {
      c.audit.record('two_factor.challenge_failed', { outcome: 'failure', ...fromRequest(ctx), properties: { method: totp ? 'totp' : 'backup_code' } });
      return renderTotpChallenge(ctx, { action: TOTP_ACTION, error: 'That code is not valid. Try again.' }, 401);
    }
    const verified = (await res.json()) as { user: { id: string } };
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    c.audit.record('sign_in.succeeded', { outcome: 'success', actor: { userId: verified.user.id }, ...fromRequest(ctx), properties: { method: 'password', mfa: true } });
    landed(ctx);
  });
}
