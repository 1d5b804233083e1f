import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { startSystem, type Service, type System } from '../helpers/system.js';
import { HttpBrowser } from '../helpers/http-browser.js';
import { PG_URL, REDIS_SKIP_REASON, REDIS_URL, describeWithService } from '../helpers/services.js';
import { REDIRECT, authorize, discover } from '../authz-server/oidc.flow.js';
import { ROLE_CLAIM } from '#authz/oidc/account.js';
import type { Container } from '#shared/container.js';
import { dropKeys } from './change-bus.helpers.js';

const OTHER_REDIRECT = 'http://127.0.0.1:8765/other-callback'; // RFC 8252 §7.3: a loopback port may vary, a path may not

/** A registration the agent policy accepts (RFC 7591), for the RFC 7592 update case. */
const agent = (extra: Record<string, unknown> = {}) => ({
  client_name: 'Bus agent',
  token_endpoint_auth_method: 'none',
  redirect_uris: [REDIRECT],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  ...extra,
});

/** The status of an authorization request at `server` for `clientId` with `redirectUri`. */
async function authorizeAt(server: Service, clientId: string, redirectUri: string): Promise<number> {
  const url = new URL(`${server.url}/auth`);
  for (const [k, v] of Object.entries({ client_id: clientId, redirect_uri: redirectUri, response_type: 'code', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 's' })) url.searchParams.set(k, v);
  const res = await fetch(url, { redirect: 'manual' });
  await res.body?.cancel();
  return res.status;
}

/** client_credentials at `server`: the status and the OAuth error, if any. */
async function clientCredentialsAt(server: Service, clientId: string, secret: string): Promise<string> {
  const res = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'listings:read' }),
  });
  const body = (await res.json()) as { error?: string };
  return `${res.status}${body.error ? ` ${body.error}` : ''}`;
}

/**
 * The authorization server's caches on the change bus (authz-server/oidc/caches.ts): each
 * replica keeps client metadata and accounts in memory while the bus vouches for it. Two
 * authz-server processes share the database and Redis; each case first makes the second one
 * read (and cache) what is about to change, changes it through the first one or the admin CLI,
 * and the very next request at the second one must see the change.
 */
