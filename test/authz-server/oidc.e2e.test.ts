import { expect } from 'chai';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { HttpBrowser, LOGIN_FORM, CONSENT_FORM } from '../helpers/http-browser.js';
import { startSystem, type System, type Service, type Backend } from '../helpers/system.js';
import { PG_URL, PG_SKIP_REASON } from '../helpers/services.js';
import { REDIRECT, PASSWORD, authorize, discover, signedInTokens, tokenRequest } from './oidc.flow.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'status'];

function suite(backend: Backend) {
  describe(`OpenID provider end to end (${backend})`, function () {
    this.timeout(60_000);
    let env: System;
    let server: Service;
    let issuer: string;
    let config: oidc.Configuration;

    before(async () => {
      env = await startSystem({ backend, authz: 0 });
      server = await env.startAuthz();
      issuer = server.issuer;
      await env.createClient({ clientId: 'agent-cli', name: 'Agent CLI', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access', 'email', 'profile', 'listings:read', 'usage:report'] });
      await env.createUser({ email: 'alice@example.com', password: PASSWORD, name: 'Alice' });
      await env.createUser({ email: 'pat@example.com', password: PASSWORD, name: 'Pat', role: 'publisher' });
      config = await discover(issuer, 'agent-cli');
    });
    after(() => env?.close());

    /**
     * Whether the server still accepts an (opaque) access token, asked at userinfo. Introspection
     * tells a client about its own tokens only, and agent-cli is public (introspection.test.ts).
     */
    async function accepted(token: string): Promise<boolean> {
      return oidc.fetchUserInfo(config, token, oidc.skipSubjectCheck).then(
        () => true,
        (err: unknown) => {
          expect((err as oidc.WWWAuthenticateChallengeError).cause?.[0]?.parameters.error).to.equal('invalid_token');
          return false;
        },
      );
    }

    async function expectInvalidGrant(p: Promise<unknown>) {
      const err = await p.then(() => undefined, (e: unknown) => e);
      expect(err, 'expected an OAuth error').to.be.instanceOf(oidc.ResponseBodyError);
      expect((err as oidc.ResponseBodyError).error).to.equal('invalid_grant');
      expect((err as oidc.ResponseBodyError).status).to.equal(400);
    }

    describe('discovery and keys', () => {
      it('serves identical OpenID and RFC 8414 metadata advertising only what works', async () => {
        const a = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
        const b = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
        expect(b).to.deep.equal(a);
        expect(a.issuer).to.equal(issuer);
        expect(a.code_challenge_methods_supported).to.deep.equal(['S256']);
        expect(a.response_types_supported).to.deep.equal(['code']);
        expect(a.grant_types_supported).to.have.members(['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code']);
        // RFC 8628 §4: agents without a browser (docs/oauth.md).
        expect(a.device_authorization_endpoint).to.equal(`${issuer}/device/auth`);
        expect(a.authorization_response_iss_parameter_supported).to.equal(true);
        expect(a.id_token_signing_alg_values_supported).to.deep.equal(['RS256', 'ES256']);
        expect(a.dpop_signing_alg_values_supported).to.deep.equal(['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256']);
        expect(a).not.to.have.property('pushed_authorization_request_endpoint');
        // Agents join by themselves (docs/agents.md): RFC 7591 registration, metadata documents.
        expect(a.registration_endpoint).to.equal(`${issuer}/reg`);
        expect(a.client_id_metadata_document_supported).to.equal(true);
      });

      it('publishes a JWKS with unique kids and no private members', async () => {
        const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
        expect(jwks.keys.map((k) => k.kty).sort()).to.deep.equal(['EC', 'RSA']);
        const kids = jwks.keys.map((k) => k.kid);
        expect(new Set(kids).size).to.equal(kids.length);
        for (const k of jwks.keys) for (const m of PRIVATE_MEMBERS) expect(k, `member ${m}`).not.to.have.property(m);
      });
    });

    describe('authorization code + PKCE-S256 for a public client', () => {
      it('issues tokens; the ID token verifies against the JWKS and carries the role from the database', async () => {
        const browser = new HttpBrowser();
        const { callback } = await authorize(config, browser, { scope: 'openid offline_access email' });
        expect(callback!.searchParams.get('iss')).to.equal(issuer); // RFC 9207
        const tokens = await signedInTokens(config, new HttpBrowser(), { email: 'pat@example.com' });
        expect(tokens.token_type).to.match(/^bearer$/i);
        expect(tokens.refresh_token).to.be.a('string');
        const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: 'agent-cli' });
        expect(protectedHeader.alg).to.equal('RS256');
        expect(payload['marketplace:role']).to.equal('publisher');
        const info = await oidc.fetchUserInfo(config, tokens.access_token, payload.sub!);
        expect(info.sub).to.equal(payload.sub);
      });

      it('answers the token request with Cache-Control: no-store', async () => {
        const browser = new HttpBrowser();
        const { callback, verifier } = await authorize(config, browser);
        const res = await fetch(`${issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'authorization_code', code: callback!.searchParams.get('code')!, redirect_uri: REDIRECT, client_id: 'agent-cli', code_verifier: verifier }),
        });
        expect(res.status).to.equal(200);
        expect(res.headers.get('cache-control')).to.equal('no-store');
      });

      it('issues an RFC 9068 JWT access token for the API when API scopes are requested', async () => {
        const tokens = await signedInTokens(config, new HttpBrowser(), { scope: 'openid listings:read' });
        const header = decodeProtectedHeader(tokens.access_token);
        expect(header.typ).to.equal('at+jwt');
        const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: 'http://127.0.0.1:4999', typ: 'at+jwt' });
        expect(payload.scope).to.equal('listings:read');
        expect(payload.client_id).to.equal('agent-cli');
        expect(payload.exp! - payload.iat!).to.equal(600);
      });
    });

    describe('refresh tokens', () => {
      it('rotate on every use', async () => {
        const first = await signedInTokens(config, new HttpBrowser());
        const second = await oidc.refreshTokenGrant(config, first.refresh_token!);
        expect(second.refresh_token).to.be.a('string').and.not.equal(first.refresh_token);
        const third = await oidc.refreshTokenGrant(config, second.refresh_token!);
        expect(third.refresh_token).not.to.equal(second.refresh_token);
        expect(third.claims()!.sub).to.equal(first.claims()!.sub);
      });

      it('reuse of a consumed refresh token revokes the whole grant', async () => {
        const first = await signedInTokens(config, new HttpBrowser());
        const rotated = await oidc.refreshTokenGrant(config, first.refresh_token!);
        // The chain moves on (a retry of `first` before this would be a lost answer's retry: refresh-retry.test.ts).
        const latest = await oidc.refreshTokenGrant(config, rotated.refresh_token!);
        expect(await accepted(latest.access_token)).to.equal(true);
        await expectInvalidGrant(oidc.refreshTokenGrant(config, first.refresh_token!));
        await expectInvalidGrant(oidc.refreshTokenGrant(config, latest.refresh_token!));
        expect(await accepted(latest.access_token)).to.equal(false);
        expect(await accepted(rotated.access_token)).to.equal(false);
        expect(await accepted(first.access_token)).to.equal(false);
      });
    });

    describe('authorization codes', () => {
      it('are single use: a replay fails and revokes every token of the grant', async () => {
        const browser = new HttpBrowser();
        const { callback, verifier, state } = await authorize(config, browser);
        const tokens = await oidc.authorizationCodeGrant(config, callback!, { pkceCodeVerifier: verifier, expectedState: state });
        expect(await accepted(tokens.access_token)).to.equal(true);
        await expectInvalidGrant(oidc.authorizationCodeGrant(config, callback!, { pkceCodeVerifier: verifier, expectedState: state }));
        expect(await accepted(tokens.access_token)).to.equal(false);
        await expectInvalidGrant(oidc.refreshTokenGrant(config, tokens.refresh_token!));
      });

      it('are refused without the verifier or with a wrong one', async () => {
        const { callback } = await authorize(config, new HttpBrowser());
        const code = callback!.searchParams.get('code')!;
        const base = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'agent-cli' };
        const missing = await tokenRequest(issuer, base);
        expect(missing.status).to.equal(400);
        expect(missing.body.error).to.be.oneOf(['invalid_grant', 'invalid_request']);
        const wrong = await tokenRequest(issuer, { ...base, code_verifier: oidc.randomPKCECodeVerifier() });
        expect(wrong).to.deep.include({ status: 400 });
        expect(wrong.body.error).to.equal('invalid_grant');
      });

      it('cannot be redeemed by another client', async () => {
        await env.createClient({ clientId: `other-${backend}`, name: 'Other', type: 'public', redirectUris: [REDIRECT], scopes: ['openid'] });
        const { callback, verifier } = await authorize(config, new HttpBrowser());
        const res = await tokenRequest(issuer, { grant_type: 'authorization_code', code: callback!.searchParams.get('code')!, redirect_uri: REDIRECT, client_id: `other-${backend}`, code_verifier: verifier });
        expect(res.status).to.equal(400);
        expect(res.body.error).to.equal('invalid_grant');
      });
    });

    describe('PKCE and redirect URI policy at /auth', () => {
      const authUrl = (params: Record<string, string>) =>
        `${issuer}/auth?${new URLSearchParams({ client_id: 'agent-cli', response_type: 'code', scope: 'openid', redirect_uri: REDIRECT, state: 's1', ...params })}`;

      it('rejects a missing code_challenge and the plain method', async () => {
        for (const params of [{}, { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }] as Record<string, string>[]) {
          const res = await new HttpBrowser().request(authUrl(params));
          expect(res.status).to.equal(303);
          const cb = new URL(res.location!);
          expect(cb.origin + cb.pathname).to.equal(REDIRECT);
          expect(cb.searchParams.get('error')).to.equal('invalid_request');
          expect(cb.searchParams.get('state')).to.equal('s1');
        }
      });

      it('shows an error page and never redirects for an unregistered or modified redirect_uri', async () => {
        for (const redirect_uri of ['https://evil.example/callback', `${REDIRECT}/extra`, `${REDIRECT}?x=1`, 'http://127.0.0.1:8765/Callback']) {
          const res = await new HttpBrowser().request(authUrl({ redirect_uri, code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }));
          expect(res.status, redirect_uri).to.equal(400);
          expect(res.location, redirect_uri).to.equal(null);
          expect(res.headers.get('content-type')).to.match(/^text\/html/);
          expect(res.headers.get('content-security-policy')).to.contain("frame-ancestors 'none'");
        }
      });

      it('accepts a loopback redirect on another port for a native client (RFC 8252 §7.3)', async () => {
        const res = await new HttpBrowser().request(authUrl({ redirect_uri: 'http://127.0.0.1:9999/callback', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' }));
        expect(res.status).to.equal(303);
        expect(new URL(res.location!).pathname).to.match(/^\/interaction\//);
      });

      it('answers prompt=none without a session with login_required', async () => {
        const { callback } = await authorize(config, new HttpBrowser(), { extra: { prompt: 'none' }, signIn: false });
        expect(callback!.searchParams.get('error')).to.equal('login_required');
      });
    });

    describe('sessions', () => {
      it('signs a returning user in without the form, unless prompt=login or max_age demand it', async () => {
        const browser = new HttpBrowser();
        await signedInTokens(config, browser);
        // Signed in already: straight to consent, no login form. (Native clients are asked for
        // consent every time, RFC 8252 §8.6, so prompt=none answers interaction_required.)
        const sso = await authorize(config, browser, { signIn: false });
        expect(sso.page.text).to.match(CONSENT_FORM);
        expect(sso.page.text).not.to.match(LOGIN_FORM);
        const silent = await authorize(config, browser, { signIn: false, extra: { prompt: 'none' } });
        expect(silent.callback!.searchParams.get('error')).to.equal('interaction_required');
        const relogin = await authorize(config, browser, { signIn: false, extra: { prompt: 'login' } });
        expect(relogin.page.status).to.equal(200);
        expect(relogin.page.text).to.match(LOGIN_FORM);
        await new Promise((r) => setTimeout(r, 2100)); // auth_time has 1 s resolution
        const aged = await authorize(config, browser, { signIn: false, extra: { max_age: '1' } });
        expect(aged.page.text, aged.page.text.replace(/<style[^]*<\/style>/, '').slice(0, 600)).to.match(LOGIN_FORM);
      });

      it('shows one message for an unknown email and a wrong password', async () => {
        const pages = [];
        for (const email of ['nobody@example.com', 'alice@example.com']) {
          const { page } = await authorize(config, new HttpBrowser(), { signIn: false });
          const browser = new HttpBrowser();
          const start = await authorize(config, browser, { signIn: false });
          const res = await browser.submit(start.page, LOGIN_FORM, { email, password: 'wrong password 123' }, new URL(issuer).origin);
          expect(page.status).to.equal(200);
          pages.push({ status: res.status, error: /role="alert"[^>]*>([^<]*)</.exec(res.text)?.[1] });
        }
        expect(pages[0]).to.deep.equal({ status: 401, error: 'Incorrect email or password.' });
        expect(pages[1]).to.deep.equal(pages[0]);
      });

      it('Deny at the consent page returns access_denied to the client', async () => {
        const browser = new HttpBrowser();
        const first = await authorize(config, browser, { signIn: false });
        const consent = await browser.submit(first.page, LOGIN_FORM, { email: 'alice@example.com', password: PASSWORD }, new URL(issuer).origin);
        expect(consent.text).to.match(CONSENT_FORM);
        expect(consent.text).to.contain('>Allow<').and.to.contain('>Deny<');
        const denied = await browser.submit(consent, CONSENT_FORM, { decision: 'deny' }, new URL(issuer).origin);
        expect(new URL(denied.location!).searchParams.get('error')).to.equal('access_denied');
      });

      it('RP-initiated logout ends the OpenID session and the better-auth session', async () => {
        const browser = new HttpBrowser();
        const tokens = await signedInTokens(config, browser);
        const before = await browser.request(`${issuer}/api/auth/get-session`, { headers: { accept: 'application/json' } });
        expect(JSON.parse(before.text)?.user?.email).to.equal('alice@example.com');
        const endUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: '' });
        endUrl.searchParams.delete('post_logout_redirect_uri');
        const confirm = await browser.get(endUrl.href, new URL(issuer).origin);
        const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.text)?.[1];
        expect(xsrf, confirm.text.slice(0, 300)).to.be.a('string');
        const done = await browser.get((await browser.request(`${issuer}/session/end/confirm`, { form: { xsrf: xsrf!, logout: 'yes' } })).location ?? `${issuer}/session/end/success`, new URL(issuer).origin);
        expect(done.status).to.equal(200);
        const after = await browser.request(`${issuer}/api/auth/get-session`, { headers: { accept: 'application/json' } });
        expect(JSON.parse(after.text)).to.equal(null);
        const silent = await authorize(config, browser, { signIn: false, extra: { prompt: 'none' } });
        expect(silent.callback!.searchParams.get('error')).to.equal('login_required');
      });
    });

    describe('HTTP surface', () => {
      const tokenPost = (origin: string) =>
        fetch(`${issuer}/token`, { method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: 'agent-cli' }) });

      it('allows CORS at the token endpoint only for a public client\'s registered origin', async () => {
        const allowed = await tokenPost('http://127.0.0.1:8765');
        expect(allowed.headers.get('access-control-allow-origin')).to.equal('http://127.0.0.1:8765');
        const refused = await tokenPost('https://evil.example');
        expect(refused.headers.get('access-control-allow-origin')).to.equal(null);
      });

      it('never sends CORS headers from the authorization endpoint', async () => {
        const res = await fetch(`${issuer}/auth?client_id=agent-cli`, { headers: { origin: 'http://127.0.0.1:8765' }, redirect: 'manual' });
        expect(res.headers.get('access-control-allow-origin')).to.equal(null);
      });

      it('builds every endpoint from ISSUER_URL, whatever X-Forwarded-* says', async () => {
        const plain = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
        const forged = await (await fetch(`${issuer}/.well-known/openid-configuration`, { headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } })).json();
        expect(forged).to.deep.equal(plain);
      });

      it('renders the sign-in page with real labels, a nonce-only CSP and no framing', async () => {
        const { page } = await authorize(config, new HttpBrowser(), { signIn: false });
        expect(page.status).to.equal(200);
        expect(page.text).to.contain('<label for="email">Email</label>').and.to.contain('<label for="password">Password</label>');
        expect(page.text).to.contain('<button type="submit">Sign in</button>');
        expect(page.text).not.to.contain('<script');
        const csp = page.headers.get('content-security-policy')!;
        expect(csp).to.match(/style-src 'nonce-[A-Za-z0-9+/=]+'/);
        expect(csp).to.contain("frame-ancestors 'none'");
        expect(csp).not.to.contain('unsafe-inline');
        expect(page.headers.get('cache-control')).to.equal('no-store');
      });

      it('redirects after the sign-in form with 303, never 307 (RFC 9700 §4.12)', async () => {
        const browser = new HttpBrowser();
        const { page } = await authorize(config, browser, { signIn: false });
        const action = new URL(LOGIN_FORM.exec(page.text)![1]!, issuer).toString();
        const res = await browser.request(action, { form: { email: 'alice@example.com', password: PASSWORD } });
        expect(res.status).to.equal(303);
      });
    });

    describe('tokens follow the database and the client', () => {
      it('a refreshed ID token carries the current role', async () => {
        await env.createUser({ email: `rolly-${backend}@example.com`, password: PASSWORD });
        const tokens = await signedInTokens(config, new HttpBrowser(), { email: `rolly-${backend}@example.com` });
        expect(tokens.claims()!['marketplace:role']).to.equal('user');
        await env.db('user').where({ email: `rolly-${backend}@example.com` }).update({ role: 'publisher' });
        const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
        expect(refreshed.claims()!['marketplace:role']).to.equal('publisher');
      });

      it('a banned user gets no more tokens: the next refresh fails', async () => {
        await env.createUser({ email: `banned-${backend}@example.com`, password: PASSWORD });
        const tokens = await signedInTokens(config, new HttpBrowser(), { email: `banned-${backend}@example.com` });
        await env.db('user').where({ email: `banned-${backend}@example.com` }).update({ banned: true });
        await expectInvalidGrant(oidc.refreshTokenGrant(config, tokens.refresh_token!));
      });

      it('signs ID tokens with ES256 for a client that asks for it', async () => {
        await env.createClient({ clientId: `es-${backend}`, name: 'ES client', type: 'public', redirectUris: [REDIRECT], scopes: ['openid'], idTokenAlg: 'ES256' });
        const es = await discover(issuer, `es-${backend}`);
        const tokens = await signedInTokens(es, new HttpBrowser(), { scope: 'openid' });
        const { protectedHeader } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: `es-${backend}` });
        expect(protectedHeader.alg).to.equal('ES256');
      });

      it('revokes a refresh token at the revocation endpoint (RFC 7009)', async () => {
        const tokens = await signedInTokens(config, new HttpBrowser());
        await oidc.tokenRevocation(config, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
        await expectInvalidGrant(oidc.refreshTokenGrant(config, tokens.refresh_token!));
      });

      it('refuses introspection to public clients and accepts client_secret_post', async () => {
        const tokens = await signedInTokens(config, new HttpBrowser());
        expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).to.equal(false);
        const post = await env.createClient({ clientId: `post-${backend}`, name: 'Post', type: 'confidential', authMethod: 'client_secret_post', redirectUris: ['https://p.example/cb'], scopes: ['listings:read'], clientCredentials: true });
        const rs = await discover(issuer, post.clientId, oidc.ClientSecretPost(post.clientSecret!), post.clientSecret);
        // Its own token (RFC 7662 §4: a client learns about its own tokens only; another's is inactive).
        const { access_token: ownToken } = await oidc.clientCredentialsGrant(rs);
        expect((await oidc.tokenIntrospection(rs, ownToken)).active).to.equal(true);
        expect((await oidc.tokenIntrospection(rs, tokens.access_token)).active).to.equal(false);
        const wrong = await discover(issuer, post.clientId, oidc.ClientSecretPost('not-the-secret'), 'not-the-secret');
        const err = await oidc.tokenIntrospection(wrong, ownToken).then(() => undefined, (e: oidc.ResponseBodyError) => e);
        expect(err?.error).to.equal('invalid_client');
      });
    });

    describe('client credentials', () => {
      it('authenticates a client with private_key_jwt against its registered public keys', async () => {
        const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
        const jwk = { ...(await exportJWK(publicKey)), kty: 'EC', kid: 'client-key-1', alg: 'ES256', use: 'sig' };
        await env.createClient({ clientId: `pkjwt-${backend}`, name: 'Key client', type: 'confidential', authMethod: 'private_key_jwt', jwks: { keys: [jwk] }, redirectUris: ['https://k.example/cb'], scopes: ['listings:read'], clientCredentials: true });
        const withKey = (key: oidc.CryptoKey) => oidc.discovery(new URL(issuer), `pkjwt-${backend}`, {}, oidc.PrivateKeyJwt({ key, kid: 'client-key-1' }), { execute: [oidc.allowInsecureRequests] });
        const tokens = await oidc.clientCredentialsGrant(await withKey(privateKey), { scope: 'listings:read', resource: 'http://127.0.0.1:4999' });
        expect(decodeJwt(tokens.access_token).client_id).to.equal(`pkjwt-${backend}`);
        const other = await generateKeyPair('ES256');
        const err = await oidc.clientCredentialsGrant(await withKey(other.privateKey), { scope: 'listings:read', resource: 'http://127.0.0.1:4999' }).then(() => undefined, (e: oidc.ResponseBodyError) => e);
        expect(err?.error).to.equal('invalid_client');
      });

      it('issues an API token to a confidential client that is allowed the grant', async () => {
        const m2m = await env.createClient({ clientId: `m2m-${backend}`, name: 'Batch job', type: 'confidential', redirectUris: ['https://m2m.example/cb'], scopes: ['listings:read'], clientCredentials: true });
        const cc = await discover(issuer, m2m.clientId, oidc.ClientSecretBasic(m2m.clientSecret!), m2m.clientSecret);
        const tokens = await oidc.clientCredentialsGrant(cc, { scope: 'listings:read', resource: 'http://127.0.0.1:4999' });
        const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: 'http://127.0.0.1:4999' });
        expect(payload.client_id).to.equal(m2m.clientId);
        expect(payload.sub).to.equal(m2m.clientId);
      });
    });

    describe('metrics', () => {
      it('counts token issuance by grant type, reuse detections and requests by route pattern', async () => {
        const text = await (await fetch(`${server.url}/metrics`)).text();
        const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
        expect(value(/^oauth_tokens_issued_total\{grant_type="authorization_code",service="authz-server"\} (\d+)/m)).to.be.greaterThan(5);
        expect(value(/^oauth_tokens_issued_total\{grant_type="refresh_token",service="authz-server"\} (\d+)/m)).to.be.greaterThan(2);
        expect(value(/^oauth_reuse_detected_total\{kind="refresh_token",service="authz-server"\} (\d+)/m)).to.be.greaterThan(0);
        expect(value(/^oauth_reuse_detected_total\{kind="authorization_code",service="authz-server"\} (\d+)/m)).to.be.greaterThan(0);
        expect(text).to.match(/^http_requests_total\{method="GET",route="\/interaction\/:uid",status="200",service="authz-server"\} \d+/m);
        expect(text).not.to.match(/route="\/interaction\/[A-Za-z0-9_-]{10,}"/); // patterns, never raw paths
      });
    });
  });
}

suite('sqlite');
if (PG_URL) suite('pg');
else describe.skip(`OpenID provider end to end (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
