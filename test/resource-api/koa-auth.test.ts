import { expect } from 'chai';
import { adminHere } from '../helpers/admin.js';
import { SignJWT, UnsecuredJWT, decodeJwt, generateKeyPair, importJWK, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type System, type Service } from '../helpers/system.js';
import { startApi } from '../helpers/api.js';
import { PASSWORD, REDIRECT, discover, signedInTokens } from '../authz-server/oidc.flow.js';

const AUDIENCE = 'http://127.0.0.1:4999';
/** FRONTEND_URL: the one origin a cookie-authenticated write may come from. */
const FRONTEND = 'http://localhost:3000';
type Api = Awaited<ReturnType<typeof startApi>>;

describe('resource API authentication and RBAC (real tokens from a running authz-server)', function () {
  this.timeout(60_000);
  let env: System;
  let authz: Service;
  let api: Api;
  let config: oidc.Configuration;

  before(async () => {
    env = await startSystem({ backend: 'sqlite', env: { FRONTEND_URL: FRONTEND }, authz: 0 });
    authz = await env.startAuthz();
    await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access', 'listings:read', 'listings:write'] });
    for (const [email, role] of [['alice@example.com', 'user'], ['pat@example.com', 'publisher'], ['ada@example.com', 'admin']] as const) {
      await env.createUser({ email, password: PASSWORD, role });
    }
    api = await startApi(env.config, { jwksCooldownMs: 0 });
    config = await discover(authz.issuer, 'agent');
  });
  after(async () => {
    await api?.close();
    await env?.close();
  });

  const call = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(`${api.url}${path}`, { method, headers });
  async function expectError(res: Response, status: number, code: string, challenge?: RegExp) {
    expect(res.status).to.equal(status);
    const body = (await res.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).to.equal(code);
    expect(body.error.requestId).to.equal(res.headers.get('x-request-id'));
    if (challenge) expect(res.headers.get('www-authenticate')).to.match(challenge);
  }
  const token = async (email: string, scope = 'openid listings:read') => (await signedInTokens(config, new HttpBrowser(), { email, scope })).access_token;

  /** A token like ours, signed with the authz-server's real key, with some claims changed. */
  async function forge(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
    const jwk = env.config.secrets.signingKeys.keys.find((k) => k.kty === 'RSA')! as JWK & { kid: string };
    const real = decodeJwt(await token('alice@example.com'));
    return new SignJWT({ ...real, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'at+jwt', ...header })
      .sign(await importJWK({ ...jwk, status: undefined } as JWK, 'RS256'));
  }

  describe('bearer tokens', () => {
    it('accepts a real access token and reads the role from the database', async () => {
      const res = await call('/v1/me', { authorization: `Bearer ${await token('pat@example.com')}` });
      expect(res.status).to.equal(200);
      const me = (await res.json()) as { scopes: string[] };
      expect(me).to.deep.include({ email: 'pat@example.com', role: 'publisher', authMethod: 'bearer', clientId: 'agent' });
      expect(me.scopes).to.deep.equal(['listings:read']);
    });

    it('answers 401 with a challenge that has no error code when there is no credential (RFC 6750 §3.1)', async () => {
      await expectError(await call('/v1/me'), 401, 'UNAUTHENTICATED', /^Bearer resource_metadata="[^"]+"$/);
    });

    const invalid: [string, () => Promise<string>][] = [
      ['a tampered signature', async () => (await token('alice@example.com')).slice(0, -4) + 'AAAA'],
      ['a foreign key under our kid', async () => {
        const { privateKey } = await generateKeyPair('RS256');
        const kid = env.config.secrets.signingKeys.keys.find((k) => k.kty === 'RSA')!.kid!;
        return new SignJWT(decodeJwt(await token('alice@example.com'))).setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' }).sign(privateKey);
      }],
      ['an unknown kid', () => forge({}, { kid: 'not-a-key' })],
      ['the wrong issuer', () => forge({ iss: 'https://evil.example' })],
      ['the wrong audience', () => forge({ aud: 'https://other-api.example' })],
      ['an expired token', () => forge({ exp: Math.floor(Date.now() / 1000) - 60 })],
      ['alg none', async () => new UnsecuredJWT(decodeJwt(await token('alice@example.com'))).encode()],
      ['a sender-constrained token (cnf) without proof', () => forge({ cnf: { jkt: 'abc' } })],
      ['an ID token instead of an access token', async () => (await signedInTokens(config, new HttpBrowser(), { scope: 'openid' })).id_token!],
      ['a typ other than at+jwt', () => forge({}, { typ: 'JWT' })],
      ['garbage', async () => 'not.a.jwt'],
    ];
    for (const [what, make] of invalid) {
      it(`refuses ${what} with 401 invalid_token`, async () => {
        await expectError(await call('/v1/me', { authorization: `Bearer ${await make()}` }), 401, 'INVALID_TOKEN', /^Bearer error="invalid_token"/);
      });
    }

    it('answers 503 AUTH_SERVER_UNAVAILABLE, not 401, when the JWKS cannot be fetched', async () => {
      const cut = await startApi({ ...env.config, authz: { ...env.config.authz, internalUrl: 'http://127.0.0.1:1' } });
      try {
        const res = await fetch(`${cut.url}/v1/me`, { headers: { authorization: `Bearer ${await token('alice@example.com')}` } });
        await expectError(res, 503, 'AUTH_SERVER_UNAVAILABLE');
      } finally {
        await cut.close();
      }
    });

    it('refuses a malformed Authorization header and a cookie sent together with a token', async () => {
      await expectError(await call('/v1/me', { authorization: 'Basic abc' }), 401, 'INVALID_TOKEN', /error="invalid_request"/);
      await expectError(await call('/v1/me', { authorization: `Bearer ${await token('alice@example.com')}`, cookie: 'portcullis.session_token=x' }), 401, 'AMBIGUOUS_CREDENTIALS');
    });
  });

  describe('session cookies', () => {
    async function sessionCookie(email: string): Promise<string> {
      const browser = new HttpBrowser();
      await signedInTokens(config, browser, { email });
      return (await browser.jar.getCookies(authz.issuer)).filter((c) => c.key.endsWith('session_token')).map((c) => `${c.key}=${c.value}`).join('; ');
    }

    it('accepts the better-auth session cookie with the role\'s full permissions', async () => {
      const cookie = await sessionCookie('ada@example.com');
      const me = await call('/v1/me', { cookie });
      expect(await me.json()).to.deep.include({ email: 'ada@example.com', role: 'admin', authMethod: 'session', scopes: null });
      expect((await call('/probe/suspend', { cookie, origin: FRONTEND }, 'POST')).status).to.equal(200);
    });

    it('refuses an invalid session cookie with 401', async () => {
      await expectError(await call('/v1/me', { cookie: 'portcullis.session_token=forged.value' }), 401, 'INVALID_SESSION');
    });

    it('sets the session cookie HttpOnly, SameSite=Lax, host-only, with the idle lifetime', async () => {
      const browser = new HttpBrowser();
      await signedInTokens(config, browser, { email: 'alice@example.com' });
      const jar = (await browser.jar.getCookies(authz.issuer)).find((c) => c.key === 'portcullis.session_token')!;
      expect(jar.httpOnly).to.equal(true);
      expect(jar.sameSite).to.equal('lax');
      expect(jar.secure).to.equal(false); // http issuer in tests; https issuers get Secure and the __Host- prefix
      expect(jar.hostOnly).to.equal(true);
      expect(jar.maxAge).to.equal(3600);
      expect(jar.value).not.to.equal('');
    });

    it('ends a session at its absolute lifetime however active it is', async () => {
      await env.createUser({ email: 'old-session@example.com', password: PASSWORD });
      const cookie = await sessionCookie('old-session@example.com');
      expect((await call('/v1/me', { cookie })).status).to.equal(200);
      const user = await env.db('user').where({ email: 'old-session@example.com' }).first();
      const longAgo = new Date(Date.now() - 13 * 3600 * 1000);
      await env.db('session').where({ userId: user.id }).update({ createdAt: env.config.db.client === 'pg' ? longAgo : longAgo.toISOString() });
      await expectError(await call('/v1/me', { cookie }), 401, 'INVALID_SESSION');
      expect(await env.db('session').where({ userId: user.id })).to.have.length(0);
    });

    it('applies a demotion to the very next request of an existing session', async () => {
      await env.createUser({ email: 'demoted-admin@example.com', password: PASSWORD, role: 'admin' });
      const cookie = await sessionCookie('demoted-admin@example.com');
      expect((await call('/probe/suspend', { cookie, origin: FRONTEND }, 'POST')).status).to.equal(200);
      await env.db('user').where({ email: 'demoted-admin@example.com' }).update({ role: 'user' });
      await expectError(await call('/probe/suspend', { cookie, origin: FRONTEND }, 'POST'), 403, 'FORBIDDEN');
    });
  });

  describe('RBAC: role ∩ scopes', () => {
    it('needs both the role and the scope', async () => {
      const patWrite = await token('pat@example.com', 'openid listings:read listings:write');
      expect((await call('/probe/publish', { authorization: `Bearer ${patWrite}` }, 'POST')).status).to.equal(200);
      const patRead = await token('pat@example.com', 'openid listings:read');
      await expectError(await call('/probe/publish', { authorization: `Bearer ${patRead}` }, 'POST'), 403, 'INSUFFICIENT_SCOPE', /error="insufficient_scope", scope="listings:write"/);
      const aliceWrite = await token('alice@example.com', 'openid listings:read listings:write');
      await expectError(await call('/probe/publish', { authorization: `Bearer ${aliceWrite}` }, 'POST'), 403, 'FORBIDDEN');
    });

    it('never lets a token use a session-only permission, even an admin\'s', async () => {
      const adaToken = await token('ada@example.com', 'openid listings:read listings:write');
      await expectError(await call('/probe/suspend', { authorization: `Bearer ${adaToken}` }, 'POST'), 403, 'INSUFFICIENT_SCOPE');
    });

    it('refuses a demoted or banned user at once, although their token has not expired', async () => {
      await env.createUser({ email: 'stale@example.com', password: PASSWORD, role: 'publisher' });
      const t = await token('stale@example.com', 'openid listings:read listings:write');
      expect((await call('/probe/publish', { authorization: `Bearer ${t}` }, 'POST')).status).to.equal(200);
      await env.db('user').where({ email: 'stale@example.com' }).update({ role: 'user' });
      await expectError(await call('/probe/publish', { authorization: `Bearer ${t}` }, 'POST'), 403, 'FORBIDDEN');
      expect((await call('/probe/read', { authorization: `Bearer ${t}` })).status).to.equal(200);
      await env.db('user').where({ email: 'stale@example.com' }).update({ banned: true });
      await expectError(await call('/probe/read', { authorization: `Bearer ${t}` }), 403, 'ACCOUNT_DISABLED');
    });
  });

  describe('HTTP surface', () => {
    it('publishes RFC 9728 protected resource metadata', async () => {
      const res = await call('/.well-known/oauth-protected-resource');
      expect(await res.json()).to.deep.equal({
        resource: AUDIENCE,
        authorization_servers: [authz.issuer],
        scopes_supported: ['listings:read', 'listings:write', 'reviews:write', 'checkout:create', 'usage:report', 'usage:read'],
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'],
        resource_name: 'Portcullis marketplace API',
      });
    });

    it('names the protected resource metadata in every Bearer challenge (RFC 9728 §5.1), with the RFC 6750 error where one applies', async () => {
      const metadata = `resource_metadata="${AUDIENCE}/.well-known/oauth-protected-resource"`;
      const none = await call('/v1/me');
      expect([none.status, none.headers.get('www-authenticate')]).to.deep.equal([401, `Bearer ${metadata}`]);
      const bad = await call('/v1/me', { authorization: 'Bearer not.a.token' });
      expect(bad.status).to.equal(401);
      expect(bad.headers.get('www-authenticate')).to.match(new RegExp(`^Bearer error="invalid_token", error_description="[^"]*", ${metadata.replace(/[.?*+^$()[\]\\/]/g, '\\$&')}$`));
      const scope = await call('/probe/publish', { authorization: `Bearer ${await token('pat@example.com', 'openid listings:read')}` }, 'POST');
      expect([scope.status, scope.headers.get('www-authenticate')]).to.deep.equal([403, `Bearer error="insufficient_scope", scope="listings:write", ${metadata}`]);
    });

    it('lets any origin read the protected resource metadata, without credentials (a public document), preflight included', async () => {
      const res = await call('/.well-known/oauth-protected-resource', { origin: 'https://agent.example' });
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
      expect(res.headers.get('access-control-allow-credentials')).to.equal(null);
      const preflight = await call('/.well-known/oauth-protected-resource', { origin: 'https://agent.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' }, 'OPTIONS');
      expect([preflight.status, preflight.headers.get('access-control-allow-origin')]).to.deep.equal([204, '*']);
      expect(preflight.headers.get('access-control-allow-headers')).to.contain('MCP-Protocol-Version');
      // The authorization server's metadata is as open (oidc-provider's discovery CORS reflects the origin).
      const discovery = await fetch(`${authz.issuer}/.well-known/oauth-authorization-server`, { headers: { origin: 'https://agent.example' } });
      expect(discovery.headers.get('access-control-allow-origin')).to.be.oneOf(['*', 'https://agent.example']);
      expect(discovery.headers.get('access-control-allow-credentials')).to.equal(null);
    });

    it('sends CORS headers with credentials to FRONTEND_URL origins only', async () => {
      const ok = await call('/v1/me', { origin: 'http://localhost:3000' });
      expect(ok.headers.get('access-control-allow-origin')).to.equal('http://localhost:3000');
      expect(ok.headers.get('access-control-allow-credentials')).to.equal('true');
      const evil = await call('/v1/me', { origin: 'https://evil.example' });
      expect(evil.headers.get('access-control-allow-origin')).to.equal(null);
      expect(evil.headers.get('access-control-allow-credentials')).to.equal(null);
      const preflight = await call('/v1/me', { origin: 'http://localhost:3000', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' }, 'OPTIONS');
      expect(preflight.status).to.equal(204);
      expect(preflight.headers.get('access-control-allow-headers')).to.contain('Authorization');
      const refused = await call('/v1/me', { origin: 'http://localhost:3000.evil.example', 'access-control-request-method': 'GET' }, 'OPTIONS');
      expect(refused.headers.get('access-control-allow-origin')).to.equal(null);
    });
  });

  describe('key rotation at the authorization server', () => {
    it('accepts tokens signed by a new key without restarting the API', async () => {
      const before = await token('alice@example.com');
      await authz.stop();
      const run = async (...args: string[]) => {
        const p = await adminHere(args, env.env);
        expect(p.code, p.output).to.equal(0);
        return p.output;
      };
      // API access tokens are signed with ES256 (API_TOKEN_SIGNING_ALG's default): rotate that key.
      const kid = /^ {2}(\S+) {2}ES256 {2}next$/m.exec(await run('keys:add', '--alg', 'ES256'))![1]!;
      await run('keys:promote', kid);
      authz = await env.startAuthz({ AUTHZ_PORT: new URL(env.env.ISSUER_URL!).port });
      const after = await token('alice@example.com');
      expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid).to.equal(kid);
      expect((await call('/v1/me', { authorization: `Bearer ${after}` })).status).to.equal(200);
      expect((await call('/v1/me', { authorization: `Bearer ${before}` })).status).to.equal(200);
    });
  });
});
