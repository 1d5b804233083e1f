import { expect } from 'chai';
import * as oidc from 'openid-client';
import { HttpBrowser, LOGIN_FORM, CONSENT_FORM, type Page } from '../helpers/http-browser.js';
import { startSystem, type System, type Backend } from '../helpers/system.js';
import { PG_URL, PG_SKIP_REASON } from '../helpers/services.js';
import { PASSWORD, REDIRECT, discover } from './oidc.flow.js';

const WEB_CALLBACK = 'https://web-rp.example/callback';
const STAY_SIGNED_IN = 'Stay signed in (keep access when you are away) <small>(offline_access)</small>';

/**
 * offline_access (OpenID Connect Core §11): a refresh token only with the person's consent on
 * this request's consent page. A native client sees that page on every authorization (RFC 8252
 * §8.6), so it needs no prompt=consent; a web client must send prompt=consent every time.
 */
function suite(backend: Backend) {
  describe(`offline_access and refresh tokens (${backend})`, function () {
    this.timeout(60_000);
    let env: System;
    let issuer: string;
    let native: oidc.Configuration;
    let web: oidc.Configuration;
    let n = 0;

    before(async () => {
      env = await startSystem({ backend, authz: 0 });
      issuer = (await env.startAuthz()).issuer;
      await env.createClient({ clientId: 'native-app', name: 'Native app', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access', 'listings:read'] });
      await env.createClient({ clientId: 'native-online', name: 'Online only', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'listings:read'] });
      const w = await env.createClient({ clientId: 'web-rp', name: 'Web RP', type: 'confidential', redirectUris: [WEB_CALLBACK], scopes: ['openid', 'offline_access'] });
      native = await discover(issuer, 'native-app');
      web = await oidc.discovery(new URL(issuer), 'web-rp', { client_secret: w.clientSecret, redirect_uris: [WEB_CALLBACK] }, oidc.ClientSecretBasic(w.clientSecret!), { execute: [oidc.allowInsecureRequests] });
    });
    after(() => env?.close());

    async function person(): Promise<string> {
      const email = `offline-${backend}-${++n}@example.com`;
      await env.createUser({ email, password: PASSWORD });
      return email;
    }

    /** The front channel with openid-client's defaults: no `prompt` unless given. */
    async function authorize(config: oidc.Configuration, browser: HttpBrowser, email: string, params: Record<string, string>, redirect = REDIRECT) {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: redirect, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, ...params });
      let page = await browser.get(url.href, issuer);
      if (LOGIN_FORM.test(page.text)) page = await browser.submit(page, LOGIN_FORM, { email, password: PASSWORD }, issuer);
      const consent: Page | undefined = CONSENT_FORM.test(page.text) ? page : undefined;
      if (consent) page = await browser.submit(page, CONSENT_FORM, { decision: 'allow' }, issuer);
      expect(page.location, page.text.slice(0, 300)).to.be.a('string');
      const tokens = await oidc.authorizationCodeGrant(config, new URL(page.location!), { pkceCodeVerifier: verifier, expectedState: state });
      return { tokens, consent };
    }

    it('a native client without prompt=consent gets a refresh token once the person allowed offline_access on the consent page', async () => {
      const email = await person();
      const { tokens, consent } = await authorize(native, new HttpBrowser(), email, { scope: 'openid offline_access listings:read' });
      expect(consent?.text).to.contain(STAY_SIGNED_IN);
      expect(tokens.refresh_token).to.be.a('string');
      const refreshed = await oidc.refreshTokenGrant(native, tokens.refresh_token!);
      expect(refreshed.refresh_token).to.be.a('string').and.not.equal(tokens.refresh_token);
    });

    it('also with prompt=login, and on a later request of the same session (the consent page is shown every time)', async () => {
      const email = await person();
      const browser = new HttpBrowser();
      const first = await authorize(native, browser, email, { scope: 'openid offline_access', prompt: 'login' });
      expect(first.consent?.text).to.contain(STAY_SIGNED_IN);
      expect(first.tokens.refresh_token).to.be.a('string');
      const again = await authorize(native, browser, email, { scope: 'openid offline_access' });
      expect(again.consent, 'consent page of the second request').not.to.equal(undefined);
      expect(again.tokens.refresh_token).to.be.a('string');
    });

    it('a native client that does not ask for offline_access gets no refresh token', async () => {
      const { tokens, consent } = await authorize(native, new HttpBrowser(), await person(), { scope: 'openid listings:read' });
      expect(consent?.text).not.to.contain('offline_access');
      expect(tokens.refresh_token).to.equal(undefined);
    });

    it('a native client not registered for offline_access gets no refresh token: not asked, or invalid_scope with prompt=consent', async () => {
      const online = await discover(issuer, 'native-online');
      const { tokens, consent } = await authorize(online, new HttpBrowser(), await person(), { scope: 'openid offline_access listings:read' });
      expect(consent?.text).not.to.contain('offline_access');
      expect(tokens.refresh_token).to.equal(undefined);
      // With prompt=consent oidc-provider keeps the scope, and checks it against the registration.
      const url = oidc.buildAuthorizationUrl(online, { redirect_uri: REDIRECT, scope: 'openid offline_access', prompt: 'consent', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256', state: 's' });
      const refused = await new HttpBrowser().get(url.href, issuer);
      expect(new URL(refused.location!).searchParams.get('error')).to.equal('invalid_scope');
    });

    it('Deny on the consent page gives nothing at all', async () => {
      const browser = new HttpBrowser();
      const url = oidc.buildAuthorizationUrl(native, { redirect_uri: REDIRECT, scope: 'openid offline_access', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256', state: 's' });
      let page = await browser.get(url.href, issuer);
      page = await browser.submit(page, LOGIN_FORM, { email: await person(), password: PASSWORD }, issuer);
      expect(page.text).to.contain(STAY_SIGNED_IN);
      page = await browser.submit(page, CONSENT_FORM, { decision: 'deny' }, issuer);
      expect(new URL(page.location!).searchParams.get('error')).to.equal('access_denied');
    });

    it('a web client gets a refresh token only with prompt=consent, even after an earlier consent to offline_access', async () => {
      const email = await person();
      const browser = new HttpBrowser();
      const without = await authorize(web, browser, email, { scope: 'openid offline_access' }, WEB_CALLBACK);
      expect(without.consent?.text, 'first consent').not.to.contain('offline_access');
      expect(without.tokens.refresh_token).to.equal(undefined);
      const withConsent = await authorize(web, browser, email, { scope: 'openid offline_access', prompt: 'consent' }, WEB_CALLBACK);
      expect(withConsent.consent?.text).to.contain(STAY_SIGNED_IN);
      expect(withConsent.tokens.refresh_token).to.be.a('string');
      const later = await authorize(web, browser, email, { scope: 'openid offline_access' }, WEB_CALLBACK);
      expect(later.consent, 'no consent page: nothing new is asked').to.equal(undefined);
      expect(later.tokens.refresh_token).to.equal(undefined);
    });
  });
}

suite('sqlite');
if (PG_URL) suite('pg');
else describe.skip(`offline_access and refresh tokens (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
