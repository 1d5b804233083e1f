import { expect } from 'chai';
import { adminHere } from '../helpers/admin.js';
import { createClientService } from '#authz/clients/service.js';
import type { ClientInput } from '#authz/clients/schema.js';
import { HttpBrowser, LOGIN_FORM, CONSENT_FORM, type Page } from '../helpers/http-browser.js';
import type { Service } from '../helpers/system.js';
import { authorize, tokenRequest } from '../authz-server/oidc.flow.js';
import { PASSWORD, REDIRECT, sharedStack, type Stack } from './stack.js';

/**
 * RFC 9700 (OAuth 2.0 Security BCP) requirements on the authorization server that the
 * per-threat files do not already cover, checked against the running authz-server:
 * §2.1 exact redirect URI matching and no open redirector at /auth, §4.12 303 (never 307)
 * after a POST carrying credentials, §4.16 clickjacking protection on every page, no CORS at
 * the authorization endpoint, §2.1.2 / §2.4 no implicit grant and no ROPC, §2.1 / RFC 8252
 * no http redirect URIs but a native app's loopback, and forwarded headers that only count
 * behind a proxy the operator trusts (TRUST_PROXY).
 */
const WEB_REDIRECT = 'https://rp.example/cb';
const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

describe('security: RFC 9700 authorization server requirements', function () {
  this.timeout(90_000);
  let s: Stack;

  before(async () => {
    s = await sharedStack();
    await s.user('rfc9700@example.com');
    await s.env.createClient({ clientId: 'rp-web', name: 'Web RP', type: 'confidential', redirectUris: [WEB_REDIRECT], scopes: ['openid'] });
  });

  const authUrl = (params: Record<string, string>) =>
    `${s.issuer}/auth?${new URLSearchParams({ client_id: 'rp-web', response_type: 'code', scope: 'openid', redirect_uri: WEB_REDIRECT, state: 'st', code_challenge: challenge, code_challenge_method: 'S256', ...params })}`;
  const raw = (url: string, init: RequestInit = {}) => fetch(url, { redirect: 'manual', ...init });

  function expectErrorPage(res: Response, what: string): void {
    expect(res.status, what).to.equal(400);
    expect(res.headers.get('location'), what).to.equal(null);
    expect(res.headers.get('content-type'), what).to.match(/^text\/html/);
  }

  describe('§2.1 redirect URIs', () => {
    it('matches the registered redirect URI exactly: any variant gets an error page, never a redirect', async () => {
      const variants = [
        'https://rp.example/cb/', 'https://rp.example/CB', 'https://RP.example/cb', 'https://rp.example:443/cb', 'https://rp.example:8443/cb',
        'http://rp.example/cb', 'https://rp.example/cb?next=x', 'https://rp.example/cb#x', 'https://rp.example/cb/../cb', 'https://rp.example/cb%2F..',
        'https://rp.example.evil.example/cb', 'https://evil.example/cb', 'https://rp.example@evil.example/cb', '//evil.example/cb',
      ];
      for (const redirect_uri of variants) expectErrorPage(await raw(authUrl({ redirect_uri })), redirect_uri);
      const exact = await raw(authUrl({}));
      expect(exact.status).to.equal(303);
      expect(new URL(exact.headers.get('location')!, s.issuer).pathname).to.match(/^\/interaction\//);
    });

    it('is no open redirector: unknown client, missing redirect_uri and bad parameters never send the browser to an unverified URI', async () => {
      expectErrorPage(await raw(authUrl({ client_id: 'no-such-client', redirect_uri: 'https://evil.example/cb' })), 'unknown client');
      const missing = new URL(authUrl({}));
      missing.searchParams.delete('redirect_uri');
      expectErrorPage(await raw(missing.href), 'missing redirect_uri');
      expectErrorPage(await raw(authUrl({ redirect_uri: 'https://evil.example/cb', response_type: 'token' })), 'implicit to an evil URI');
      expectErrorPage(await raw(authUrl({ redirect_uri: 'https://evil.example/cb', scope: 'unknown' })), 'bad scope to an evil URI');
    });

    /** Runs `admin clients:create` (the CLI's dispatcher, in this process). */
    async function cliCreate(...args: string[]) {
      const run = await adminHere(['clients:create', '--name', 'Probe', ...args], s.env.env);
      return { code: run.code, out: run.output };
    }

    it('refuses an http loopback redirect URI for a web client at registration (CLI)', async () => {
      const web = await cliCreate('--type', 'confidential', '--redirect-uri', 'http://localhost:8080/cb');
      expect(web.code, web.out).not.to.equal(0);
      expect(web.out).to.contain('web clients must use https');
    });

    it('refuses http redirect URIs at registration, but the loopback of a native app (clients service)', async () => {
      const clients = createClientService(s.db);
      const refused: [string, ClientInput][] = [
        ['web client, http', { name: 'x', type: 'confidential', redirectUris: ['http://rp.example/cb'] }],
        ['web client, http loopback', { name: 'x', type: 'confidential', redirectUris: ['http://127.0.0.1:8080/cb'] }],
        ['public web client, http loopback', { name: 'x', type: 'public', applicationType: 'web', redirectUris: ['http://localhost:3000/cb'] }],
        ['web client, http post-logout URI', { name: 'x', type: 'confidential', redirectUris: [WEB_REDIRECT], postLogoutRedirectUris: ['http://localhost/'] }],
        ['native client, http but not loopback', { name: 'x', type: 'public', redirectUris: ['http://agent.example/cb'] }],
      ];
      for (const [what, input] of refused) {
        const err = await clients.create(input).then(() => undefined, (e: { code?: string; status?: number }) => e);
        expect([err?.code, err?.status], what).to.deep.equal(['INVALID_CLIENT_METADATA', 400]);
      }
      for (const uri of ['http://127.0.0.1:9000/cb', 'http://[::1]/cb', 'http://localhost/cb']) {
        expect((await clients.create({ name: 'native', type: 'public', redirectUris: [uri] })).metadata.application_type, uri).to.equal('native');
      }
    });
  });

  describe('§4.12 no 307 after a POST carrying credentials', () => {
    it('answers every form POST of the sign-in flow (login, consent) with 303', async () => {
      const browser = new HttpBrowser();
      const statuses: string[] = [];
      const post = async (page: Page, form: RegExp, fields: Record<string, string>) => {
        const action = new URL(form.exec(page.text)![1]!.replace(/&amp;/g, '&'), page.url).toString();
        const res = await browser.request(action, { form: fields });
        statuses.push(`${new URL(action).pathname.replace(/\/interaction\/[^/]+/, '/interaction/:uid')} ${res.status}`);
        return browser.follow(res, s.issuer);
      };
      const { page: login } = await authorize(s.client, browser, { signIn: false });
      const consent = await post(login, LOGIN_FORM, { email: 'rfc9700@example.com', password: PASSWORD });
      const done = await post(consent, CONSENT_FORM, { decision: 'allow' });
      expect(new URL(done.location!).searchParams.get('code')).to.be.a('string');
      expect(statuses).to.deep.equal(['/interaction/:uid/login 303', '/interaction/:uid/consent 303']);
    });

    it('answers the account page\'s form POSTs with 303 as well', async () => {
      const laptop = await s.signedIn('rfc9700@example.com');
      await s.signedIn('rfc9700@example.com'); // a second session, to sign out from the first
      const page = await laptop.request(`${s.issuer}/account`);
      const id = /name="id" value="([^"]+)"/.exec(page.text)![1]!;
      const revoke = await laptop.request(`${s.issuer}/account/sessions/revoke`, { form: { id } });
      expect([revoke.status, revoke.location]).to.deep.equal([303, `${s.issuer}/account?notice=session-revoked`]);
    });
  });

  describe('§4.16 clickjacking', () => {
    it('forbids framing of every HTML page (CSP frame-ancestors \'none\' and X-Frame-Options)', async () => {
      const browser = await s.signedIn('rfc9700@example.com');
      const login = (await authorize(s.client, new HttpBrowser(), { signIn: false })).page;
      const consent = (await authorize(s.client, browser, { signIn: false })).page;
      expect(login.text).to.match(LOGIN_FORM);
      expect(consent.text).to.match(CONSENT_FORM);
      const pages: Page[] = [login, consent];
      for (const path of ['/account', '/account/sign-up', '/account/forgot-password', '/account/reset-password?token=x', '/account/sign-in-required', '/account/verified', '/session/end', '/session/end/success', '/interaction/not-a-real-uid']) {
        pages.push(await browser.request(`${s.issuer}${path}`));
      }
      pages.push(await browser.request(authUrl({ redirect_uri: 'https://evil.example/cb' })));
      pages.push(await new HttpBrowser().request(`${s.issuer}/account/sign-up`, { form: { name: 'F', email: 'frame@example.com', password: PASSWORD } }));
      for (const p of pages) {
        expect(p.headers.get('content-type'), p.url).to.match(/^text\/html/);
        expect(p.headers.get('content-security-policy'), p.url).to.match(/(^|;)\s*frame-ancestors 'none'\s*(;|$)/);
        expect(p.headers.get('x-frame-options'), p.url).to.equal('DENY');
      }
    });
  });

  describe('CORS', () => {
    it('never answers CORS at the authorization endpoint or on the pages, even for a public client\'s registered origin', async () => {
      const origin = new URL(REDIRECT).origin; // the agent's origin: CORS-allowed at /token
      const interaction = (await authorize(s.client, new HttpBrowser(), { signIn: false })).page.url;
      for (const url of [authUrl({}), `${s.issuer}/auth`, interaction, `${s.issuer}/account`, `${s.issuer}/account/sign-up`, `${s.issuer}/session/end`]) {
        const get = await raw(url, { headers: { origin } });
        expect(get.headers.get('access-control-allow-origin'), `GET ${url}`).to.equal(null);
        const preflight = await raw(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
        expect(preflight.headers.get('access-control-allow-origin'), `OPTIONS ${url}`).to.equal(null);
        expect(preflight.headers.get('access-control-allow-credentials'), `OPTIONS ${url}`).to.equal(null);
      }
      const token = await raw(`${s.issuer}/token`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      expect(token.headers.get('access-control-allow-origin'), 'control: /token does answer CORS').to.equal(origin);
    });

    it('refuses a cross-site JSON sign-in (better-auth origin check) without CORS headers', async () => {
      const res = await raw(`${s.issuer}/api/auth/sign-in/email`, { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/json' }, body: JSON.stringify({ email: 'rfc9700@example.com', password: PASSWORD }) });
      expect(res.status).to.equal(403);
      expect(res.headers.get('access-control-allow-origin')).to.equal(null);
      expect(res.headers.getSetCookie().filter((c) => /session_token=[^;]/.test(c))).to.deep.equal([]);
    });
  });

  describe('§2.1.2 / §2.4 no implicit grant, no resource owner password credentials', () => {
    it('advertises only the code flow and no password grant', async () => {
      const meta = (await (await fetch(`${s.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
      expect(meta.response_types_supported).to.deep.equal(['code']);
      expect(meta.grant_types_supported).not.to.include.members(['password']);
      expect(meta.grant_types_supported).not.to.include('implicit');
    });

    it('refuses grant_type=password at the token endpoint', async () => {
      const res = await tokenRequest(s.issuer, { grant_type: 'password', username: 'rfc9700@example.com', password: PASSWORD, client_id: 'agent', scope: 'openid' });
      expect([res.status, res.body.error]).to.deep.equal([400, 'unsupported_grant_type']);
    });

    it('refuses token response types: the client gets an error, never a token', async () => {
      for (const response_type of ['token', 'id_token token', 'code token', 'id_token']) {
        const res = await raw(`${s.issuer}/auth?${new URLSearchParams({ client_id: 'agent', response_type, scope: 'openid', redirect_uri: REDIRECT, state: 'st', nonce: 'n', code_challenge: challenge, code_challenge_method: 'S256' })}`);
        const location = res.headers.get('location') ?? '';
        expect(res.status, response_type).to.be.oneOf([303, 400]);
        expect(location, response_type).not.to.match(/access_token|id_token=/);
        if (res.status === 303) expect(new URL(location).searchParams.get('error') ?? new URLSearchParams(new URL(location).hash.slice(1)).get('error'), response_type).to.equal('unsupported_response_type');
      }
    });
  });

  describe('forwarded headers', () => {
    let trusting: Service;
    before(async () => {
      trusting = await s.env.startAuthz({ TRUST_PROXY: 'true' });
    });
    after(() => trusting?.stop());

    /** The client address a server recorded for one failed sign-in on its page (audit_log keeps the /24). */
    async function recordedIp(base: string, forwardedFor: string): Promise<string | null> {
      const browser = new HttpBrowser();
      const { page } = await authorize(s.client, browser, { signIn: false });
      const action = new URL(LOGIN_FORM.exec(page.text)![1]!, base).toString();
      const res = await fetch(action, {
        method: 'POST',
        redirect: 'manual',
        // The browser is on the issuer's origin whichever replica answers; the form carries its token.
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: s.issuer, cookie: await browser.jar.getCookieString(action), 'x-forwarded-for': forwardedFor, 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' },
        body: new URLSearchParams({ _csrf: /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!, email: 'rfc9700@example.com', password: 'wrong password 1234' }),
      });
      expect(res.status).to.equal(401);
      const requestId = res.headers.get('x-request-id');
      for (let i = 0; i < 60; i++) {
        const row = await s.db('audit_log').where({ request_id: requestId, event: 'sign_in.failed' }).first();
        if (row) return row.ip_prefix;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no audit row for request ${requestId}`);
    }

    it('ignores X-Forwarded-For/-Proto/-Host by default: the socket address counts and endpoints come from ISSUER_URL', async () => {
      expect(await recordedIp(s.authz.url, '203.0.113.7')).to.equal('127.0.0.0/24');
      const plain = await (await fetch(`${s.issuer}/.well-known/openid-configuration`)).json();
      const forged = await (await fetch(`${s.issuer}/.well-known/openid-configuration`, { headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', forwarded: 'host=evil.example;proto=https' } })).json();
      expect(forged).to.deep.equal(plain);
    });

    it('honours X-Forwarded-For only with TRUST_PROXY=true (the check above can tell)', async () => {
      expect(await recordedIp(trusting.url, '203.0.113.7')).to.equal('203.0.113.0/24');
    });

    it('with TRUST_PROXY=true takes the hop the proxy appended, not an address the client put in front of it', async () => {
      expect(await recordedIp(trusting.url, '198.51.100.9, 203.0.113.7')).to.equal('203.0.113.0/24');
    });
  });
});
