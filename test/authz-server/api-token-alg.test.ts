import { expect } from 'chai';
import { adminHere } from '../helpers/admin.js';
import { decodeProtectedHeader } from 'jose';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type * as oidc from 'openid-client';
import { newSigningKey } from '#shared/config/dev-secrets.js';
import { describe as describeKeys, type RingKey } from '#authz/keys/keyring.js';
import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type System, type Service } from '../helpers/system.js';
import { startApi } from '../helpers/api.js';
import { runNode, SOURCE_FLAGS } from '../helpers/process.js';
import { PASSWORD, REDIRECT, discover, signedInTokens, tokenRequest } from './oidc.flow.js';

/**
 * Issue #19: access tokens for the API and /mcp are signed with API_TOKEN_SIGNING_ALG, ES256 by
 * default (RS256 on request); ID tokens stay RS256. The resource API (in this process) verifies
 * both against the JWKS, which publishes both keys. A key set without an ES256 key refuses to
 * start, and the fix the message names (keys:add --alg ES256) works.
 */
const EMAIL = 'alg@example.com';
const SCOPE = 'openid offline_access listings:read';

describe('API access tokens: ES256 by default, RS256 on request', function () {
  this.timeout(120_000);
  let env: System;
  let es: Service;
  let rs: Service;
  let api: Awaited<ReturnType<typeof startApi>>;
  let config: oidc.Configuration;
  const algOf = (jwt: string) => decodeProtectedHeader(jwt);
  const activeKid = (alg: 'RS256' | 'ES256') => describeKeys(env.config.secrets.signingKeys.keys as RingKey[]).find((k) => k.alg === alg && k.status === 'active')!.kid;
  const me = async (token: string) => (await fetch(`${api.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status;
  /** The official MCP SDK client lists the tools with `token`. */
  async function mcpTools(token: string): Promise<string[]> {
    const client = new Client({ name: 'alg-test-agent', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${api.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    try {
      return (await client.listTools()).tools.map((t) => t.name);
    } finally {
      await client.close();
    }
  }
  const tokens = (extra?: Record<string, string>) => signedInTokens(config, new HttpBrowser(), { email: EMAIL, scope: SCOPE, ...(extra ? { extra } : {}) });
  const refreshAt = async (server: Service, refreshToken: string) => {
    const res = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'agent' });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body as { access_token: string; id_token: string };
  };

  before(async () => {
    env = await startSystem({ backend: 'sqlite', authz: 0 });
    es = await env.startAuthz();
    rs = await env.startAuthz({ API_TOKEN_SIGNING_ALG: 'RS256' });
    api = await startApi(env.config);
    await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access', 'listings:read'] });
    await env.createUser({ email: EMAIL, password: PASSWORD });
    config = await discover(es.issuer, 'agent');
  });
  after(async () => {
    await api?.close();
    await env?.close();
  });

  it('by default the API token is ES256 (the active EC key) and the ID token RS256; the API accepts it', async () => {
    const t = await tokens();
    expect(algOf(t.access_token)).to.deep.include({ alg: 'ES256', typ: 'at+jwt', kid: activeKid('ES256') });
    expect(algOf(t.id_token!)).to.deep.include({ alg: 'RS256', kid: activeKid('RS256') });
    expect(await me(t.access_token)).to.equal(200);
  });

  it('with API_TOKEN_SIGNING_ALG=RS256 the API token is RS256, and the API accepts it', async () => {
    const t = await refreshAt(rs, (await tokens()).refresh_token!);
    expect(algOf(t.access_token)).to.deep.include({ alg: 'RS256', typ: 'at+jwt', kid: activeKid('RS256') });
    expect(algOf(t.id_token)).to.deep.include({ alg: 'RS256' });
    expect(await me(t.access_token)).to.equal(200);
  });

  it('/mcp accepts its tokens in either alg (the MCP SDK client)', async () => {
    const first = await tokens({ resource: `${env.config.api.audience}/mcp` });
    expect(algOf(first.access_token).alg).to.equal('ES256');
    expect(await mcpTools(first.access_token)).to.include('search_listings');
    const rsa = await refreshAt(rs, first.refresh_token!);
    expect(algOf(rsa.access_token).alg).to.equal('RS256');
    expect(await mcpTools(rsa.access_token)).to.include('search_listings');
  });

  it('the JWKS publishes the RS256 and the ES256 key', async () => {
    const jwks = (await (await fetch(`${es.url}/jwks`)).json()) as { keys: Record<string, string>[] };
    const published = jwks.keys.map(({ kty, alg, crv, kid }) => ({ kty, alg, crv, kid }));
    expect(published).to.deep.include.members([
      { kty: 'RSA', alg: 'RS256', crv: undefined, kid: activeKid('RS256') },
      { kty: 'EC', alg: 'ES256', crv: 'P-256', kid: activeKid('ES256') },
    ]);
  });

  it('RSA keys only: the authz-server refuses to start with ES256 and names the fix; keys:add --alg ES256 mends the key set', async () => {
    const rsaOnly = JSON.stringify({ keys: [await newSigningKey('RS256')] });
    const refused = runNode([...SOURCE_FLAGS, 'authz-server/main.ts'], { ...env.env, SIGNING_KEYS: rsaOnly, DB_MIGRATE_ON_START: 'false' });
    expect(await refused.exited, refused.output()).to.equal(1);
    expect(refused.output()).to.include('API_TOKEN_SIGNING_ALG: is ES256 but SIGNING_KEYS has no active ES256 key: add one with `npm run admin -- keys:add --alg ES256` (the first key of an alg signs at once), or set API_TOKEN_SIGNING_ALG=RS256');
    expect(refused.output()).to.not.include('"d":');

    const cli = await adminHere(['keys:add', '--alg', 'ES256'], { ...env.env, SIGNING_KEYS: rsaOnly });
    expect(cli.code, cli.output).to.equal(0);
    const mended = /^SIGNING_KEYS='(.+)'$/m.exec(cli.output)?.[1];
    expect(mended, cli.output).to.be.a('string');
    expect(describeKeys(JSON.parse(mended!).keys).map((k) => [k.alg, k.status])).to.deep.equal([['RS256', 'active'], ['ES256', 'active']]);
    const started = await env.startAuthz({ SIGNING_KEYS: mended! });
    try {
      const res = await tokenRequest(started.url, { grant_type: 'refresh_token', refresh_token: 'x', client_id: 'agent' });
      expect(res.status).to.equal(400); // up and answering
    } finally {
      await started.stop();
    }
  });
});
