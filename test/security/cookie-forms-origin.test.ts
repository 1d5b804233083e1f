import { expect } from 'chai';
import { CONSENT_FORM, HttpBrowser, LOGIN_FORM, type Page } from '../helpers/http-browser.js';
import type { Service } from '../helpers/system.js';
import { authorize } from '../authz-server/oidc.flow.js';
import { PASSWORD, REDIRECT, describeEachBackend, setCookies, type Stack } from './stack.js';

/**
 * Threat: cross-site request forgery against the authz-server's pages (probe finding 4). The
 * session cookie is SameSite=Lax, which keeps it off cross-site POSTs — but not off posts from a
 * same-site sibling (another port of the host, a subdomain), nor from a browser that predates
 * SameSite. With the user's cookies and `Origin: http://evil.example`, sign-out-everywhere
 * answered 200 and consent `decision=allow` 303 with a code. Every page form a cookie
 * authenticates now goes through authz-server/pages/koa-form.ts: the issuer's Origin (or, when
 * the browser names none or `null`, `Sec-Fetch-Site: same-origin`) → else 403
 * ORIGIN_NOT_ALLOWED; and the form's synchronizer token (authz-server/pages/csrf.ts) → else
 * 403 CSRF_TOKEN_INVALID. better-auth's own JSON endpoints check Origin themselves.
 */
