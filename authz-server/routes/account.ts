import Router from '@koa/router';
import type { Context } from 'koa';
import type { Container } from '#shared/container.js';
import { koaBody, respond } from '#shared/http/index.js';
import { appError, HttpErrors } from '#shared/errors/index.js';
import { checkPassword, describeRefusal } from '#shared/auth/password-policy.js';
import { renderConfirmEmail, renderForgot, renderReset, renderSignUp, type SignUpErrors } from '../pages/account.js';
import { renderMessage, renderRefusal, SIGN_IN } from '../pages/message.js';
import { createSignUp, signUpInput } from '../accounts/sign-up.js';
import { createResendVerification } from '../accounts/resend-verification.js';
import { accountSignInRoutes } from './account-sign-in.js';
import type { AuthzLimits } from '../rate-limits.js';
import { fromRequest } from '#shared/audit/index.js';
import { refusal, type Refusal } from '../forms/refusal.js';
import { AccountErrors } from '../accounts/errors.js';

const SENT = 'If the address can be used, we have sent a message to it. Follow the link in it to continue.';

const wantsJson = (ctx: Context) => ctx.is('application/json') === 'application/json';
const form = (ctx: Context) => ((ctx.request as unknown as { body?: Record<string, unknown> }).body ?? {}) as Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' ? v : '');
/** What sign-up.ts puts in the `params` of a refused password's issue. */
type PasswordIssue = { help: string; warning: string | null; suggestions: string[] };
const NEW_RESET_LINK = [{ href: '/account/forgot-password', text: 'Ask for a new reset link' }];
/** An address worth a lookup: no whitespace or control character (PostgreSQL cannot compare a NUL). */
const EMAIL = /^[^\s@\x00-\x1f]{1,200}@[^\s@\x00-\x1f]{1,200}$/;
/** The sign-in a sign-up came from: only ever an interaction of ours, shown as a link. */
const returnToOf = (v: unknown) => (typeof v === 'string' && /^\/interaction\/[A-Za-z0-9_-]{1,128}\/$/.test(v) ? v : undefined);
const SIGN_UP_FIELDS = new Set(['name', 'email', 'password']);

/**
 * The account a reset link belongs to, read the way better-auth's /reset-password reads it (a
 * lookup, nothing consumed), so the new password is also checked against the user's own name
 * and address. Undefined for an unknown or expired link.
 */
async function resetTokenOwner(auth: Container['auth'], token: string): Promise<{ email: string; name: string } | undefined> {
  if (!token) return undefined;
  const { internalAdapter } = await auth.$context;
  const verification = await internalAdapter.findVerificationValue(`reset-password:${token}`);
  if (!verification || verification.expiresAt < new Date()) return undefined;
  return (await internalAdapter.findUserById(verification.value)) ?? undefined;
}

/**
 * Account self-service on the authz-server: sign-up (verified-account flow), email
 * verification landing page, forgotten and reset password. Every answer is the same whether
 * or not an address is registered. JSON bodies get JSON answers (for the marketplace UI).
 */
