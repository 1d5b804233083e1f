import Router from '@koa/router';
import type { Context } from 'koa';
import QRCode from 'qrcode';
import { fromNodeHeaders } from 'better-auth/node';
import type { Container } from '#shared/container.js';
import { currentSession } from '#shared/auth/session.js';
import { koaBody } from '#shared/http/index.js';
import { renderAccount, renderEnrol } from '../pages/account-settings.js';
import { renderMessage } from '../pages/message.js';
import { revokeAccount } from '../queries/oidc-models.js';
import { fromRequest } from '#shared/audit/index.js';

const str = (ctx: Context, name: string) => {
  const v = (ctx.request as unknown as { body?: Record<string, unknown> }).body?.[name];
  return typeof v === 'string' ? v : '';
};

/**
 * The signed-in account page: sessions (sign out everywhere), two-factor enrolment with a QR
 * code and backup codes, and disabling it with the password. Forms are same-origin POSTs; the
 * session cookie is SameSite=Lax, so another site cannot submit them with it.
 */
export function accountSettingsRoutes(c: Pick<Container, 'auth' | 'config' | 'db' | 'audit'>): Router {
  const router = new Router({ prefix: '/account' });
  const body = koaBody({ limitBytes: 8 * 1024 });

  async function requireSession(ctx: Context) {
    const session = await currentSession(c.auth, c.config, ctx.req.headers);
    if (!session) {
      ctx.status = 303;
      ctx.redirect('/account/sign-in-required');
    }
    return session;
  }

  async function show(ctx: Context, extra: { notice?: string; error?: string } = {}) {
    const session = await requireSession(ctx);
    if (!session) return;
    const list = (await c.auth.api.listSessions({ headers: fromNodeHeaders(ctx.req.headers) })) as { id: string; token: string; userAgent?: string | null; createdAt: Date }[];
    renderAccount(ctx, {
      email: session.user.email,
      twoFactor: Boolean((session.user as { twoFactorEnabled?: boolean }).twoFactorEnabled),
      sessions: list.map((s) => ({ id: s.id, current: s.token === session.session.token, userAgent: s.userAgent ?? '', createdAt: new Date(s.createdAt) })),
      ...extra,
    });
  }

  const NOTICES: Record<string, string> = { '2fa-on': 'Two-factor authentication is on.', '2fa-off': 'Two-factor authentication is off.', 'session-revoked': 'That session is signed out.' };
  router.get('/', (ctx) => show(ctx, { notice: NOTICES[String(ctx.query.notice)] }));
  // better-auth replaces the session when the second factor changes: continue on a fresh request.
  const done = (ctx: Context, notice: string) => {
    ctx.status = 303;
    ctx.redirect(`/account?notice=${notice}`);
  };
  router.get('/sign-in-required', (ctx) => renderMessage(ctx, 'Sign in first', 'Sign in through an application to manage your account.', 401));

  router.post('/2fa/enable', body, async (ctx) => {
    if (!(await requireSession(ctx))) return;
    const res = await c.auth.api.enableTwoFactor({ body: { password: str(ctx, 'password') }, headers: fromNodeHeaders(ctx.req.headers), asResponse: true });
    if (!res.ok) return show(ctx, { error: 'Incorrect password.' });
    const { totpURI, backupCodes } = (await res.json()) as { totpURI: string; backupCodes: string[] };
    renderEnrol(ctx, { qrDataUrl: await QRCode.toDataURL(totpURI), totpUri: totpURI, backupCodes });
  });

  router.post('/2fa/verify', body, async (ctx) => {
    const session = await requireSession(ctx);
    if (!session) return;
    const startedAt = new Date();
    const res = await c.auth.api.verifyTOTP({ body: { code: str(ctx, 'code').trim() }, headers: fromNodeHeaders(ctx.req.headers), asResponse: true });
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    if (!res.ok) return show(ctx, { error: 'That code is not valid. Start the setup again.' });
    // Sessions and tokens obtained with the password alone must not outlive the enrolment.
    // better-auth has just replaced this browser's session with a new one: keep only that.
    const userId = session.user.id;
    await c.db('session').where({ userId }).andWhere('createdAt', '<', c.config.db.client === 'pg' ? startedAt : startedAt.toISOString()).del();
    await revokeAccount(c.db, userId, c.config.tokens);
    c.audit.record('two_factor.enrolled', { outcome: 'success', actor: { userId }, ...fromRequest(ctx), properties: { method: 'totp' } });
    done(ctx, '2fa-on');
  });

  router.post('/2fa/disable', body, async (ctx) => {
    if (!(await requireSession(ctx))) return;
    const res = await c.auth.api.disableTwoFactor({ body: { password: str(ctx, 'password') }, headers: fromNodeHeaders(ctx.req.headers), asResponse: true });
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    if (!res.ok) return show(ctx, { error: 'Incorrect password.' });
    done(ctx, '2fa-off');
  });

  // Session tokens never reach the page: the form names a session id, resolved here among
  // the caller's own sessions (someone else's id matches nothing).
  router.post('/sessions/revoke', body, async (ctx) => {
    const session = await requireSession(ctx);
    if (!session) return;
    const headers = fromNodeHeaders(ctx.req.headers);
    const list = (await c.auth.api.listSessions({ headers })) as { id: string; token: string }[];
    const target = list.find((s) => s.id === str(ctx, 'id'));
    if (!target) return show(ctx, { error: 'No such session.' });
    await c.auth.api.revokeSession({ headers, body: { token: target.token } });
    c.audit.record('session.revoked', { outcome: 'success', actor: { userId: session.user.id }, ...fromRequest(ctx), properties: { reason: 'user', count: 1 } });
    done(ctx, 'session-revoked');
  });

  router.post('/sign-out-everywhere', async (ctx) => {
    const session = await requireSession(ctx);
    if (!session) return;
    const headers = fromNodeHeaders(ctx.req.headers);
    const grants = await revokeAccount(c.db, session.user.id, c.config.tokens);
    c.audit.record('session.revoked', { outcome: 'success', actor: { userId: session.user.id }, ...fromRequest(ctx), properties: { reason: 'sign_out_everywhere', count: grants } });
    const res = await c.auth.api.revokeSessions({ headers, asResponse: true });
    for (const cookie of res.headers.getSetCookie()) ctx.append('Set-Cookie', cookie);
    renderMessage(ctx, 'Signed out everywhere', 'Every session and every application token of your account has ended.');
  });

  return router;
}
