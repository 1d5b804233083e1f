import { expect } from 'chai';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { HttpBrowser, LOGIN_FORM, CONSENT_FORM, type Page } from '../helpers/http-browser.js';
import { startSystem, type System, type Backend } from '../helpers/system.js';
import { PG_URL, PG_SKIP_REASON } from '../helpers/services.js';
import { PASSWORD, REDIRECT } from './oidc.flow.js';

const SIGNED_OUT = 'http://127.0.0.1:8765/signed-out';
const CLIENT = 'matrix-rp';

/**
 * A relying party built with openid-client 6 and nothing but its defaults — plus
 * `allowInsecureRequests`, because the issuer is loopback http here — against the real
 * authorization server: the person's part is walked with HttpBrowser (it runs no scripts, so the
 * pages that submit themselves are submitted by hand, with exactly their hidden fields).
 */
function suite(backend: Backend) {
  describe(`openid-client 6 relying party, defaults (${backend})`, function () {
    this.timeout(60_000);
    let env: System;
    let issuer: string;
    let rp: oidc.Configuration;
    let n = 0;

    before(async () => {
      env = await startSystem({ backend, authz: 0 });
      issuer = (await env.startAuthz()).issuer;
      await env.createClient({ clientId: CLIENT, name: 'Matrix RP', type: 'public', redirectUris: [REDIRECT], postLogoutRedirectUris: [SIGNED_OUT], scopes: ['openid', 'profile', 'email', 'offline_access', 'listings:read'] });
      rp = await oidc.discovery(new URL(issuer), CLIENT, { redirect_uris: [REDIRECT] }, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    });
    after(() => env?.close());

    async function person(): Promise<{ email: string; id: string }> {
      const email = `matrix-${backend}-${++n}@example.com`;
      return { email, id: await env.createUser({ email, password: PASSWORD, name: `Person ${n}` }) };
    }

    /** Hidden inputs of the first form on a page, as a browser would submit them. */
    function hiddenFields(page: Page): Record<string, string> {
      const fields: Record<string, string> = {};
      for (const m of page.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\s*\/?>/g)) fields[m[1]!] = m[2]!.replace(/&amp;/g, '&').replace(/&quot;/g, '"');
      return fields;
    }
    const formAction = (page: Page) => new URL(/<form[^>]*action="([^"]+)"/.exec(page.text)![1]!.replace(/&amp;/g, '&'), page.url).toString();

    /** The front channel: sign in (unless the session does), allow; the page the browser is left on. */
    async function authorize(browser: HttpBrowser, email: string, params: Record<string, string> = {}) {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: REDIRECT, scope: 'openid profile email offline_access', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, ...params });
      let page = await browser.get(url.href, issuer);
      if (LOGIN_FORM.test(page.text)) page = await browser.submit(page, LOGIN_FORM, { email, password: PASSWORD }, issuer);
      if (CONSENT_FORM.test(page.text)) page = await browser.submit(page, CONSENT_FORM, { decision: 'allow' }, issuer);
      return { page, verifier, state };
    }
    async function signedIn(browser: HttpBrowser, email: string, params: Record<string, string> = {}) {
      const { page, verifier, state } = await authorize(browser, email, params);
      expect(page.location, page.text.slice(0, 300)).to.match(/^http:\/\/127\.0\.0\.1:8765\/callback\?/);
      return oidc.authorizationCodeGrant(rp, new URL(page.location!), { pkceCodeVerifier: verifier, expectedState: state });
    }
    async function oauthError(p: Promise<unknown>): Promise<[number, string]> {
      const err = await p.then(() => undefined, (e: unknown) => e);
      expect(err, 'an OAuth error').to.be.instanceOf(oidc.ResponseBodyError);
      return [(err as oidc.ResponseBodyError).status, (err as oidc.ResponseBodyError).error];
    }

    it('code + PKCE, query response: the code comes back with state and iss (RFC 9207) and redeems once', async () => {
      const p = await person();
      const { page, verifier, state } = await authorize(new HttpBrowser(), p.email);
      const callback = new URL(page.location!);
      expect([callback.searchParams.get('state'), callback.searchParams.get('iss')]).to.deep.equal([state, issuer]);
      const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: state });
      expect(tokens.claims()).to.deep.include({ sub: p.id, iss: issuer, aud: CLIENT });
      expect(tokens.refresh_token, 'offline_access, allowed on the consent page').to.be.a('string');
      expect(await oauthError(oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: verifier, expectedState: state }))).to.deep.equal([400, 'invalid_grant']);
    });

    it('code + PKCE, form_post response: the page posts code, state and iss to the redirect URI; openid-client redeems the POSTed Request', async () => {
      const p = await person();
      const { page, verifier, state } = await authorize(new HttpBrowser(), p.email, { response_mode: 'form_post' });
      expect(page.status).to.equal(200);
      expect(formAction(page)).to.equal(REDIRECT);
      const fields = hiddenFields(page);
      expect(Object.keys(fields).sort()).to.deep.equal(['code', 'iss', 'state']);
      expect([fields.state, fields.iss]).to.deep.equal([state, issuer]);
      const request = new Request(REDIRECT, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
      const tokens = await oidc.authorizationCodeGrant(rp, request, { pkceCodeVerifier: verifier, expectedState: state });
      expect(tokens.claims()!.sub).to.equal(p.id);
    });

    it('userinfo: the opaque access token gives the consented claims for the same subject', async () => {
      const p = await person();
      const tokens = await signedIn(new HttpBrowser(), p.email);
      const info = await oidc.fetchUserInfo(rp, tokens.access_token, tokens.claims()!.sub);
      expect(info).to.deep.equal({ sub: p.id, name: `Person ${n}`, email: p.email, email_verified: true, 'marketplace:role': 'user' });
    });

    it('refresh rotates the refresh token; the old one is refused afterwards (and its reuse ends the grant)', async () => {
      const p = await person();
      const first = await signedIn(new HttpBrowser(), p.email);
      const second = await oidc.refreshTokenGrant(rp, first.refresh_token!);
      expect(second.refresh_token).to.be.a('string').and.not.equal(first.refresh_token);
      expect(second.claims()!.sub).to.equal(p.id);
      const third = await oidc.refreshTokenGrant(rp, second.refresh_token!);
      // `first` was rotated to `second`, which has been used since: reuse, not a lost answer's retry.
      expect(await oauthError(oidc.refreshTokenGrant(rp, first.refresh_token!))).to.deep.equal([400, 'invalid_grant']);
      expect(await oauthError(oidc.refreshTokenGrant(rp, third.refresh_token!)), 'reuse detection revoked the grant').to.deep.equal([400, 'invalid_grant']);
    });

    it('revocation (RFC 7009): a revoked refresh token no longer refreshes, a revoked access token no longer reaches userinfo', async () => {
      const p = await person();
      const tokens = await signedIn(new HttpBrowser(), p.email);
      await oidc.tokenRevocation(rp, tokens.access_token, { token_type_hint: 'access_token' });
      const err = await oidc.fetchUserInfo(rp, tokens.access_token, p.id).then(() => undefined, (e: oidc.WWWAuthenticateChallengeError) => e);
      expect([err?.status, err?.cause[0]?.parameters.error]).to.deep.equal([401, 'invalid_token']);
      await oidc.tokenRevocation(rp, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
      expect(await oauthError(oidc.refreshTokenGrant(rp, tokens.refresh_token!))).to.deep.equal([400, 'invalid_grant']);
    });

    it('RP-initiated logout with a session (buildEndSessionUrl): confirmation, back to the client with state, both sessions ended', async () => {
      const p = await person();
      const browser = new HttpBrowser();
      const tokens = await signedIn(browser, p.email);
      const end = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: SIGNED_OUT, state: 'bye' });
      const confirm = await browser.get(end.href, issuer);
      expect(confirm.status).to.equal(200);
      expect(confirm.text).to.contain('<h1>Sign out?</h1>');
      const fields = hiddenFields(confirm);
      expect(Object.keys(fields)).to.include('xsrf');
      const done = await browser.request(formAction(confirm), { form: { ...fields, logout: 'yes' } });
      const back = await browser.follow(done, issuer);
      expect(back.location).to.equal(`${SIGNED_OUT}?state=bye`);
      const session = await browser.request(`${issuer}/api/auth/get-session`, { headers: { accept: 'application/json' } });
      expect(JSON.parse(session.text)).to.equal(null);
      const silent = await authorize(browser, p.email, { prompt: 'none' });
      expect(new URL(silent.page.location!).searchParams.get('error')).to.equal('login_required');
    });

    it('RP-initiated logout without a session: the page posts itself to /session/end/confirm, then back to the client', async () => {
      const browser = new HttpBrowser();
      const end = oidc.buildEndSessionUrl(rp, { post_logout_redirect_uri: SIGNED_OUT, state: 'no-session' });
      const page = await browser.get(end.href, issuer);
      expect(page.status).to.equal(200);
      expect(formAction(page)).to.equal(`${issuer}/session/end/confirm`);
      const fields = hiddenFields(page);
      expect(Object.keys(fields).sort()).to.deep.equal(['logout', 'xsrf']);
      const back = await browser.follow(await browser.request(formAction(page), { form: fields }), issuer);
      expect(back.location).to.equal(`${SIGNED_OUT}?state=no-session`);
    });

    it('prompt=login signing in as B while A is signed in: A\'s session ends (logout form submitted by hand) and the code is B\'s', async () => {
      const a = await person();
      const b = await person();
      const browser = new HttpBrowser();
      expect((await signedIn(browser, a.email)).claims()!.sub).to.equal(a.id);
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(rp, { redirect_uri: REDIRECT, scope: 'openid email', prompt: 'login', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
      let page = await browser.get(url.href, issuer);
      expect(page.text).to.match(LOGIN_FORM);
      page = await browser.submit(page, LOGIN_FORM, { email: b.email, password: PASSWORD }, issuer);
      // oidc-provider ends A's OpenID session first, with a page that posts itself.
      expect(formAction(page)).to.equal(`${issuer}/session/end/confirm`);
      const fields = hiddenFields(page);
      expect(Object.keys(fields).sort()).to.deep.equal(['logout', 'xsrf']);
      page = await browser.follow(await browser.request(formAction(page), { form: fields }), issuer);
      expect(page.text).to.match(CONSENT_FORM);
      expect(page.text).to.contain(`Signed in as <strong>${b.email}</strong>`);
      page = await browser.submit(page, CONSENT_FORM, { decision: 'allow' }, issuer);
      const tokens = await oidc.authorizationCodeGrant(rp, new URL(page.location!), { pkceCodeVerifier: verifier, expectedState: state });
      expect(tokens.claims()!.sub).to.equal(b.id);
      expect((await oidc.fetchUserInfo(rp, tokens.access_token, b.id)).email).to.equal(b.email);
      expect(await env.db('oidc_models').where({ model: 'Session', account_id: a.id }).count({ n: '*' }).first()).to.deep.include({ n: backend === 'pg' ? '0' : 0 });
    });

    it('an API scope: the access token is the API\'s JWT and the ID token carries the consented claims', async () => {
      const p = await person();
      const tokens = await signedIn(new HttpBrowser(), p.email, { scope: 'openid profile email listings:read', resource: 'http://127.0.0.1:4999' });
      expect(decodeJwt(tokens.access_token)).to.deep.include({ aud: 'http://127.0.0.1:4999', scope: 'listings:read', sub: p.id, client_id: CLIENT });
      expect(tokens.claims()).to.deep.include({ sub: p.id, email: p.email, name: `Person ${n}` });
    });
  });
}

suite('sqlite');
if (PG_URL) suite('pg');
else describe.skip(`openid-client 6 relying party, defaults (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
