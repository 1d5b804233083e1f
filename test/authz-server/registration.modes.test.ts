import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { Knex } from 'knex';
import { startSystem, type System } from '../helpers/system.js';
import { auditRow, type AuditRow } from '../helpers/audit-row.js';
import { REDIRECT } from './oidc.flow.js';

const IAT = 'initial-access-token-0123456789abcdef-0123';
const agent = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  client_name: 'Test agent',
  token_endpoint_auth_method: 'none',
  redirect_uris: [REDIRECT],
  grant_types: ['authorization_code', 'refresh_token'],
  ...extra,
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text.startsWith('{') ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const dynamicCount = async (db: Knex) => Number((await db('oauth_clients').where({ source: 'dynamic' }).count({ n: '*' }))[0]!.n);
const discovery = async (issuer: string) => (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;

async function audited(db: Knex, event: string, n = 1): Promise<AuditRow[]> {
  for (let i = 0; ; i++) {
    const rows = await db('audit_log').where({ event }).orderBy([{ column: 'created_at', order: 'asc' }, { column: 'id', order: 'asc' }]);
    if (rows.length >= n || i >= 40) return rows.map((r: Record<string, unknown>) => auditRow(r));
    await sleep(50);
  }
}

describe('dynamic registration modes and limits (REGISTRATION_MODE, register:ip)', function () {
  this.timeout(60_000);

  describe('closed: the initial access token is required, the policy still applies', () => {
    let env: System;
    let issuer: string;
    before(async () => {
      env = await startSystem({ backend: 'sqlite', env: { REGISTRATION_MODE: 'closed', REGISTRATION_INITIAL_ACCESS_TOKEN: IAT }, authz: 0 });
      issuer = (await env.startAuthz()).issuer;
    });
    after(() => env?.close());

    it('advertises the endpoint; without the token or with a wrong one: 401 invalid_token, nothing stored', async () => {
      expect((await discovery(issuer)).registration_endpoint).to.equal(`${issuer}/reg`);
      for (const headers of [{}, { authorization: `Bearer ${IAT}x` }, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
        const res = await post(`${issuer}/reg`, agent(), headers);
        expect([res.status, res.body.error], JSON.stringify(headers)).to.deep.equal([401, 'invalid_token']);
        expect(res.headers.get('www-authenticate')).to.match(/^Bearer /);
      }
      // The token in another scheme is no bearer token (oidc-provider: invalid_request).
      const basic = await post(`${issuer}/reg`, agent(), { authorization: `Basic ${Buffer.from(`x:${IAT}`).toString('base64')}` });
      expect([basic.status, basic.body.error]).to.deep.equal([400, 'invalid_request']);
      expect(await dynamicCount(env.db)).to.equal(0);
    });

    it('registers with the token (openid-client), audited with mode closed; a policy violation is still refused', async () => {
      const refused = await post(`${issuer}/reg`, agent({ token_endpoint_auth_method: 'client_secret_basic' }), { authorization: `Bearer ${IAT}` });
      expect([refused.status, refused.body.error]).to.deep.equal([400, 'invalid_client_metadata']);
      expect(await dynamicCount(env.db)).to.equal(0);
      const config = await oidc.dynamicClientRegistration(new URL(issuer), agent({ scope: 'openid' }) as Partial<oidc.ClientMetadata>, oidc.None(), { initialAccessToken: IAT, execute: [oidc.allowInsecureRequests] });
      const id = config.clientMetadata().client_id;
      expect(config.clientMetadata()).to.include({ client_name: 'Test agent', scope: 'openid', token_endpoint_auth_method: 'none' });
      expect(await env.db('oauth_clients').where({ client_id: id }).first()).to.deep.include({ source: 'dynamic' });
      const [row] = await audited(env.db, 'client.registered');
      expect(row).to.deep.include({ actor_client_id: id, properties: { authMethod: 'none', redirectUriCount: 1, scope: 'openid', mode: 'closed' } });
    });
  });

  describe('off: no endpoint', () => {
    let env: System;
    let issuer: string;
    before(async () => {
      env = await startSystem({ backend: 'sqlite', env: { REGISTRATION_MODE: 'off' }, authz: 0 });
      issuer = (await env.startAuthz()).issuer;
    });
    after(() => env?.close());

    it('answers 404 at /reg and /reg/:id, and discovery names no registration_endpoint', async () => {
      for (const meta of [await discovery(issuer), (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>]) {
        expect(meta).to.have.property('authorization_endpoint');
        expect(meta).not.to.have.property('registration_endpoint');
      }
      expect((await post(`${issuer}/reg`, agent())).status).to.equal(404);
      expect((await fetch(`${issuer}/reg/abc`, { headers: { authorization: 'Bearer x' } })).status).to.equal(404);
      expect(await dynamicCount(env.db)).to.equal(0);
    });
  });

  describe('register:ip at RATE_LIMIT_MULTIPLIER=1', () => {
    let env: System;
    let issuer: string;
    before(async () => {
      env = await startSystem({ backend: 'sqlite', env: { RATE_LIMIT_MULTIPLIER: '1' }, authz: 0 });
      issuer = (await env.startAuthz()).issuer;
    });
    after(() => env?.close());

    it('allows a burst of 10 registrations per address (refused ones count), then 429 with Retry-After and rate_limit.hit', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await post(`${issuer}/reg`, i % 2 ? agent({ client_name: `Agent ${i}` }) : agent({ client_name: '' }))).status);
      expect(statuses).to.deep.equal([400, 201, 400, 201, 400, 201, 400, 201, 400, 201]);
      const limited = await post(`${issuer}/REG/`, agent({ client_name: 'One too many' }));
      expect(limited.status).to.equal(429);
      expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 60);
      expect((limited.body.error as { code: string }).code).to.equal('RATE_LIMITED');
      expect(await dynamicCount(env.db)).to.equal(5);
      const [hit] = await audited(env.db, 'rate_limit.hit');
      expect(hit).to.deep.include({ outcome: 'denied', properties: { route: '/REG/', limit: 'register:ip' } });
      // Other endpoints are not charged.
      expect((await fetch(`${issuer}/.well-known/openid-configuration`)).status).to.equal(200);
    });
  });
});
