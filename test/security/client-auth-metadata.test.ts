import { expect } from 'chai';
import * as oidc from 'openid-client';
import { HttpBrowser } from '../helpers/http-browser.js';
import { REDIRECT, authorize, discover, tokenRequest } from '../authz-server/oidc.flow.js';
import { describeEachBackend, type Stack } from './stack.js';

/**
 * Threat: client authentication weaker than registered (probe finding 11). oidc-provider
 * accepts a client secret in the Basic header or in the body, whichever of the two the client
 * registered (lib/shared/client_auth.js lets both through for client_secret_*), so a client
 * registered for `client_secret_post` could be authenticated with HTTP Basic and the reverse.
 * The registered `token_endpoint_auth_method` is the only one (RFC 7591 §2): the other way is
 * invalid_client (authz-server/oidc/provider.ts, enforceRegisteredSecretMethod). Discovery says
 * how to authenticate at revocation and introspection (RFC 8414 §2), and token responses are
 * never cached (RFC 6749 §5.1: Cache-Control: no-store and Pragma: no-cache).
 */
// client_secret_jwt is configured but not served: no HMAC algorithm is enabled for client assertions.
const METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];
const API = 'http://127.0.0.1:4999';

describeEachBackend('security: a client authenticates only the way it registered', (stack) => {
  let s: Stack;
  let post: { id: string; secret: string };
  let basic: { id: string; secret: string };
  before(async () => {
    s = stack();
    const register = async (clientId: string, authMethod: 'client_secret_post' | 'client_secret_basic') => {
      const c = await s.env.createClient({ clientId, name: clientId, type: 'confidential', authMethod, redirectUris: ['https://rp.example.com/cb'], scopes: ['openid', 'listings:read'], clientCredentials: true });
      return { id: c.clientId, secret: c.clientSecret! };
    };
    post = await register('auth-method-post', 'client_secret_post');
    basic = await register('auth-method-basic', 'client_secret_basic');
  });

  /** An openid-client configuration for `client` presenting its secret the `how` way. */
  const as = (client: { id: string; secret: string }, how: 'basic' | 'post') =>
    discover(s.issuer, client.id, how === 'basic' ? oidc.ClientSecretBasic(client.secret) : oidc.ClientSecretPost(client.secret), client.secret);
  const grant = (config: oidc.Configuration) => oidc.clientCredentialsGrant(config, { scope: 'listings:read', resource: API });
  /** Status and OAuth error of a refusal: in the body, or in WWW-Authenticate when Basic was sent (RFC 6749 §5.2). */
  const refused = (p: Promise<unknown>) =>
    p.then(() => undefined, (e: oidc.ResponseBodyError | oidc.WWWAuthenticateChallengeError) => [e.status, e instanceof oidc.ResponseBodyError ? e.error : e.cause[0]?.parameters.error]);

  it('token endpoint: the registered method gets a token, the other way of sending the same secret is 401 invalid_client', async () => {
    expect(await refused(grant(await as(post, 'basic'))), 'post client, Basic').to.deep.equal([401, 'invalid_client']);
    expect((await grant(await as(post, 'post'))).token_type).to.match(/^bearer$/i);
    expect(await refused(grant(await as(basic, 'post'))), 'basic client, body').to.deep.equal([401, 'invalid_client']);
    expect((await grant(await as(basic, 'basic'))).token_type).to.match(/^bearer$/i);
  });

  it('revocation and introspection endpoints: the same rule', async () => {
    // Client authentication comes first; an unknown token is then answered 200 (RFC 7009 §2.2).
    const token = 'an-opaque-token-nobody-issued';
    expect(await refused(oidc.tokenRevocation(await as(post, 'basic'), token)), 'revoke, post client, Basic').to.deep.equal([401, 'invalid_client']);
    expect(await oidc.tokenRevocation(await as(post, 'post'), token)).to.equal(undefined);
    expect(await refused(oidc.tokenRevocation(await as(basic, 'post'), token)), 'revoke, basic client, body').to.deep.equal([401, 'invalid_client']);
    expect(await oidc.tokenRevocation(await as(basic, 'basic'), token)).to.equal(undefined);
    expect(await refused(oidc.tokenIntrospection(await as(post, 'basic'), token)), 'introspect, post client, Basic').to.deep.equal([401, 'invalid_client']);
    expect((await oidc.tokenIntrospection(await as(post, 'post'), token)).active).to.equal(false);
    expect(await refused(oidc.tokenIntrospection(await as(basic, 'post'), token)), 'introspect, basic client, body').to.deep.equal([401, 'invalid_client']);
    expect((await oidc.tokenIntrospection(await as(basic, 'basic'), token)).active).to.equal(false);
  });

  it('a wrong secret the registered way is still invalid_client (the rule adds a check, it replaces none)', async () => {
    expect(await refused(grant(await as({ ...post, secret: `${post.secret}x` }, 'post')))).to.deep.equal([401, 'invalid_client']);
    expect(await refused(grant(await as({ ...basic, secret: `${basic.secret}x` }, 'basic')))).to.deep.equal([401, 'invalid_client']);
  });

  it('the server logs the refusal (oidc-provider\'s detail) with the request id the client got', async () => {
    const res = await fetch(`${s.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'no-such-token', client_id: 'agent' }) });
    expect(res.status).to.equal(400);
    const requestId = res.headers.get('x-request-id')!;
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 40 && !line; i++) {
      line = s.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'oauth error' && l.requestId === requestId);
      if (!line) await new Promise((r) => setTimeout(r, 50));
    }
    expect(line, 'an "oauth error" line carrying the response\'s request id').to.include({ error: 'invalid_grant', event: 'grant.error' });
  });

  it('both discovery documents list the auth methods of revocation (with none) and introspection (without)', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const res = await fetch(`${s.issuer}${path}`);
      expect(res.status, path).to.equal(200);
      const meta = (await res.json()) as Record<string, unknown>;
      expect(meta.token_endpoint_auth_methods_supported, path).to.deep.equal(METHODS);
      expect(meta.revocation_endpoint_auth_methods_supported, path).to.deep.equal(METHODS);
      expect(meta.introspection_endpoint_auth_methods_supported, path).to.deep.equal(METHODS.filter((m) => m !== 'none'));
    }
  });

  it('token responses carry Cache-Control: no-store and Pragma: no-cache (code, refresh, client credentials, errors)', async function () {
    this.timeout(60_000);
    await s.user('pragma@example.com');
    const { refresh_token: refresh } = await s.tokens('pragma@example.com', 'openid offline_access');
    const form = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${s.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body) });
    const answers = {
      refresh: await form({ grant_type: 'refresh_token', refresh_token: refresh!, client_id: 'agent' }),
      clientCredentials: await form({ grant_type: 'client_credentials', scope: 'listings:read', resource: API }, { authorization: `Basic ${Buffer.from(`${basic.id}:${basic.secret}`).toString('base64')}` }),
      error: await form({ grant_type: 'authorization_code', code: 'nope', client_id: 'agent', redirect_uri: REDIRECT, code_verifier: 'x'.repeat(43) }),
    };
    for (const [name, res] of Object.entries(answers)) {
      expect([res.status >= 400, res.headers.get('cache-control'), res.headers.get('pragma')], name).to.deep.equal([name === 'error', 'no-store', 'no-cache']);
    }
    const code = await codeRedemption();
    expect([code.status, code.headers.get('cache-control'), code.headers.get('pragma')]).to.deep.equal([200, 'no-store', 'no-cache']);
  });

  it('a public client revokes its own refresh token with `none` (200), and the token is dead', async function () {
    this.timeout(60_000);
    await s.user('revoke-own@example.com');
    const { refresh_token: refresh } = await s.tokens('revoke-own@example.com', 'openid offline_access');
    expect(s.client.clientMetadata().token_endpoint_auth_method ?? 'none').to.equal('none');
    expect(await oidc.tokenRevocation(s.client, refresh!, { token_type_hint: 'refresh_token' })).to.equal(undefined); // 200, RFC 7009 §2.2
    const again = await tokenRequest(s.issuer, { grant_type: 'refresh_token', refresh_token: refresh!, client_id: 'agent' });
    expect([again.status, again.body.error]).to.deep.equal([400, 'invalid_grant']);
  });

  /** A code flow for a fresh user, redeemed by hand to see the token response's headers. */
  async function codeRedemption(): Promise<Response> {
    await s.user('pragma-code@example.com');
    const { callback, verifier } = await authorize(s.client, new HttpBrowser(), { email: 'pragma-code@example.com', scope: 'openid' });
    return fetch(`${s.issuer}/token`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback!.searchParams.get('code')!, redirect_uri: REDIRECT, client_id: 'agent', code_verifier: verifier }),
    });
  }
});
