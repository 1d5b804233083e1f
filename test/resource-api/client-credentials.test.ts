import { expect } from 'chai';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { startSystem, type System, type Backend } from '../helpers/system.js';
import { startApi } from '../helpers/api.js';
import { insertListing } from '../helpers/listings.js';
import { PG_URL, PG_SKIP_REASON } from '../helpers/services.js';
import { PASSWORD, discover } from '../authz-server/oidc.flow.js';

const AUDIENCE = 'http://127.0.0.1:4999';

/**
 * A client acting for itself (client_credentials) at the resource API: its token is an RFC 9068
 * JWT for the API with the API scopes it asked for (RFC 8707 resource), it reads what needs no
 * person (the public catalogue, the OpenAPI document), and every route that acts for a person
 * answers 403 USER_TOKEN_REQUIRED.
 */
function suite(backend: Backend) {
  describe(`resource API: client_credentials tokens (${backend})`, function () {
    this.timeout(60_000);
    let env: System;
    let api: Awaited<ReturnType<typeof startApi>>;
    let issuer: string;
    let cc: oidc.Configuration;
    let listingId: string;
    let draftId: string;

    before(async () => {
      env = await startSystem({ backend, authz: 0 });
      issuer = (await env.startAuthz()).issuer;
      const m2m = await env.createClient({ clientId: 'batch-job', name: 'Batch job', type: 'confidential', redirectUris: ['https://m2m.example/cb'], scopes: ['openid', 'listings:read', 'listings:write'], clientCredentials: true });
      cc = await discover(issuer, m2m.clientId, oidc.ClientSecretBasic(m2m.clientSecret!), m2m.clientSecret);
      const publisher = await env.createUser({ email: 'pat@example.com', password: PASSWORD, role: 'publisher' });
      listingId = await insertListing(env.db, { publisherId: publisher, title: 'Published agent' });
      draftId = await insertListing(env.db, { publisherId: publisher, title: 'Draft agent' });
      await env.db('listings').where({ id: draftId }).update({ status: 'draft', published_at: null });
      api = await startApi(env.config, { jwksCooldownMs: 0 });
    });
    after(async () => {
      await api?.close();
      await env?.close();
    });

    const call = (path: string, token: string, init: { method?: string; body?: unknown } = {}) =>
      fetch(`${api.url}${path}`, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
        body: init.body ? JSON.stringify(init.body) : undefined,
      });
    async function expectError(res: Response, status: number, code: string) {
      const body = (await res.json()) as { error?: { code?: string } };
      expect([res.status, body.error?.code]).to.deep.equal([status, code]);
    }

    it('issues an RFC 9068 JWT for the API with the requested API scopes only (resource indicator)', async () => {
      const tokens = await oidc.clientCredentialsGrant(cc, { scope: 'openid listings:read', resource: AUDIENCE });
      const { payload, protectedHeader } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: AUDIENCE, typ: 'at+jwt' });
      expect(protectedHeader.alg).to.equal('ES256'); // API_TOKEN_SIGNING_ALG's default
      expect([payload.sub, payload.client_id, payload.scope, payload.aud]).to.deep.equal(['batch-job', 'batch-job', 'listings:read', AUDIENCE]);
      expect(tokens.scope).to.equal('listings:read');
      expect(tokens.refresh_token).to.equal(undefined);
    });

    it('selects the API as the resource when API scopes are asked for without one', async () => {
      const tokens = await oidc.clientCredentialsGrant(cc, { scope: 'listings:read listings:write' });
      expect(decodeJwt(tokens.access_token)).to.deep.include({ aud: AUDIENCE, scope: 'listings:read listings:write', sub: 'batch-job' });
    });

    it('refuses a scope the client is not registered for, and an unknown resource', async () => {
      for (const [params, error] of [
        [{ scope: 'listings:read usage:read', resource: AUDIENCE }, 'invalid_scope'],
        [{ scope: 'listings:read', resource: 'https://other-api.example' }, 'invalid_target'],
      ] as const) {
        const err = await oidc.clientCredentialsGrant(cc, params).then(() => undefined, (e: unknown) => e);
        expect(err, JSON.stringify(params)).to.be.instanceOf(oidc.ResponseBodyError);
        expect([(err as oidc.ResponseBodyError).status, (err as oidc.ResponseBodyError).error]).to.deep.equal([400, error]);
      }
    });

    it('reads the public catalogue and the OpenAPI document, seeing what an anonymous caller sees', async () => {
      const { access_token } = await oidc.clientCredentialsGrant(cc, { scope: 'listings:read', resource: AUDIENCE });
      const list = await call('/v1/listings', access_token);
      expect(list.status).to.equal(200);
      expect(((await list.json()) as { items: { id: string }[] }).items.map((l) => l.id)).to.deep.equal([listingId]);
      expect((await call(`/v1/listings/${listingId}`, access_token)).status).to.equal(200);
      await expectError(await call(`/v1/listings/${draftId}`, access_token), 404, 'LISTING_NOT_FOUND');
      const doc = await call('/openapi.json', access_token);
      expect(doc.status).to.equal(200);
      expect(((await doc.json()) as { openapi: string }).openapi).to.equal('3.1.0');
    });

    it('answers 403 USER_TOKEN_REQUIRED on /v1/me and on a write, whatever the token\'s scopes', async () => {
      const { access_token } = await oidc.clientCredentialsGrant(cc, { scope: 'listings:read listings:write', resource: AUDIENCE });
      await expectError(await call('/v1/me', access_token), 403, 'USER_TOKEN_REQUIRED');
      const body = { title: 'By a robot', summary: 's', description: 'd', price: { type: 'one_time', currency: 'EUR', amountMinor: 100 }, quota: { units: 1, period: 'once' } };
      await expectError(await call('/v1/listings', access_token, { method: 'POST', body }), 403, 'USER_TOKEN_REQUIRED');
      await expectError(await call(`/v1/listings/${listingId}/unpublish`, access_token, { method: 'POST' }), 403, 'USER_TOKEN_REQUIRED');
      expect(await env.db('listings').count({ n: '*' }).first()).to.deep.include({ n: env.config.db.client === 'pg' ? '2' : 2 });
      expect((await env.db('listings').where({ id: listingId }).first()).status).to.equal('published');
    });

    it('still refuses a forged or foreign token with 401 before asking who it is for', async () => {
      const { access_token } = await oidc.clientCredentialsGrant(cc, { scope: 'listings:read', resource: AUDIENCE });
      await expectError(await call('/v1/me', `${access_token.slice(0, -4)}AAAA`), 401, 'INVALID_TOKEN');
      await expectError(await call('/v1/listings', `${access_token.slice(0, -4)}AAAA`), 401, 'INVALID_TOKEN');
    });
  });
}

suite('sqlite');
if (PG_URL) suite('pg');
else describe.skip(`resource API: client_credentials tokens (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
