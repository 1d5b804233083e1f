import { expect } from 'chai';
import * as OTPAuth from 'otpauth';
import * as oidc from 'openid-client';
import { HttpBrowser } from '../helpers/http-browser.js';
import type { Service } from '../helpers/system.js';
import { authorize, tokenRequest } from '../authz-server/oidc.flow.js';
import { PASSWORD, REDIRECT, errorOf, setCookies, sharedStack, type Stack } from './stack.js';

/**
 * Threat: a phished or otherwise stolen better-auth session cookie (security page: "Phish a
 * user → steal a session cookie"). The cookie must be unreadable by scripts, not sent
 * cross-site, Secure on https, short-lived, dead once its owner signs out, and useless for an
 * account protected by a second factor.
 */
describe('security: stolen session cookie', function () {
  this.timeout(60_000);
  let s: Stack;
  let https: Service;
  const HTTPS_ISSUER = 'https://login.portcullis.test';

  before(async () => {
    s = await sharedStack();
    // A replica that believes it is served over https (behind TLS termination): same database.
    https = await s.env.startAuthz({ ISSUER_URL: HTTPS_ISSUER });
  });
  after(() => https?.stop());

  const signInJson = (base: string, origin: string, email: string, password = PASSWORD) =>
    fetch(`${base}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify({ email, password }) });
  const me = (cookie: string) => s.api('GET', '/v1/me', { cookie });

  it('is HttpOnly, SameSite=Lax, host-only, Path=/, with the 1 h idle lifetime; Secure with the __Host- prefix on https', async () => {
    await s.user('cookie-flags@example.com');
    const plain = setCookies((await signInJson(s.issuer, s.issuer, 'cookie-flags@example.com')).headers).find((c) => c.name.endsWith('session_token'))!;
    expect(plain.name).to.equal('portcullis.session_token');
    expect(plain.attrs).to.include({ httponly: true, samesite: 'Lax', path: '/', 'max-age': '3600' });
    expect(plain.attrs).not.to.have.property('domain');

    const res = await signInJson(https.url, HTTPS_ISSUER, 'cookie-flags@example.com');
    expect(res.status).to.equal(200);
    const secure = setCookies(res.headers).find((c) => c.name.endsWith('session_token'))!;
    expect(secure.name).to.equal('__Host-portcullis.session_token');
    expect(secure.attrs).to.include({ secure: true, httponly: true, samesite: 'Lax', path: '/', 'max-age': '3600' });
    expect(secure.attrs).not.to.have.property('domain');
    for (const c of setCookies(res.headers)) expect(c.attrs, c.name).to.include({ httponly: true });
    // Every cookie better-auth sets on https meets what browsers demand of a __Host- cookie.
    for (const c of setCookies(res.headers)) {
      expect(c.name, c.name).to.match(/^__Host-portcullis\./);
      expect(c.attrs, c.name).to.include({ secure: true, path: '/' });
      expect(c.attrs, c.name).not.to.have.property('domain');
    }
  });

  it('on https a sibling subdomain cannot plant a session: the same token under the __Secure- name it could set is no session', async () => {
    await s.user('cookie-planted@example.com');
    const res = await signInJson(https.url, HTTPS_ISSUER, 'cookie-planted@example.com');
    expect(res.status).to.equal(200);
    const own = setCookies(res.headers).find((c) => c.name === '__Host-portcullis.session_token')!;
    const session = async (cookie: string) => (await (await fetch(`${https.url}/api/auth/get-session`, { headers: { cookie, origin: HTTPS_ISSUER } })).json()) as { user?: { email: string } } | null;
    // A browser refuses `__Host-` from another host, or with a Domain attribute; it takes a
    // `__Secure-` cookie with Domain=parent from any sibling over https.
    expect((await session(`__Host-portcullis.session_token=${own.value}`))?.user?.email).to.equal('cookie-planted@example.com');
    expect(await session(`__Secure-portcullis.session_token=${own.value}`)).to.equal(null);
    expect(await session(`portcullis.session_token=${own.value}`)).to.equal(null);
  });

  it('sets the sign-in flow\'s own cookies HttpOnly and SameSite=Lax as well', async () => {
    const url = oidc.buildAuthorizationUrl(s.client, { redirect_uri: REDIRECT, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' });
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).to.equal(303);
    const cookies = setCookies(res.headers);
    expect(cookies.map((c) => c.name)).to.include('portcullis.interaction');
    for (const c of cookies) expect(c.attrs, c.name).to.include({ httponly: true, samesite: 'lax' });
  });

  it('dies when its owner signs out: the thief\'s copy is refused by the API and the authz-server', async () => {
    await s.user('victim-signout@example.com');
    const victim = await s.signedIn('victim-signout@example.com');
    const stolen = await s.sessionCookie(victim);
    expect((await me(stolen)).status).to.equal(200);
    const out = await victim.request(`${s.issuer}/api/auth/sign-out`, { method: 'POST', headers: { origin: s.issuer, accept: 'application/json' } });
    expect(out.status).to.equal(200);
    expect(errorOf(await me(stolen))).to.deep.equal([401, 'INVALID_SESSION']);
    const account = await fetch(`${s.issuer}/account`, { headers: { cookie: stolen }, redirect: 'manual' });
    expect([account.status, account.headers.get('location')]).to.deep.equal([303, '/account/sign-in-required']);
    const session = await fetch(`${s.issuer}/api/auth/get-session`, { headers: { cookie: stolen } });
    expect(await session.json()).to.equal(null);
    const user = await s.db('user').where({ email: 'victim-signout@example.com' }).first();
    expect(await s.count('session', { userId: user.id })).to.equal(0);
  });

  it('dies when its owner signs out everywhere from another device', async () => {
    await s.user('victim-everywhere@example.com');
    const stolen = await s.sessionCookie(await s.signedIn('victim-everywhere@example.com'));
    const phone = await s.signedIn('victim-everywhere@example.com');
    expect((await me(stolen)).status).to.equal(200);
    await phone.request(`${s.issuer}/account`); // the page with the form
    expect((await phone.request(`${s.issuer}/account/sign-out-everywhere`, { form: {} })).status).to.equal(200);
    expect(errorOf(await me(stolen))).to.deep.equal([401, 'INVALID_SESSION']);
  });

  it('expires after its idle lifetime and, however active, after its absolute lifetime', async () => {
    const userId = await s.user('expiring@example.com');
    const pg = s.env.config.db.client === 'pg';
    const at = (msAgo: number) => (pg ? new Date(Date.now() - msAgo) : new Date(Date.now() - msAgo).toISOString());

    const idle = await s.sessionCookie(await s.signedIn('expiring@example.com'));
    expect((await me(idle)).status).to.equal(200);
    await s.db('session').where({ userId }).update({ expiresAt: at(1000) }); // idle deadline passed
    expect(errorOf(await me(idle))).to.deep.equal([401, 'INVALID_SESSION']);

    const busy = await s.sessionCookie(await s.signedIn('expiring@example.com'));
    expect((await me(busy)).status).to.equal(200);
    await s.db('session').where({ userId }).update({ createdAt: at(12 * 3600 * 1000 + 60_000) }); // signed in 12 h 1 min ago, still "active"
    expect(errorOf(await me(busy))).to.deep.equal([401, 'INVALID_SESSION']);
    expect(await s.count('session', { userId })).to.equal(0);
  });

  describe('an account with two-factor authentication', () => {
    const EMAIL = 'two-factor-victim@example.com';
    let totp: OTPAuth.TOTP;
    let stolenBeforeEnrolment: string;
    let stolenFromOtherDevice: string;
    let refreshBeforeEnrolment: string;

    before(async () => {
      await s.user(EMAIL);
      const owner = await s.signedIn(EMAIL);
      stolenBeforeEnrolment = await s.sessionCookie(owner);
      stolenFromOtherDevice = await s.sessionCookie(await s.signedIn(EMAIL));
      refreshBeforeEnrolment = (await s.tokens(EMAIL, 'openid offline_access', owner)).refresh_token!;
      const enrol = await owner.request(`${s.issuer}/account/2fa/enable`, { form: { password: PASSWORD } });
      const uri = /id="otpauth" readonly value="([^"]+)"/.exec(enrol.text)?.[1]?.replace(/&amp;/g, '&');
      expect(uri, enrol.text.slice(0, 300)).to.match(/^otpauth:\/\/totp\//);
      totp = OTPAuth.URI.parse(uri!) as OTPAuth.TOTP;
      const verified = await owner.request(`${s.issuer}/account/2fa/verify`, { form: { code: totp.generate() } });
      expect([verified.status, verified.location]).to.deep.equal([303, `${s.issuer}/account?notice=2fa-on`]);
    });

    it('kills sessions and OAuth grants obtained with the password alone before enrolment', async () => {
      expect(errorOf(await me(stolenBeforeEnrolment))).to.deep.equal([401, 'INVALID_SESSION']);
      expect(errorOf(await me(stolenFromOtherDevice)), 'a session of another device').to.deep.equal([401, 'INVALID_SESSION']);
      const refresh = await tokenRequest(s.issuer, { grant_type: 'refresh_token', refresh_token: refreshBeforeEnrolment, client_id: 'agent' });
      expect([refresh.status, refresh.body.error]).to.deep.equal([400, 'invalid_grant']);
    });

    it('cannot be entered with the password alone through the sign-in page: no session, no code', async () => {
      const thief = new HttpBrowser();
      const { page, callback } = await authorize(s.client, thief, { email: EMAIL });
      expect(callback).to.equal(undefined);
      expect(page.status).to.equal(200);
      expect(page.text).to.match(/<form method="post" action="[^"]*\/totp"/);
      const uid = /\/interaction\/([^/"]+)\/totp/.exec(page.text)![1]!;
      const skip = await thief.request(`${s.issuer}/interaction/${uid}/consent`, { form: { decision: 'allow' } });
      expect([skip.status, skip.location]).to.deep.equal([400, null]);
      const wrong = await thief.request(`${s.issuer}/interaction/${uid}/totp`, { form: { code: '000000' } });
      expect([wrong.status, wrong.location]).to.deep.equal([401, null]);
      expect(wrong.text).to.contain('That code is not valid.');
      const cookie = (await thief.jar.getCookies(s.issuer)).map((c) => `${c.key}=${c.value}`).join('; ');
      expect(cookie).not.to.match(/session_token=[^;]/);
      expect(await (await fetch(`${s.issuer}/api/auth/get-session`, { headers: { cookie } })).json()).to.equal(null);
    });

    it('cannot be entered with the password alone through the JSON sign-in either', async () => {
      const res = await signInJson(s.issuer, s.issuer, EMAIL);
      expect(res.status).to.equal(200);
      expect(await res.json()).to.deep.include({ twoFactorRedirect: true });
      expect(setCookies(res.headers).filter((c) => c.name.endsWith('session_token') && c.value !== '')).to.deep.equal([]);
    });

    it('lets the owner in with the second factor (the check above is not just broken sign-in)', async () => {
      const owner = new HttpBrowser();
      const { page } = await authorize(s.client, owner, { email: EMAIL });
      const uid = /\/interaction\/([^/"]+)\/totp/.exec(page.text)![1]!;
      const next = await owner.request(`${s.issuer}/interaction/${uid}/totp`, { form: { code: totp.generate({ timestamp: Date.now() + 30_000 }) } });
      expect(next.status).to.equal(303);
      expect(await s.sessionCookie(owner)).to.match(/session_token=[^;]+/);
    });
  });
});
