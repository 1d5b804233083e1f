import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { roles } from '#shared/auth/permissions.js';
import { apiContracts } from '#api/app.js';
import type { RouteContract } from '#api/http/contract.js';
import { tokenRequest } from '../authz-server/oidc.flow.js';
import { API_SCOPES, FRONTEND, errorOf, sharedStack, type Stack } from './stack.js';

/**
 * Threat: privilege escalation with a stale role (security page: "marketplace:role is in the ID
 * token (10h). A demoted user keeps admin access until refresh."). We took the page's second
 * mitigation: nothing trusts the role in a token; the API and better-auth read it from the
 * database on every request. An admin is demoted by another admin through better-auth's admin
 * API (their sessions stay, as with the operator CLI's users:set-role) and then replays the
 * unexpired access token, the ID token and the session cookie at every admin route.
 */
const FAKE_ID = '00000000-0000-4000-8000-000000000000';
const ROUTE = (c: RouteContract) => `${c.method.toUpperCase()} ${c.path}`;

describe('security: privilege escalation via a stale role claim', function () {
  this.timeout(90_000);
  let s: Stack;
  /** Every API route an admin may call and a plain user may not. */
  let adminRoutes: RouteContract[];
  let boss: { cookie: string };

  before(async () => {
    s = await sharedStack();
    adminRoutes = apiContracts({ db: s.db, config: s.env.config }).filter(
      (c) => typeof c.access === 'object' && roles.admin.authorize(c.access.permission as never).success && !roles.user.authorize(c.access.permission as never).success,
    );
    expect(adminRoutes.map(ROUTE)).to.include.members(['GET /v1/admin/audit', 'POST /v1/reviews/:id/hide']);
    await s.user('boss-admin@example.com', 'admin');
    boss = { cookie: await s.sessionCookie(await s.signedIn('boss-admin@example.com')) };
  });

  const call = (c: RouteContract, auth: { token?: string; cookie?: string }) =>
    // The marketplace UI's origin, as its browser sends with a cookie-authenticated write.
    s.api(c.method.toUpperCase(), c.path.replace(/:\w+/g, FAKE_ID), { ...auth, ...(c.body ? { json: {} } : {}), ...(auth.cookie ? { headers: { origin: FRONTEND } } : {}) });
  const sessionOnly = (c: RouteContract) => Object.entries((c.access as { permission: Record<string, string[]> }).permission).some(([r, as]) => as.some((a) => ['listing:suspend', 'review:moderate', 'audit:read'].includes(`${r}:${a}`)));

  async function admin(email: string) {
    await s.user(email, 'admin');
    const browser = await s.signedIn(email);
    const tokens = await s.tokens(email, `openid offline_access ${API_SCOPES}`, browser); // single sign-on: one password check
    // Every cookie the browser holds (a session cache cookie, if there were one, would go along).
    return { cookie: await browser.jar.getCookieString(s.issuer), accessToken: tokens.access_token, idToken: tokens.id_token!, refreshToken: tokens.refresh_token! };
  }

  async function expectRefusedEverywhere(who: { cookie?: string; accessToken: string; idToken: string }): Promise<void> {
    for (const c of adminRoutes) {
      if (who.cookie) expect(errorOf(await call(c, { cookie: who.cookie })), `${ROUTE(c)} with the session`).to.deep.equal([403, 'FORBIDDEN']);
      expect(errorOf(await call(c, { token: who.accessToken })), `${ROUTE(c)} with the access token`).to.deep.equal([403, sessionOnly(c) ? 'INSUFFICIENT_SCOPE' : 'FORBIDDEN']);
      expect(errorOf(await call(c, { token: who.idToken })), `${ROUTE(c)} with the ID token`).to.deep.equal([401, 'INVALID_TOKEN']);
    }
  }

  const listUsers = (cookie: string) => fetch(`${s.issuer}/api/auth/admin/list-users`, { headers: { cookie } });
  const setRole = (cookie: string, userId: string, role: string) =>
    fetch(`${s.issuer}/api/auth/admin/set-role`, { method: 'POST', headers: { cookie, origin: s.issuer, 'content-type': 'application/json' }, body: JSON.stringify({ userId, role }) });

  it('demoted by another admin: session, access token and ID token are refused at every admin route at once', async () => {
    const victim = await admin('stale-admin@example.com');
    const id = (await s.db('user').where({ email: 'stale-admin@example.com' }).first()).id as string;
    // Before: the guard lets the admin through on every route (whatever the handler says about the fake id).
    for (const c of adminRoutes) expect((await call(c, { cookie: victim.cookie })).status, ROUTE(c)).not.to.be.oneOf([401, 403]);
    expect((await listUsers(victim.cookie)).status).to.equal(200);

    expect((await setRole(boss.cookie, id, 'user')).status).to.equal(200);
    expect(decodeJwt(victim.idToken)['marketplace:role'], 'the stale claim is still in the ID token').to.equal('admin');
    await expectRefusedEverywhere(victim);
  });

  it('demoted: better-auth\'s own admin endpoints refuse the old session too, including promoting itself back', async () => {
    const victim = await admin('stale-admin-2@example.com');
    const id = (await s.db('user').where({ email: 'stale-admin-2@example.com' }).first()).id as string;
    expect((await setRole(boss.cookie, id, 'user')).status).to.equal(200);
    expect((await listUsers(victim.cookie)).status).to.equal(403);
    expect((await setRole(victim.cookie, id, 'admin')).status).to.equal(403);
    expect((await s.db('user').where({ id }).first()).role).to.equal('user');
  });

  it('a refreshed ID token carries the current role; the old one was never trusted', async () => {
    const victim = await admin('stale-admin-3@example.com');
    const id = (await s.db('user').where({ email: 'stale-admin-3@example.com' }).first()).id as string;
    expect((await setRole(boss.cookie, id, 'user')).status).to.equal(200);
    const refreshed = await tokenRequest(s.issuer, { grant_type: 'refresh_token', refresh_token: victim.refreshToken, client_id: 'agent' });
    expect(refreshed.status).to.equal(200);
    expect(decodeJwt(refreshed.body.id_token as string)['marketplace:role']).to.equal('user');
  });

});
