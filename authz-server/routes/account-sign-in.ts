import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Container } from '#shared/container.js';
import { currentSession } from '#shared/auth/session.js';
import { fromRequest } from '#shared/audit/index.js';
import { renderLogin } from '../pages/login.js';
import { renderTotpChallenge } from '../pages/two-factor.js';
import { koaForm } from '../pages/koa-form.js';
import type { AuthzLimits } from '../rate-limits.js';
import { form, parseForm, rateLimit } from '../forms/steps.js';
import { AccountErrors } from '../accounts/errors.js';
import { checkPassword, passwordChecked, signInBuckets, signInForm, typedEmail } from '../accounts/password-sign-in.js';
import { checkCode, codeChecked, codeForm, requirePendingSignIn, secondFactorBuckets } from '../accounts/second-factor-sign-in.js';

const ACTION = '/account/sign-in';
const TOTP_ACTION = '/account/sign-in/totp';

/** Failures are audited without an actor: no application asked for this sign-in. */
const nobody = () => undefined;

/**
 * The account area's own sign-in (no application needed), with the interaction's steps: the
 * same enumeration-safe answer for unknown, wrong-password, unverified and banned accounts, the
 * same sign-in buckets, and a second step that takes only this browser's pending two_factor
 * cookie (accounts/second-factor-sign-in.ts). Lands on /account.
 */
export function accountSignInRoutes(router: Router, c: Pick<Container, 'auth' | 'config' | 'audit' | 'db' | 'storageFailures'>, limits: AuthzLimits): void {
  const body = koaForm(c.config.authz.issuer, { limitBytes: 16 * 1024 });
  const landed = (ctx: Context, userId: string, mfa: boolean) => {
    c.audit.record('sign_in.succeeded', { outcome: 'success', actor: { userId }, ...fromRequest(ctx), properties: { method: 'password', mfa } });
    ctx.status = 303;
    ctx.redirect('/account');
  };

  router.get('/sign-in', async (ctx) => {
    if (await currentSession(c.auth, c.config, ctx.req.headers)) {
      ctx.status = 303;
      return ctx.redirect('/account');
    }
    renderLogin(ctx, { action: ACTION });
  });

  router.post('/sign-in', body, form((ctx, refused) => renderLogin(ctx, { action: ACTION, email: typedEmail(ctx, refused), error: refused.message }, refused.status), [
    parseForm(signInForm, AccountErrors),
    rateLimit(limits, signInBuckets, AccountErrors, 'SIGN_IN_LIMITED'),
    checkPassword(c, nobody),
    async function askCodeOrLand(ctx) {
      const checked = passwordChecked(ctx);
      if ('twoFactor' in checked) return renderTotpChallenge(ctx, { action: TOTP_ACTION });
      landed(ctx, checked.userId, false);
    },
  ]));

  router.post('/sign-in/totp', body, form((ctx, refused) => renderTotpChallenge(ctx, { action: TOTP_ACTION, error: refused.message, ...(refused.code === 'PENDING_SIGN_IN_EXPIRED' ? { restart: ACTION } : {}) }, refused.status), [
    parseForm(codeForm),
    requirePendingSignIn(AccountErrors, 'PENDING_SIGN_IN_EXPIRED'),
    rateLimit(limits, secondFactorBuckets(c.db), AccountErrors, 'SIGN_IN_LIMITED'),
    checkCode(c, nobody),
    async function land(ctx) {
      landed(ctx, codeChecked(ctx).userId, true);
    },
  ]));
}