describeEachBackend('security: cookie-authenticated page forms must prove their origin', (stack) => {
  let s: Stack;
  let issuerPort: string;
  before(() => {
    s = stack();
    issuerPort = new URL(s.issuer).port;
  });

  /** A raw form post with `browser`'s cookies: only the headers and fields given (no Origin by default). */
  async function post(browser: HttpBrowser, path: string, fields: Record<string, string> | URLSearchParams, headers: Record<string, string> = {}) {
    const url = `${s.issuer}${path}`;
    const res = await fetch(url, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams(fields),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', cookie: await browser.jar.getCookieString(url), ...headers },
    });
    for (const c of res.headers.getSetCookie()) await browser.jar.setCookie(c, url, { ignoreError: true });
    return { status: res.status, location: res.headers.get('location'), text: await res.text(), headers: res.headers };
  }
  /** The synchronizer token of the page at `path`, as this browser sees it. */
  const tokenOf = (page: Page) => /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
  const accountToken = async (browser: HttpBrowser) => tokenOf(await browser.request(`${s.issuer}/account`));
  /** What a thief's replay of the session would see: the user, or null once it ended. */
  const sessionUser = async (browser: HttpBrowser) => {
    const res = await fetch(`${s.issuer}/api/auth/get-session`, { headers: { cookie: await browser.jar.getCookieString(s.issuer) } });
    return ((await res.json()) as { user?: { email: string } } | null)?.user?.email ?? null;
  };
  const refusedWith = (code: string) => ({ status: 403, code });
  const refusal = (r: { status: number; text: string }) => ({ status: r.status, code: /\((ORIGIN_NOT_ALLOWED|CSRF_TOKEN_INVALID)\)/.exec(r.text)?.[1] ?? r.text.slice(0, 200) });

  it('refuses sign-out-everywhere from an evil origin with 403 ORIGIN_NOT_ALLOWED (HTML and JSON) and the session lives on', async function () {
    this.timeout(60_000);
    await s.user('forms-evil@example.com');
    const victim = await s.signedIn('forms-evil@example.com');
    const _csrf = await accountToken(victim);
    const html = await post(victim, '/account/sign-out-everywhere', { _csrf }, { origin: 'http://evil.example' });
    expect(refusal(html)).to.deep.equal(refusedWith('ORIGIN_NOT_ALLOWED'));
    expect(html.headers.get('content-type')).to.match(/^text\/html/);
    const json = await post(victim, '/account/sign-out-everywhere', { _csrf }, { origin: 'http://evil.example', accept: 'application/json' });
    expect([json.status, (JSON.parse(json.text) as { error: { code: string } }).error.code]).to.deep.equal([403, 'ORIGIN_NOT_ALLOWED']);
    expect(await sessionUser(victim)).to.equal('forms-evil@example.com');
  });

  it('refuses same-site siblings: another port of the host, the same port under another name, another scheme', async function () {
    this.timeout(60_000);
    await s.user('forms-sibling@example.com');
    const victim = await s.signedIn('forms-sibling@example.com');
    const _csrf = await accountToken(victim);
    const siblings = [`http://127.0.0.1:${Number(issuerPort) + 1}`, 'http://127.0.0.1', `http://localhost:${issuerPort}`, `https://127.0.0.1:${issuerPort}`, `http://127.0.0.1:${issuerPort}.evil.example`];
    for (const origin of siblings) {
      expect(refusal(await post(victim, '/account/sign-out-everywhere', { _csrf }, { origin })), origin).to.deep.equal(refusedWith('ORIGIN_NOT_ALLOWED'));
    }
    expect(await sessionUser(victim)).to.equal('forms-sibling@example.com');
  });

  it('refuses a consent from an evil origin: no grant, no code, no redirect to the client', async function () {
    this.timeout(60_000);
    const userId = await s.user('forms-consent@example.com');
    const victim = new HttpBrowser();
    const { page } = await authorize(s.client, victim, { signIn: false, scope: 'openid' });
    const consent = await victim.submit(page, LOGIN_FORM, { email: 'forms-consent@example.com', password: PASSWORD }, new URL(s.issuer).origin);
    const action = new URL(CONSENT_FORM.exec(consent.text)![1]!, s.issuer).pathname;
    const evil = await post(victim, action, { _csrf: tokenOf(consent), decision: 'allow' }, { origin: 'http://evil.example' });
    expect([evil.status, evil.location]).to.deep.equal([403, null]);
    expect(refusal(evil)).to.deep.equal(refusedWith('ORIGIN_NOT_ALLOWED'));
    for (const model of ['Grant', 'AuthorizationCode']) expect(await s.count('oidc_models', { model, account_id: userId }), model).to.equal(0);
    // The interaction was live all along: the same consent from the issuer's page goes through.
    const own = await post(victim, action, { _csrf: tokenOf(consent), decision: 'allow' }, { origin: new URL(s.issuer).origin });
    const callback = await victim.follow({ ...own, url: `${s.issuer}${action}` } as Page, new URL(s.issuer).origin);
    expect(callback.location).to.match(new RegExp(`^${REDIRECT}\\?code=`));
  });

  it('refuses a post that names no origin, or null, unless the browser says Sec-Fetch-Site: same-origin', async function () {
    this.timeout(60_000);
    await s.user('forms-no-origin@example.com');
    const victim = await s.signedIn('forms-no-origin@example.com');
    const _csrf = await accountToken(victim);
    const cases: Record<string, string>[] = [{}, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { 'sec-fetch-site': 'none' }, { origin: 'null' }, { origin: 'null', 'sec-fetch-site': 'cross-site' }, { origin: 'null', 'sec-fetch-site': 'same-site' }];
    for (const headers of cases) {
      expect(refusal(await post(victim, '/account/sign-out-everywhere', { _csrf }, headers)), JSON.stringify(headers)).to.deep.equal(refusedWith('ORIGIN_NOT_ALLOWED'));
    }
    expect(await sessionUser(victim)).to.equal('forms-no-origin@example.com');
  });

  it('accepts Origin: null with Sec-Fetch-Site: same-origin (a no-referrer page\'s own form, as Chromium sends it), and no Origin with it', async function () {
    this.timeout(60_000);
    await s.user('forms-null@example.com');
    const victim = new HttpBrowser();
    const { page } = await authorize(s.client, victim, { signIn: false, scope: 'openid' });
    const consent = await victim.submit(page, LOGIN_FORM, { email: 'forms-null@example.com', password: PASSWORD }, new URL(s.issuer).origin);
    const action = new URL(CONSENT_FORM.exec(consent.text)![1]!, s.issuer).pathname;
    const allowed = await post(victim, action, { _csrf: tokenOf(consent), decision: 'allow' }, { origin: 'null', 'sec-fetch-site': 'same-origin' });
    expect(allowed.status).to.equal(303);
    const other = await s.signedIn('forms-null@example.com');
    const out = await post(other, '/account/sign-out', { _csrf: await accountToken(other) }, { 'sec-fetch-site': 'same-origin' });
    expect([out.status, /Signed out/.test(out.text)]).to.deep.equal([200, true]);
    expect(await sessionUser(other)).to.equal(null);
  });

  it('refuses the issuer\'s own origin without a valid synchronizer token: missing, forged, another browser\'s, or without its cookie', async function () {
    this.timeout(60_000);
    await s.user('forms-csrf@example.com');
    const victim = await s.signedIn('forms-csrf@example.com');
    const own = await accountToken(victim);
    const attacker = new HttpBrowser();
    const theirs = tokenOf(await attacker.request(`${s.issuer}/account/forgot-password`)); // a token of the attacker's own cookie secret
    const origin = new URL(s.issuer).origin;
    for (const [name, fields] of [['missing', {}], ['empty', { _csrf: '' }], ['forged', { _csrf: 'abc-0123456789' }], ['another browser\'s', { _csrf: theirs }], ['twice, the right one last', new URLSearchParams([['_csrf', theirs], ['_csrf', own]])]] as const) {
      expect(refusal(await post(victim, '/account/sign-out-everywhere', fields, { origin })), name).to.deep.equal(refusedWith('CSRF_TOKEN_INVALID'));
    }
    // The right token, but the request carries only the session cookie (not the signed secret).
    const sessionOnly = await fetch(`${s.issuer}/account/sign-out-everywhere`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams({ _csrf: own }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin, cookie: await s.sessionCookie(victim) },
    });
    expect(refusal({ status: sessionOnly.status, text: await sessionOnly.text() }), 'without the secret cookie').to.deep.equal(refusedWith('CSRF_TOKEN_INVALID'));
    const json = await post(victim, '/account/sign-out-everywhere', {}, { origin, accept: 'application/json' });
    expect([json.status, (JSON.parse(json.text) as { error: { code: string } }).error.code]).to.deep.equal([403, 'CSRF_TOKEN_INVALID']);
    expect(await sessionUser(victim)).to.equal('forms-csrf@example.com');
    // With its own token the same request goes through.
    expect((await post(victim, '/account/sign-out-everywhere', { _csrf: own }, { origin })).status).to.equal(200);
    expect(await sessionUser(victim)).to.equal(null);
  });

  it('guards every cookie-authenticated form of the sign-in pages and the account page', async function () {
    this.timeout(60_000);
    await s.user('forms-every@example.com');
    const victim = await s.signedIn('forms-every@example.com');
    const _csrf = await accountToken(victim);
    const { page } = await authorize(s.client, victim, { signIn: false, scope: 'openid', extra: { prompt: 'login' } });
    const uid = /\/interaction\/([^/"]+)\/login/.exec(page.text)![1]!;
    const victimId = (await s.db('user').where({ email: 'forms-every@example.com' }).first()).id as string;
    const codesBefore = await s.count('oidc_models', { model: 'AuthorizationCode', account_id: victimId }); // signedIn() redeemed one
    const forms: [string, Record<string, string>][] = [
      [`/interaction/${uid}/login`, { email: 'forms-every@example.com', password: PASSWORD }],
      [`/interaction/${uid}/totp`, { code: '000000' }],
      [`/interaction/${uid}/consent`, { decision: 'allow' }],
      [`/interaction/${uid}/switch-account`, {}],
      ['/account/2fa/enable', { password: PASSWORD }],
      ['/account/2fa/verify', { code: '000000' }],
      ['/account/2fa/disable', { password: PASSWORD }],
      ['/account/sessions/revoke', { id: 'x' }],
      ['/account/sign-out', {}],
      ['/account/sign-out-everywhere', {}],
    ];
    const origin = new URL(s.issuer).origin;
    for (const [path, fields] of forms) {
      expect(refusal(await post(victim, path, { _csrf, ...fields }, { origin: 'http://evil.example' })), `${path} evil origin`).to.deep.equal(refusedWith('ORIGIN_NOT_ALLOWED'));
      expect(refusal(await post(victim, path, fields, { origin })), `${path} no token`).to.deep.equal(refusedWith('CSRF_TOKEN_INVALID'));
    }
    expect(await sessionUser(victim)).to.equal('forms-every@example.com');
    // Codes are stored by account (they carry no interaction uid): none was issued by the refused posts.
    expect(await s.count('oidc_models', { model: 'AuthorizationCode', account_id: victimId })).to.equal(codesBefore);
  });

  it('leaves better-auth\'s own sign-out to its origin check: 403 INVALID_ORIGIN, MISSING_OR_NULL_ORIGIN without one; the session lives on', async function () {
    this.timeout(60_000);
    await s.user('forms-better-auth@example.com');
    const victim = await s.signedIn('forms-better-auth@example.com');
    const signOut = async (headers: Record<string, string>) => {
      const res = await fetch(`${s.issuer}/api/auth/sign-out`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: await s.sessionCookie(victim), ...headers }, body: '{}' });
      return [res.status, ((await res.json()) as { code?: string }).code];
    };
    expect(await signOut({ origin: 'http://evil.example' })).to.deep.equal([403, 'INVALID_ORIGIN']);
    expect(await signOut({ origin: `http://localhost:${issuerPort}` })).to.deep.equal([403, 'INVALID_ORIGIN']);
    expect(await signOut({})).to.deep.equal([403, 'MISSING_OR_NULL_ORIGIN']);
    expect(await sessionUser(victim)).to.equal('forms-better-auth@example.com');
  });

  describe('the secret cookie', () => {
    let https: Service;
    before(async function () {
      this.timeout(60_000);
      // A replica that believes it is served over https (behind TLS termination): same database.
      https = await s.env.startAuthz({ ISSUER_URL: 'https://login.portcullis.test' });
    });
    after(() => https?.stop());

    const csrfCookies = async (base: string) => setCookies((await fetch(`${base}/account/forgot-password`)).headers).filter((c) => c.name.includes('csrf'));

    it('is HttpOnly, SameSite=Strict, Path=/, host-only, signed', async () => {
      const cookies = await csrfCookies(s.issuer);
      expect(cookies.map((c) => c.name)).to.deep.equal(['portcullis.csrf', 'portcullis.csrf.sig']);
      for (const c of cookies) {
        expect(c.attrs, c.name).to.include({ httponly: true, samesite: 'strict', path: '/' });
        expect(c.attrs, c.name).not.to.have.property('domain');
      }
    });

    it('on https: __Host- prefix, Secure, HttpOnly, SameSite=Strict, Path=/ and no Domain (no sibling can toss one in)', async () => {
      const cookies = await csrfCookies(https.url);
      expect(cookies.map((c) => c.name)).to.deep.equal(['__Host-portcullis.csrf', '__Host-portcullis.csrf.sig']);
      for (const c of cookies) {
        expect(c.attrs, c.name).to.include({ secure: true, httponly: true, samesite: 'strict', path: '/' });
        expect(c.attrs, c.name).not.to.have.property('domain');
      }
    });
  });
});
