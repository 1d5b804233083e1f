import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Knex } from 'knex';
import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type System, type Backend } from '../helpers/system.js';
import { PG_SKIP_REASON, PG_URL } from '../helpers/services.js';
import { auditRow, type AuditRow } from '../helpers/audit-row.js';
import { DEFAULT_AGENT_SCOPES } from '#shared/oauth/scopes.js';
import { createAudit } from '#shared/audit/index.js';
import { createLogger } from '#shared/logging/logger.js';
import { startPurge } from '#authz/oidc/purge.js';
import { PASSWORD, REDIRECT, authorize } from './oidc.flow.js';

const API = 'http://127.0.0.1:4999';
const AGENT_SCOPE = DEFAULT_AGENT_SCOPES.join(' ');
const DAY = 86_400_000;

/** A registration the agent policy accepts; cases change one field. */
const agent = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  client_name: 'Test agent',
  token_endpoint_auth_method: 'none',
  redirect_uris: [REDIRECT],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  ...extra,
});
const without = (key: string) => Object.fromEntries(Object.entries(agent()).filter(([k]) => k !== key));

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** A raw RFC 7591 / 7592 request, for what openid-client would not send or not show. */
async function reg(url: string, init: { method?: string; body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...init.headers };
  const body = init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
  const res = await fetch(url, { method: init.method ?? 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** audit_log rows of one event, oldest first; the server writes them off the request path. */
async function audited(db: Knex, event: string, where: Record<string, unknown> = {}, n = 1): Promise<AuditRow[]> {
  for (let i = 0; ; i++) {
    const rows = await db('audit_log').where({ event, ...where }).orderBy([{ column: 'created_at', order: 'asc' }, { column: 'id', order: 'asc' }]);
    if (rows.length >= n || i >= 40) return rows.map((r: Record<string, unknown>) => auditRow(r));
    await sleep(50);
  }
}

function suite(backend: Backend) {
  describe(`RFC 7591 / 7592 dynamic registration, open mode (${backend})`, function () {
    this.timeout(60_000);
    let env: System;
    let issuer: string;
    const clients = () => env.db('oauth_clients').orderBy('client_id').select('client_id', 'source', 'metadata');
    const row = (id: string) => env.db('oauth_clients').where({ client_id: id }).first();

    before(async () => {
      env = await startSystem({ backend, authz: 0 });
      issuer = (await env.startAuthz()).issuer;
      await env.createUser({ email: 'alice@example.com', password: PASSWORD, name: 'Alice' });
    });
    after(() => env?.close());

    /** Code + PKCE S256 for the API (RFC 8707 resource) as alice, then the token response. */
    async function signIn(config: oidc.Configuration, scope: string) {
      const { callback, verifier, state } = await authorize(config, new HttpBrowser(), { scope, extra: { resource: API } });
      expect(callback?.href, 'callback').to.match(/^http:\/\/127\.0\.0\.1:8765\/callback\?code=/);
      return oidc.authorizationCodeGrant(config, callback!, { pkceCodeVerifier: verifier, expectedState: state });
    }

    it('registers a public client: 201 with its metadata, a registration access token and URI; stored as dynamic with the agent scopes; audited', async () => {
      const res = await reg(`${issuer}/reg`, { body: agent(), headers: { 'user-agent': 'reg-test' } });
      expect(res.status).to.equal(201);
      expect(res.headers.get('cache-control')).to.equal('no-store');
      const id = res.body.client_id as string;
      expect(id).to.match(/^[0-9a-f]{32}$/);
      expect(res.body).to.deep.include({
        client_name: 'Test agent',
        token_endpoint_auth_method: 'none',
        application_type: 'native', // a loopback redirect: a native app (RFC 8252)
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        scope: AGENT_SCOPE,
        registration_client_uri: `${issuer}/reg/${id}`,
      });
      expect(res.body.registration_access_token).to.be.a('string').with.length.at.least(40);
      expect(res.body).not.to.have.any.keys('client_secret', 'client_secret_expires_at');
      const stored = await row(id);
      expect(stored).to.deep.include({ source: 'dynamic', last_used_at: null });
      expect(JSON.parse(stored.metadata)).to.deep.include({ client_name: 'Test agent', scope: AGENT_SCOPE, token_endpoint_auth_method: 'none', application_type: 'native' });
      expect(JSON.parse(stored.metadata)).not.to.have.property('client_id');
      expect(await audited(env.db, 'client.registered', { actor_client_id: id })).to.deep.equal([
        {
          event: 'client.registered', outcome: 'success', actor_user_id: null, actor_client_id: id, subject_type: 'client', subject_id: id,
          request_id: res.headers.get('x-request-id'), ip_prefix: '127.0.0.0/24', user_agent: 'reg-test',
          properties: { authMethod: 'none', redirectUriCount: 1, scope: AGENT_SCOPE, mode: 'open' },
        },
      ]);
    });

    it('a client registered with openid-client signs a person in (code + PKCE S256, resource = the API) and refreshes, within the scope it registered', async () => {
      const config = await oidc.dynamicClientRegistration(new URL(issuer), agent({ scope: 'openid offline_access listings:read' }) as Partial<oidc.ClientMetadata>, oidc.None(), { execute: [oidc.allowInsecureRequests] });
      const id = config.clientMetadata().client_id;
      // usage:read is an agent scope it did not register, listings:write one no agent may hold.
      for (const extra of ['usage:read', 'listings:write']) {
        const { callback } = await authorize(config, new HttpBrowser(), { scope: `openid listings:read ${extra}`, extra: { resource: API } });
        expect([callback?.searchParams.get('error'), callback?.searchParams.get('error_description')], extra).to.deep.equal(['invalid_scope', 'requested scope is not allowed']);
      }
      const tokens = await signIn(config, 'openid offline_access listings:read');
      expect(tokens.refresh_token).to.be.a('string');
      const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
      const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer, audience: API, typ: 'at+jwt' });
      expect(payload).to.include({ client_id: id, scope: 'listings:read' });
      expect(tokens.scope).to.equal('listings:read'); // RFC 8707: the scope of the API's token
      expect(tokens.claims()).to.include({ aud: id, iss: issuer });
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource: API });
      expect(refreshed.refresh_token).to.be.a('string').and.not.equal(tokens.refresh_token);
      expect((await jwtVerify(refreshed.access_token, jwks, { issuer, audience: API })).payload.scope).to.equal('listings:read');
      // The purge's clock: the use is recorded (once per hour at most).
      let lastUsed: unknown = null;
      for (let i = 0; i < 40 && lastUsed === null; i++, await sleep(50)) lastUsed = (await row(id)).last_used_at;
      expect(Number(lastUsed)).to.be.within(Date.now() - 30_000, Date.now());
    });

    describe('refuses what the agent policy forbids, stores nothing', () => {
      const cases: [string, Record<string, unknown> | string | undefined, string, string][] = [
        ['a confidential method (client_secret_basic)', agent({ token_endpoint_auth_method: 'client_secret_basic' }), 'invalid_client_metadata',
          'token_endpoint_auth_method "client_secret_basic" is not allowed: register a public client with token_endpoint_auth_method "none"'],
        ['no method (RFC 7591 default: client_secret_basic)', without('token_endpoint_auth_method'), 'invalid_client_metadata',
          'token_endpoint_auth_method is missing (RFC 7591 defaults it to "client_secret_basic"): register a public client with token_endpoint_auth_method "none"'],
        ['a client_secret next to "none"', agent({ client_secret: 'my-own-secret-0123456789' }), 'invalid_client_metadata',
          'client_secret must not be sent: register a public client with token_endpoint_auth_method "none"'],
        ['a scope outside the agent set', agent({ scope: 'openid listings:write' }), 'invalid_client_metadata',
          `scope listings:write is not available to self-registered clients (allowed: ${AGENT_SCOPE})`],
        ['no client_name', without('client_name'), 'invalid_client_metadata', 'client_name is required'],
        ['an http redirect that is not loopback', agent({ redirect_uris: ['http://agent.example/callback'] }), 'invalid_redirect_uri',
          'redirect_uris: http://agent.example/callback: use https, a loopback http URI or a private-use scheme'],
        ['no redirect URI', agent({ redirect_uris: [] }), 'invalid_redirect_uri', 'redirect_uris must hold at least one redirect URI'],
        ['the implicit grant', agent({ grant_types: ['authorization_code', 'implicit'] }), 'invalid_client_metadata',
          'grant_types "implicit" not allowed (allowed: authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:device_code)'],
        ['the client_credentials grant', agent({ grant_types: ['client_credentials'] }), 'invalid_client_metadata',
          'grant_types "client_credentials" not allowed (allowed: authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:device_code)'],
        ['a token response type', agent({ response_types: ['code', 'token'] }), 'invalid_client_metadata', 'response_types "token" not allowed (allowed: code)'],
        ['a jwks_uri the server would fetch', agent({ jwks_uri: 'https://169.254.169.254/keys' }), 'invalid_client_metadata', 'jwks_uri is not accepted: a public client has no keys'],
        ['an empty request (no content type)', undefined, 'invalid_client_metadata',
          'token_endpoint_auth_method is missing (RFC 7591 defaults it to "client_secret_basic"): register a public client with token_endpoint_auth_method "none"'],
      ];
      for (const [title, body, error, description] of cases) {
        it(title, async () => {
          const before = await clients();
          const res = await reg(`${issuer}/reg`, { body });
          expect([res.status, res.body]).to.deep.equal([400, { error, error_description: description }]);
          expect(res.headers.get('cache-control')).to.equal('no-store');
          expect(await clients()).to.deep.equal(before);
        });
      }

      it('also at the spellings oidc-provider routes alike (/REG, /reg/)', async () => {
        const before = await clients();
        for (const path of ['/REG', '/reg/', '/Reg/']) {
          const res = await reg(`${issuer}${path}`, { body: agent({ token_endpoint_auth_method: 'client_secret_post' }) });
          expect([path, res.status, res.body.error]).to.deep.equal([path, 400, 'invalid_client_metadata']);
        }
        expect(await clients()).to.deep.equal(before);
        expect((await reg(`${issuer}/REG/`, { body: agent() })).status).to.equal(201); // the same route
      });

      it('leaves bad JSON and other content types to oidc-provider (invalid_request)', async () => {
        const before = await clients();
        expect((await reg(`${issuer}/reg`, { body: '{"client_name":' })).body.error).to.equal('invalid_request');
        expect((await reg(`${issuer}/reg`, { body: '[1]' })).body).to.deep.equal({ error: 'invalid_request', error_description: 'client registration request must be a JSON object' });
        const form = await reg(`${issuer}/reg`, { body: 'client_name=x&token_endpoint_auth_method=client_secret_basic', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        expect([form.status, form.body.error]).to.deep.equal([400, 'invalid_request']);
        expect(await clients()).to.deep.equal(before);
      });
    });

    describe('RFC 7592 management with the registration access token', () => {
      let id: string;
      let uri: string;
      let token: string;

      before(async () => {
        const res = await reg(`${issuer}/reg`, { body: agent({ scope: 'openid listings:read' }) });
        expect(res.status).to.equal(201);
        [id, uri, token] = [res.body.client_id as string, res.body.registration_client_uri as string, res.body.registration_access_token as string];
      });

      it('reads the registration (GET); a wrong token gets 401 invalid_token', async () => {
        const res = await reg(uri, { method: 'GET', token });
        expect(res.status).to.equal(200);
        expect(res.body).to.deep.include({ client_id: id, client_name: 'Test agent', scope: 'openid listings:read', registration_access_token: token, registration_client_uri: uri });
        for (const wrong of [undefined, 'not-a-token', `${token}x`]) {
          const refused = await reg(uri, { method: 'GET', token: wrong });
          expect([refused.status, refused.body.error], String(wrong)).to.deep.equal([401, 'invalid_token']);
          expect(refused.headers.get('www-authenticate')).to.match(/^Bearer /);
        }
      });

      it('updates under the same policy (PUT): a violation is refused and changes nothing; a valid one rotates the token', async () => {
        const stored = await row(id);
        for (const [body, error] of [
          [agent({ client_id: id, scope: 'openid listings:write' }), 'invalid_client_metadata'],
          [agent({ client_id: id, token_endpoint_auth_method: 'client_secret_basic' }), 'invalid_client_metadata'],
          [agent({ client_id: id, redirect_uris: ['http://agent.example/cb'] }), 'invalid_redirect_uri'],
          [agent({ client_id: id, grant_types: ['client_credentials'] }), 'invalid_client_metadata'],
        ] as const) {
          const res = await reg(uri, { method: 'PUT', token, body });
          expect([res.status, res.body.error]).to.deep.equal([400, error]);
        }
        expect(await row(id)).to.deep.equal(stored);
        expect((await reg(uri, { method: 'PUT', token: 'wrong', body: agent({ client_id: id }) })).status).to.equal(401);

        const res = await reg(uri, { method: 'PUT', token, body: agent({ client_id: id, client_name: 'Renamed agent', scope: 'openid usage:read' }) });
        expect(res.status).to.equal(200);
        expect(res.body).to.deep.include({ client_id: id, client_name: 'Renamed agent', scope: 'openid usage:read', token_endpoint_auth_method: 'none' });
        const rotated = res.body.registration_access_token as string;
        expect(rotated).to.be.a('string').and.not.equal(token);
        const after = await row(id);
        expect(after).to.deep.include({ source: 'dynamic', created_at: stored.created_at });
        expect(JSON.parse(after.metadata)).to.deep.include({ client_name: 'Renamed agent', scope: 'openid usage:read' });
        expect((await reg(uri, { method: 'GET', token })).status, 'the old token').to.equal(401);
        // An update without scope gets the agent scopes again, never "any scope".
        const noScope = await reg(uri, { method: 'PUT', token: rotated, body: agent({ client_id: id }) });
        expect([noScope.status, noScope.body.scope]).to.deep.equal([200, AGENT_SCOPE]);
        token = noScope.body.registration_access_token as string;
      });

      it('deletes the client (DELETE): its grants and tokens end, client.deleted reason self', async () => {
        const config = await oidc.discovery(new URL(issuer), id, { redirect_uris: [REDIRECT] }, oidc.None(), { execute: [oidc.allowInsecureRequests] });
        const tokens = await signIn(config, 'openid offline_access listings:read');
        const grants = async () => (await env.db('oidc_models').where({ model: 'Grant' }).select('payload')).filter((r: { payload: string }) => JSON.parse(r.payload).clientId === id).length;
        expect(await grants()).to.equal(1);
        const res = await fetch(uri, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'user-agent': 'reg-test' } });
        expect(res.status).to.equal(204);
        expect(await row(id)).to.equal(undefined);
        expect(await grants()).to.equal(0);
        expect(await env.db('oidc_models').where({ model: 'RegistrationAccessToken' }).whereRaw('payload like ?', [`%${id}%`])).to.deep.equal([]);
        expect((await reg(uri, { method: 'GET', token })).status).to.equal(401);
        const refresh = await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(() => undefined, (e: oidc.ResponseBodyError) => e.error);
        expect(refresh).to.equal('invalid_client');
        expect(await audited(env.db, 'client.deleted', { actor_client_id: id })).to.deep.equal([
          {
            event: 'client.deleted', outcome: 'success', actor_user_id: null, actor_client_id: id, subject_type: 'client', subject_id: id,
            request_id: res.headers.get('x-request-id'), ip_prefix: '127.0.0.0/24', user_agent: 'reg-test', properties: { reason: 'self' },
          },
        ]);
      });
    });

    it('the purge deletes dynamic clients unused for DYNAMIC_CLIENT_UNUSED_DAYS with their grants; keeps used ones and every admin client', async () => {
      const register = async (name: string) => (await reg(`${issuer}/reg`, { body: agent({ client_name: name }) })).body.client_id as string;
      const [neverUsed, longUnused, used] = [await register('never used'), await register('long unused'), await register('used')];
      const config = await oidc.discovery(new URL(issuer), longUnused, { redirect_uris: [REDIRECT] }, oidc.None(), { execute: [oidc.allowInsecureRequests] });
      const tokens = await signIn(config, 'openid offline_access');
      await env.createClient({ clientId: `old-admin-${backend}`, name: 'Old admin app', type: 'public', redirectUris: [REDIRECT] });
      const now = Date.now();
      const old = now - 31 * DAY;
      await env.db('oauth_clients').whereIn('client_id', [neverUsed, `old-admin-${backend}`]).update({ created_at: old, last_used_at: null });
      await env.db('oauth_clients').where({ client_id: longUnused }).update({ created_at: old - DAY, last_used_at: old });
      await env.db('oauth_clients').where({ client_id: used }).update({ created_at: old - DAY, last_used_at: now - 29 * DAY });

      const logger = createLogger({ level: 'silent', service: 'test' });
      const audit = createAudit({ db: env.db, logger, secret: 'x'.repeat(32) });
      await startPurge({ db: env.db, logger, config: env.config, audit }).runOnce();
      await audit.close();

      const left = new Set((await env.db('oauth_clients').select('client_id')).map((r: { client_id: string }) => r.client_id));
      expect([neverUsed, longUnused, used, `old-admin-${backend}`].map((c) => left.has(c))).to.deep.equal([false, false, true, true]);
      const grantsOf = (await env.db('oidc_models').where({ model: 'Grant' }).select('payload')).filter((r: { payload: string }) => JSON.parse(r.payload).clientId === longUnused);
      expect(grantsOf).to.deep.equal([]);
      const refresh = await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(() => undefined, (e: oidc.ResponseBodyError) => e.error);
      expect(refresh).to.equal('invalid_client');
      const purged = (await audited(env.db, 'client.purged')).map(({ properties, event, outcome, actor_client_id }) => ({ event, outcome, actor_client_id, properties }));
      expect(purged).to.deep.equal([{ event: 'client.purged', outcome: 'success', actor_client_id: null, properties: { count: 2, unusedDays: 30 } }]);
    });
  });
}

suite('sqlite');
if (PG_URL) suite('pg');
else describe.skip(`RFC 7591 / 7592 dynamic registration, open mode (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
