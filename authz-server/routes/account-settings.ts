import Router from '@koa/router';
import type { Context } from 'koa';
import QRCode from 'qrcode';
import { fromNodeHeaders } from 'better-auth/node';
import type { Container } from '#shared/container.js';
import { currentSession } from '#shared/auth/session.js';
import { renderAccount, renderEnrol } from '../pages/account-settings.js';
import { renderMessage, renderRefusal, SIGN_IN } from '../pages/message.js';
import { pendingTotpSetup, type TotpSetup } from '../accounts/totp-setup.js';
import { forgetSetup, rememberSetup, setupStartedHere } from './totp-setup-cookie.js';
import { koaForm } from '../pages/koa-form.js';
import { revokeAccount, tombstoneTtlS } from '../queries/oidc-models.js';
import { endBoundSessions } from '../queries/session-bindings.js';
import { deleteSessionsBefore, expireSession, findOwnSession } from '../queries/sessions.js';
import { fromRequest } from '#shared/audit/index.js';
import type { AuthzLimits } from '../rate-limits.js';
import { refusal, type Refusal } from '../forms/refusal.js';
import { AccountErrors } from '../accounts/errors.js';

const str = (ctx: Context, name: string) => {
  const v = (ctx.request as unknown as { body?: Record<string, unknown> }).body?.[name];
  return typeof v === 'string' ? v : '';
};

type Session = NonNullable<Awaited<ReturnType<typeof currentSession>>>;

/**
 * The signed-in account page: sessions (sign out one, this one, or everywhere), two-factor
 * enrolment with a QR code and backup codes, and disabling it with the password. Every form
 * is a same-origin POST with a synchronizer token (pages/koa-form.ts); every password or code
 * check counts against the sign-in buckets of the account and the address.
 */