export function accountRoutes(c: Pick<Container, 'db' | 'auth' | 'mailer' | 'config' | 'logger' | 'audit' | 'storageFailures'>, limits: AuthzLimits): Router {
  const router = new Router({ prefix: '/account' });
  const body = koaBody({ limitBytes: 16 * 1024 });
  const signUp = createSignUp(c);
  const resendVerification = createResendVerification(c);
  accountSignInRoutes(router, c, limits);

  router.get('/sign-up', (ctx) => renderSignUp(ctx, { returnTo: returnToOf(ctx.query.return_to) }));
  router.post('/sign-up', limits.signUp, body, async (ctx) => {
    // The page's form also carries the layout's synchronizer token and the way back, which are not inputs.
    const { _csrf: _token, return_to: back, ...fields } = form(ctx);
    const returnTo = returnToOf(back);
    const parsed = signUpInput.safeParse(fields);
    if (!parsed.success) {
      const message = parsed.error.issues[0]?.message ?? 'Check the form.';
      const issue = parsed.error.issues.find((i) => i.code === 'custom' && i.path[0] === 'password');
      const refused = issue?.code === 'custom' ? (issue.params as PasswordIssue | undefined) : undefined;
      if (wantsJson(ctx)) {
        const details = refused ? { data: { field: 'password', warning: refused.warning, suggestions: refused.suggestions } } : {};
        return respond(ctx, appError(HttpErrors, 'VALIDATION_FAILED', { message, ...details }));
      }
      // Every field's first problem at once; anything else (an unknown field) for the summary.
      const errors: SignUpErrors = {};
      for (const i of parsed.error.issues) {
        const key = String(i.path[0] ?? '');
        const field = SIGN_UP_FIELDS.has(key) ? (key as keyof SignUpErrors) : 'form';
        errors[field] ??= i.message;
      }
      return renderSignUp(ctx, { name: str(form(ctx).name), email: str(form(ctx).email), errors, returnTo, ...(refused ? { passwordRefusal: refused.help } : {}) }, 400);
    }
    await signUp(parsed.data);
    // The same event whether the address was new or taken: the trail must not be an oracle either.
    c.audit.record('user.signed_up', { outcome: 'success', ...fromRequest(ctx), properties: { method: 'password', emailHash: parsed.data.email } });
    ctx.set('Cache-Control', 'no-store');
    if (wantsJson(ctx)) {
      ctx.status = 202;
      ctx.body = { status: 'verification_email_sent' };
      return;
    }
    // The same links for a new and a taken address.
    renderMessage(ctx, 'Check your email', SENT, 202, returnTo ? [{ href: returnTo, text: 'Continue signing in' }] : [SIGN_IN]);
  });

  router.get('/verified', (ctx) => {
    if (ctx.query.error) return renderRefusal(ctx, refusal(AccountErrors, 'CONFIRMATION_LINK_EXPIRED'), [{ href: '/account/confirm-email', text: 'Send a new confirmation link' }]);
    renderMessage(ctx, 'Email confirmed', 'Your email address is confirmed. You can now sign in.', 200, [SIGN_IN]);
  });

  // A new confirmation link: the same answer whether the address is unknown, confirmed or not.
  router.get('/confirm-email', (ctx) => renderConfirmEmail(ctx, {}));
  router.post('/confirm-email', body, async (ctx) => {
    const email = str(form(ctx).email).trim().toLowerCase();
    const refused = (r: Refusal) => renderConfirmEmail(ctx, { email, error: r.message }, r.status);
    if (!EMAIL.test(email)) return refused(refusal(AccountErrors, 'EMAIL_INVALID'));
    const wait = await limits.check(ctx, [['verify-mail:ip', ctx.ip], ['verify-mail:recipient', email]]);
    if (wait > 0) return refused(refusal(AccountErrors, 'MAIL_LIMITED', { wait }));
    await resendVerification(email);
    ctx.set('Cache-Control', 'no-store');
    if (wantsJson(ctx)) {
      ctx.status = 202;
      ctx.body = { status: 'verification_email_sent' };
      return;
    }
    renderMessage(ctx, 'Check your email', SENT, 202, [SIGN_IN]);
  });

  router.get('/forgot-password', (ctx) => renderForgot(ctx, {}));
  router.post('/forgot-password', body, async (ctx) => {
    const email = str(form(ctx).email).trim().toLowerCase();
    const refused = (r: Refusal) => renderForgot(ctx, { email, error: r.message }, r.status);
    if (!EMAIL.test(email)) return refused(refusal(AccountErrors, 'EMAIL_INVALID'));
    const wait = await limits.check(ctx, [['password-reset:ip', ctx.ip], ['password-reset:account', email]]);
    if (wait > 0) return refused(refusal(AccountErrors, 'MAIL_LIMITED', { wait }));
    await c.auth.api.requestPasswordReset({ body: { email, redirectTo: '/account/reset-password' } });
    c.audit.record('password.reset', { outcome: 'success', ...fromRequest(ctx), properties: { stage: 'requested', emailHash: email } });
    if (wantsJson(ctx)) {
      ctx.status = 202;
      ctx.body = { status: 'reset_email_sent' };
      return;
    }
    renderMessage(ctx, 'Check your email', SENT, 202, [SIGN_IN]);
  });

  router.get('/reset-password', (ctx) => {
    const token = str(ctx.query.token);
    if (!token || ctx.query.error) return renderRefusal(ctx, refusal(AccountErrors, 'RESET_LINK_EXPIRED'), NEW_RESET_LINK);
    renderReset(ctx, { token });
  });
  router.post('/reset-password', body, async (ctx) => {
    const token = str(form(ctx).token);
    const password = str(form(ctx).password);
    const expired = () => {
      c.audit.record('password.reset', { outcome: 'failure', ...fromRequest(ctx), properties: { stage: 'completed' } });
      renderRefusal(ctx, refusal(AccountErrors, 'RESET_LINK_EXPIRED'), NEW_RESET_LINK);
    };
    // The link first: the strength estimate is CPU work that only a link's holder may ask for.
    const owner = await resetTokenOwner(c.auth, token);
    if (!owner) return expired();
    const refused = checkPassword(password, owner);
    if (refused) return renderReset(ctx, { token, error: `The password ${refused.message}.`, passwordRefusal: describeRefusal(refused) }, 400);
    const res = await c.auth.api.resetPassword({ body: { token, newPassword: password }, asResponse: true });
    if (!res.ok) return expired();
    c.audit.record('password.reset', { outcome: 'success', ...fromRequest(ctx), properties: { stage: 'completed' } });
    renderMessage(ctx, 'Password changed', 'Your password is changed and you are signed out everywhere. Sign in with the new password.', 200, [SIGN_IN]);
  });

  return router;
}
