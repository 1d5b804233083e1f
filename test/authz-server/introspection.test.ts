import { expect } from 'chai';
import * as oidc from 'openid-client';
import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type System, type Backend } from '../helpers/system.js';
import { PG_URL, PG_SKIP_REASON } from '../helpers/services.js';
import { PASSWORD, REDIRECT, authorize, discover, signedInTokens } from './oidc.flow.js';

const API = 'http://127.0.0.1:4999';
const WEB_CALLBACK = 'https://rp-a.example/callback';

/**
 * Introspection (RFC 7662): a confidential client learns about its own tokens only (§4); any
 * other token — another client's, one this server does not keep (the API's JWTs), one asked about
 * by a public client — is `200 { "active": false }` (§2.2), never an error. Only a failed client
 * authentication is an error (401 invalid_client).
 */
function suite(backend: Backend) {
  describe(`introspection: a client learns about its own tokens only (${backend})`, function () {
    this.timeout(60_000);
    let env: System;
    let issuer: string;
    let rpA: oidc.Configuration;
    let secrets: Record<string, string>;
    let agent: oidc.Configuration;
    let userId: string;
    /** rp-a's tokens for the person: an opaque access token and a refresh token. */
    let own: { access: string; refresh: string };
    /** The public agent's tokens: an opaque access token and an API JWT. */
    let agentTokens: { opaque: string; jwt: string };

    before(async () => {
      env = await startSystem({ backend, authz: 0 });
      issuer = (await env.startAuthz()).issuer;
      const a = await env.createClient({ clientId: 'rp-a', name: 'RP A', type: 'confidential', redirectUris: [WEB_CALLBACK], scopes: ['openid', 'offline_access', 'email'] });
      const b = await env.createClient({ clientId: 'rp-b', name: 'RP B', type: 'confidential', authMethod: 'client_secret_post', redirectUris: ['https://rp-b.example/cb'], scopes: ['openid'] });
      const m2m = await env.createClient({ clientId: 'm2m', name: 'Batch', type: 'confidential', redirectUris: ['https://m2m.example/cb'], scopes: ['listings:read'], clientCredentials: true });
      await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access', 'listings:read'] });
      secrets = { 'rp-a': a.clientSecret!, 'rp-b': b.clientSecret!, m2m: m2m.clientSecret! };
      userId = await env.createUser({ email: 'alice@example.com', password: PASSWORD });
      rpA = await oidc.discovery(new URL(issuer), 'rp-a', { client_secret: secrets['rp-a'], redirect_uris: [WEB_CALLBACK] }, oidc.ClientSecretBasic(secrets['rp-a']!), { execute: [oidc.allowInsecureRequests] });
      const flow = await authorize(rpA, new HttpBrowser(), { scope: 'openid offline_access email', extra: { redirect_uri: WEB_CALLBACK } });
      const tokens = await oidc.authorizationCodeGrant(rpA, new URL(flow.page.location!), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
      own = { access: tokens.access_token, refresh: tokens.refresh_token! };
      agent = await discover(issuer, 'agent');
      agentTokens = {
        opaque: (await signedInTokens(agent, new HttpBrowser(), { scope: 'openid offline_access' })).access_token,
        jwt: (await signedInTokens(agent, new HttpBrowser(), { scope: 'openid listings:read' })).access_token,
      };
    });
    after(() => env?.close());

    /** A raw introspection request: Basic for rp-a and m2m, the body for rp-b, client_id alone for the agent. */
    async function introspect(clientId: string, token: string, secret = secrets[clientId]) {
      const form = new URLSearchParams({ token });
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (clientId === 'rp-b') form.set('client_secret', secret!);
      if (clientId === 'rp-b' || clientId === 'agent') form.set('client_id', clientId);
      else headers.authorization = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
      const res = await fetch(`${issuer}/token/introspection`, { method: 'POST', headers, body: form });
      return { status: res.status, cache: res.headers.get('cache-control'), body: (await res.json()) as Record<string, unknown> };
    }
    const INACTIVE = { status: 200, cache: 'no-store', body: { active: false } };

    it('tells a confidential client about its own access and refresh tokens (openid-client tokenIntrospection)', async () => {
      const access = await oidc.tokenIntrospection(rpA, own.access);
      expect(access).to.deep.include({ active: true, sub: userId, client_id: 'rp-a', scope: 'openid offline_access email', token_type: 'Bearer', iss: issuer });
      const refresh = await oidc.tokenIntrospection(rpA, own.refresh, { token_type_hint: 'refresh_token' });
      expect(refresh).to.deep.include({ active: true, sub: userId, client_id: 'rp-a', scope: 'openid offline_access email' });
      expect(refresh).not.to.have.property('token_type');
    });

    it('tells a client acting for itself about its own opaque client_credentials token', async () => {
      const m2m = await discover(issuer, 'm2m', oidc.ClientSecretBasic(secrets.m2m!), secrets.m2m);
      const { access_token } = await oidc.clientCredentialsGrant(m2m);
      const info = await oidc.tokenIntrospection(m2m, access_token);
      expect(info).to.deep.include({ active: true, client_id: 'm2m', token_type: 'Bearer' });
      expect(info).not.to.have.property('sub');
    });

    it('answers active:false to another confidential client about rp-a\'s refresh and access tokens, and about a public client\'s token', async () => {
      expect(await introspect('rp-b', own.refresh)).to.deep.equal(INACTIVE);
      expect(await introspect('rp-b', own.access)).to.deep.equal(INACTIVE);
      expect(await introspect('m2m', own.refresh)).to.deep.equal(INACTIVE);
      expect(await introspect('rp-b', agentTokens.opaque)).to.deep.equal(INACTIVE);
      // The same tokens are still active for their owner: the refusal is about who asks.
      expect((await introspect('rp-a', own.refresh)).body.active).to.equal(true);
    });

    it('answers active:false to a public client, even about its own token', async () => {
      expect(await introspect('agent', agentTokens.opaque)).to.deep.equal(INACTIVE);
    });

    it('answers active:false, not 400 unsupported_token_type, for the API\'s JWT access tokens (not kept by this server)', async () => {
      expect(await introspect('agent', agentTokens.jwt)).to.deep.equal(INACTIVE);
      expect(await introspect('rp-b', agentTokens.jwt)).to.deep.equal(INACTIVE);
      const m2m = await discover(issuer, 'm2m', oidc.ClientSecretBasic(secrets.m2m!), secrets.m2m);
      const { access_token: jwt } = await oidc.clientCredentialsGrant(m2m, { scope: 'listings:read', resource: API });
      expect(await introspect('m2m', jwt), 'its own JWT').to.deep.equal(INACTIVE);
    });

    it('still authenticates the client first: a wrong secret is 401 invalid_client, JWT or not', async () => {
      for (const token of [own.refresh, agentTokens.jwt]) {
        const res = await introspect('rp-b', token, 'not-the-secret');
        expect([res.status, res.body.error]).to.deep.equal([401, 'invalid_client']);
      }
    });

    it('answers active:false about a revoked token, to its owner too', async () => {
      const flow = await authorize(rpA, new HttpBrowser(), { scope: 'openid offline_access', extra: { redirect_uri: WEB_CALLBACK } });
      const tokens = await oidc.authorizationCodeGrant(rpA, new URL(flow.page.location!), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
      await oidc.tokenRevocation(rpA, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
      expect(await introspect('rp-a', tokens.refresh_token!)).to.deep.equal(INACTIVE);
    });

    it('keeps RFC 7009\'s 400 unsupported_token_type at revocation for a JWT (it cannot be revoked)', async () => {
      const res = await fetch(`${issuer}/token/revocation`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: agentTokens.jwt, client_id: 'agent' }) });
      expect([res.status, ((await res.json()) as { error: string }).error]).to.deep.equal([400, 'unsupported_token_type']);
    });
  });
}

suite('sqlite');
if (PG_URL) suite('pg');
else describe.skip(`introspection: a client learns about its own tokens only (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