export function accountSettingsRoutes(c: Pick<Container, 'auth' | 'config' | 'db' | 'audit' | 'changes'>, limits: AuthzLimits): Router {
  const router = new Router({ prefix: '/account' });
  const form = koaForm(c.config.authz.issuer, { limitBytes: 8 * 1024 });

  async function requireSession(ctx: Context) {
    const session = await currentSession(c.auth, c.config, ctx.req.headers);
    if (!session) {
      ctx.status = 303;
      ctx.redirect('/account/sign-in-required');
    }
    return session;
  }

  const backTo = c.config.frontendOrigins[0];
  const afterSignOut = [{ href: '/account/sign-in', text: 'Sign in again' }, ...(backTo ? [{ href: backTo, text: 'Back to the marketplace' }] : [])];

  async function show(ctx: Context, extra: { notice?: string; error?: string } = {}, status = 200) {
    const session = await requireSession(ctx);
    if (!session) return;
    const list = (await c.auth.api.listSessions({ headers: fromNodeHeaders(ctx.req.headers) })) as { id: string; userAgent?: string | null; createdAt: Date }[];
    renderAccount(ctx, {
      email: session.user.email,
      twoFactor: Boolean((session.user as { twoFactorEnabled?: boolean }).twoFactorEnabled),
      sessions: list.map((s) => ({ id: s.id, current: s.id === session.session.id, userAgent: s.userAgent ?? '', createdAt: new Date(s.createdAt) })),
      ...(backTo ? { backTo } : {}),
      ...extra,
    }, status);
  }

  /** The account page with a refusal from the catalog. */
  const refused = (ctx: Context, r: Refusal) => show(ctx, { error: r.message }, r.status);

  /** A password or code check: the sign-in buckets of this account and this address. */
  async function limited(ctx: Context, session: Session, kind: 'password' | 'code'): Promise<boolean> {
    const account: Parameters<AuthzLimits['check']>[1][number] = kind === 'password' ? ['sign-in:account', session.user.email.toLowerCase()] : ['totp:account', session.user.id];
    const wait = await limits.check(ctx, [['sign-in:ip', ctx.ip], account]);
    if (wait > 0) await refused(ctx, refusal(AccountErrors, 'SIGN_IN_LIMITED', { wait }));
    return wait > 0;
  }

  const NOTICES: Record<string, string> = { '2fa-on': 'Two-factor authentication is on.', '2fa-off': 'Two-factor authentication is off.', 'session-revoked': 'That session is signed out.' };
  router.get('/', (ctx) => show(ctx, { notice: NOTICES[String(ctx.query.notice)] }));
  // better-auth replaces the session when the second factor changes: continue on a fresh request.
  const done = (ctx: Context, notice: string) => {
    ctx.status = 303;
    ctx.redirect(`/account?notice=${notice}`);
  };
  router.get('/sign-in-required', (ctx) => renderRefusal(ctx, refusal(AccountErrors, 'SIGN_IN_REQUIRED'), [SIGN_IN]));

  const enrolPage = async (ctx: Context, setup: TotpSetup, refused?: Refusal) =>
    renderEnrol(ctx, { qrDataUrl: await QRCode.toDataURL(setup.totpUri), ...setup, ...(refused ? { error: refused.message } : {}) }, refused?.status ?? 200);

  router.post('/2fa/enable', form, async (ctx) => {
    const session = await requireSession(ctx);
    if (!session || (await limited(ctx, session, 'password'))) return;
    const res = await c.auth.api.enableTwoFactor({ body: { password: str(ctx, 'password') }, headers: fromNodeHeaders(ctx.req.headers), asResponse: true });
    if (!res.ok) return refused(ctx, refusal(AccountErrors, 'PASSWORD_INCORRECT'));
    const { totpURI, backupCodes } = (await res.json()) as { totpURI: string; backupCodes: string[] };
    rememberSetup(ctx, session.session.id);
    await enrolPage(ctx, { totpUri: totpURI, backupCodes });
  });

  router.post('/2fa/verify', form, async (ctx) => {
    const session = await requireSession(ctx);
    if (!session || (await limited(ctx, session, 'code'))) return;
    const startedAt = new Date();
    const res = await c.auth.api.verifyTOTP({ body: { code: str(ctx, 'code').trim() }, headers: fromNodeHeaders(ctx.req.headers), asResponse: true });
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    if (!res.ok) {
      // The same page again, with the setup read back from better-auth — only in the browser
      // and session that started it, within its time (routes/totp-setup-cookie.ts): a stolen
      // session alone cannot read a pending secret.
      const user = session.user as { id: string; email: string; twoFactorEnabled?: boolean };
      const setup = !user.twoFactorEnabled && setupStartedHere(ctx, session.session.id) ? await pendingTotpSetup(c.auth, user) : undefined;
      if (setup) return enrolPage(ctx, setup, refusal(AccountErrors, 'ENROLMENT_CODE_INVALID'));
      return refused(ctx, refusal(AccountErrors, 'ENROLMENT_RESTART'));
    }
    forgetSetup(ctx);
    // Sessions and tokens obtained with the password alone must not outlive the enrolment.
    // better-auth has just replaced this browser's session with a new one: keep only that
    // (revokeAccount ends every OpenID session of the account with them).
    const userId = session.user.id;
    await deleteSessionsBefore(c.db, userId, startedAt);
    await revokeAccount(c.db, userId, c.config.tokens);
    await c.changes.publish({ type: 'user.sessions_revoked', userId, at: Date.now() }); // their access tokens too, at every API replica
    c.audit.record('two_factor.enrolled', { outcome: 'success', actor: { userId }, ...fromRequest(ctx), properties: { method: 'totp' } });
    done(ctx, '2fa-on');
  });

  router.post('/2fa/disable', form, async (ctx) => {
    const session = await requireSession(ctx);
    if (!session || (await limited(ctx, session, 'password'))) return;
    const res = await c.auth.api.disableTwoFactor({ body: { password: str(ctx, 'password') }, headers: fromNodeHeaders(ctx.req.headers), asResponse: true });
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    if (!res.ok) return refused(ctx, refusal(AccountErrors, 'PASSWORD_INCORRECT'));
    done(ctx, '2fa-off');
  });

  // Session tokens never reach the page: the form names a session id, resolved here among
  // the caller's own sessions (someone else's id matches nothing). A session its owner ends
  // from here is one they do not trust: every grant obtained through it goes too, offline
  // access included.
  router.post('/sessions/revoke', form, async (ctx) => {
    const session = await requireSession(ctx);
    if (!session) return;
    const target = await findOwnSession(c.db, session.user.id, str(ctx, 'id'));
    if (!target) return refused(ctx, refusal(AccountErrors, 'OWN_SESSION_NOT_FOUND'));
    // Expire it first (no new grant through it from here on), then end what it holds, offline
    // access included, then delete it (the delete hook finds nothing left to do).
    await expireSession(c.db, target.id);
    const grants = await endBoundSessions(c.db, [target.id], { includeOffline: true, tombstoneExpiresAt: Date.now() + tombstoneTtlS(c.config.tokens) * 1000 });
    for (const grantId of grants) await c.changes.publish({ type: 'grant.revoked', grantId, at: Date.now() }); // their access tokens too
    await c.auth.api.revokeSession({ headers: fromNodeHeaders(ctx.req.headers), body: { token: target.token } });
    c.audit.record('session.revoked', { outcome: 'success', actor: { userId: session.user.id }, ...fromRequest(ctx), properties: { reason: 'user', count: 1 } });
    done(ctx, 'session-revoked');
  });

  router.post('/sign-out', form, async (ctx) => {
    const session = await requireSession(ctx);
    if (!session) return;
    const res = await c.auth.api.signOut({ headers: fromNodeHeaders(ctx.req.headers), asResponse: true });
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    c.audit.record('session.revoked', { outcome: 'success', actor: { userId: session.user.id }, ...fromRequest(ctx), properties: { reason: 'sign_out', count: 1 } });
    renderMessage(ctx, 'Signed out', 'You are signed out of Portcullis in this browser.', 200, afterSignOut);
  });

  router.post('/sign-out-everywhere', form, async (ctx) => {
    const session = await requireSession(ctx);
    if (!session) return;
    const headers = fromNodeHeaders(ctx.req.headers);
    // Sessions first: a sign-in racing this one cannot obtain a grant after the grants are gone.
    const res = await c.auth.api.revokeSessions({ headers, asResponse: true });
    const grants = await revokeAccount(c.db, session.user.id, c.config.tokens);
    await c.changes.publish({ type: 'user.sessions_revoked', userId: session.user.id, at: Date.now() }); // their access tokens too, at every API replica
    c.audit.record('session.revoked', { outcome: 'success', actor: { userId: session.user.id }, ...fromRequest(ctx), properties: { reason: 'sign_out_everywhere', count: grants } });
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    renderMessage(ctx, 'Signed out everywhere', 'Every session and every application token of your account has ended.', 200, afterSignOut);
  });

  return router;
}