describeWithService(`change bus: clients and accounts cached by two authz-server replicas (${PG_URL ? 'pg' : 'sqlite'})`, REDIS_URL, REDIS_SKIP_REASON, (redisUrl) => {
  let r: System;
  let a: Service;
  let b: Service;
  const prefix = `portcullis:test-bus-authz:${randomBytes(6).toString('hex')}:`;

  before(async function () {
    this.timeout(120_000);
    r = await startSystem({
      hosting: 'process',
      logLevel: 'warn',
      backend: PG_URL ? 'pg' : 'sqlite', ...(PG_URL ? { pgUrl: PG_URL } : {}), redis: redisUrl, authz: 2,
      env: { REDIS_KEY_PREFIX: prefix },
    });
    [a, b] = [r.authz[0]!, r.authz[1]!];
    await r.seedClient();
  });
  after(async () => {
    await r?.close();
    await dropKeys(redisUrl, prefix);
  });

  const admin = async (...args: string[]) => {
    const run = await r.admin(args);
    expect(run.code, run.output).to.equal(0);
  };

  it('a client deleted with the admin CLI: client_credentials refused at both replicas at once', async () => {
    const clientId = `job-${randomUUID()}`;
    const { clientSecret } = await r.createClient({ clientId, name: 'Batch job', type: 'confidential', redirectUris: ['https://m2m.example/cb'], scopes: ['listings:read'], clientCredentials: true });
    expect([await clientCredentialsAt(a, clientId, clientSecret!), await clientCredentialsAt(b, clientId, clientSecret!)], 'primed').to.deep.equal(['200', '200']);
    await admin('clients:delete', clientId);
    expect([await clientCredentialsAt(a, clientId, clientSecret!), await clientCredentialsAt(b, clientId, clientSecret!)]).to.deep.equal(['401 invalid_client', '401 invalid_client']);
  });

  it('RFC 7592 update at one replica: the other enforces the new redirect URIs at once', async () => {
    const registered = await fetch(`${a.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(agent()) });
    expect(registered.status).to.equal(201);
    const { client_id: clientId, registration_access_token: token } = (await registered.json()) as { client_id: string; registration_access_token: string };
    expect([await authorizeAt(a, clientId, REDIRECT), await authorizeAt(b, clientId, REDIRECT)], 'primed').to.deep.equal([303, 303]);

    const updated = await fetch(`${a.url}/reg/${clientId}`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(agent({ client_id: clientId, redirect_uris: [OTHER_REDIRECT] })) });
    expect(updated.status, await updated.clone().text()).to.equal(200);
    expect([await authorizeAt(b, clientId, REDIRECT), await authorizeAt(b, clientId, OTHER_REDIRECT)]).to.deep.equal([400, 303]);
  });

  it('RFC 7592 delete at one replica: the other refuses the client at once', async () => {
    const registered = await fetch(`${a.url}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(agent()) });
    const { client_id: clientId, registration_access_token: token } = (await registered.json()) as { client_id: string; registration_access_token: string };
    expect(await authorizeAt(b, clientId, REDIRECT), 'primed').to.equal(303);
    const deleted = await fetch(`${a.url}/reg/${clientId}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(deleted.status).to.equal(204);
    expect(await authorizeAt(b, clientId, REDIRECT)).to.equal(400);
  });

  it('a role change (admin CLI): the other replica\'s next userinfo answer carries the new role', async () => {
    const user = await r.seedUser(`bus-authz-${randomUUID()}@example.com`);
    const config = await discover(r.issuer, 'agent');
    // The code from the first replica's pages, redeemed at the second one (same issuer, same storage).
    const atB = new oidc.Configuration({ ...(JSON.parse(JSON.stringify(config.serverMetadata())) as oidc.ServerMetadata), token_endpoint: `${b.url}/token` }, 'agent', { redirect_uris: [REDIRECT] }, oidc.None());
    oidc.allowInsecureRequests(atB);
    const { callback, verifier, state } = await authorize(config, new HttpBrowser(), { email: user.email, scope: 'openid' });
    const tokens = await oidc.authorizationCodeGrant(atB, callback!, { pkceCodeVerifier: verifier, expectedState: state });
    const userinfoAtB = async () => {
      const res = await fetch(`${b.url}${new URL(config.serverMetadata().userinfo_endpoint!).pathname}`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      return `${res.status} ${((await res.json()) as Record<string, unknown>)[ROLE_CLAIM]}`;
    };
    expect(await userinfoAtB(), 'primed').to.equal('200 user');
    await admin('users:set-role', user.email, 'publisher');
    expect(await userinfoAtB()).to.equal('200 publisher');
  });

  it('a ban (admin CLI): the other replica, which served the account a moment ago, answers userinfo with invalid_token', async () => {
    const user = await r.seedUser(`bus-authz-${randomUUID()}@example.com`);
    const config = await discover(r.issuer, 'agent');
    const { callback, verifier, state } = await authorize(config, new HttpBrowser(), { email: user.email, scope: 'openid' });
    const tokens = await oidc.authorizationCodeGrant(config, callback!, { pkceCodeVerifier: verifier, expectedState: state });
    const userinfoAtB = async () => {
      const res = await fetch(`${b.url}${new URL(config.serverMetadata().userinfo_endpoint!).pathname}`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      return `${res.status} ${((await res.json()) as { error?: string; sub?: string }).error ?? 'ok'}`;
    };
    expect(await userinfoAtB(), 'primed').to.equal('200 ok');
    await admin('users:ban', user.email);
    expect(await userinfoAtB()).to.equal('401 invalid_token');
  });
});

/**
 * What the caches save, counted: with the bus following, a second client_credentials request
 * for the same client sends no client SELECT; without Redis (BUS off) every request reads it, as
 * before the bus.
 */
describeWithService(`change bus: the authz-server reads a client once while the bus vouches for it (${PG_URL ? 'pg' : 'sqlite'})`, REDIS_URL, REDIS_SKIP_REASON, (redisUrl) => {
  const prefix = `portcullis:test-bus-authz-count:${randomBytes(6).toString('hex')}:`;
  after(() => dropKeys(redisUrl, prefix));

  async function clientReads(redis: string | undefined): Promise<number[]> {
    const env = await startSystem({ backend: PG_URL ? 'pg' : 'sqlite', ...(PG_URL ? { pgUrl: PG_URL } : {}), ...(redis ? { redis } : {}), env: redis ? { REDIS_KEY_PREFIX: prefix } : {} });
    try {
      const server = env.authz[0]!;
      const container: Container = await server.container();
      const clientId = `job-${randomUUID()}`;
      const { clientSecret } = await env.createClient({ clientId, name: 'Batch job', type: 'confidential', redirectUris: ['https://m2m.example/cb'], scopes: ['listings:read'], clientCredentials: true });
      const reads: number[] = [];
      for (let i = 0; i < 3; i++) {
        let n = 0;
        const listener = (q: { sql: string }) => void (/from "?oauth_clients"?/i.test(q.sql) && !/^\s*(update|delete|insert)/i.test(q.sql) && n++);
        container.db.on('query', listener);
        try {
          expect(await clientCredentialsAt(server, clientId, clientSecret!)).to.equal('200');
          await sleep(50);
        } finally {
          container.db.off('query', listener);
        }
        reads.push(n);
      }
      return reads;
    } finally {
      await env.close();
    }
  }

  it('with Redis: the first request reads the client, the next two do not', async () => {
    expect(await clientReads(redisUrl)).to.deep.equal([1, 0, 0]);
  });

  it('without Redis: every request reads the client', async () => {
    expect(await clientReads(undefined)).to.deep.equal([1, 1, 1]);
  });
});
