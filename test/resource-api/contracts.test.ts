import { expect } from 'chai';
import * as oidc from 'openid-client';
import { roles, type RoleName } from '#shared/auth/permissions.js';
import { apiContracts } from '#api/app.js';
import { scopesFor } from '#api/auth/scopes.js';
import type { RouteContract } from '#api/http/contract.js';
import { stripeWebhookDoc } from '#api/features/billing/index.js';
import { apiFixture, ALL_API_SCOPES, USERS, type ApiFixture, type UserName } from './fixture.js';
import { discover } from '../authz-server/oidc.flow.js';

const FAKE_ID = '00000000-0000-4000-8000-000000000000';
const pathOf = (c: RouteContract) => c.path.replace(/:\w+/g, FAKE_ID);
const userWithRole = (role: RoleName) => Object.entries(USERS).find(([, r]) => r === role)![0] as UserName;

/**
 * Generated from the route contracts: every guarded route is called by every role (session)
 * and by tokens with and without the scope it needs. A role that lacks the permission must
 * get 403 FORBIDDEN; a role that has it must get past the guard (whatever the handler then
 * says about the fake id); a token missing the scope must get 403 INSUFFICIENT_SCOPE.
 */
describe('route contracts', function () {
  this.timeout(120_000);
  let f: ApiFixture;
  let contracts: RouteContract[];
  before(async () => {
    f = await apiFixture('sqlite');
    contracts = apiContracts({ db: f.env.db, config: f.env.config });
  });
  after(() => f?.close());

  it('RBAC: each role is allowed exactly what the statement grants, on every guarded route', async () => {
    let checked = 0;
    for (const c of contracts) {
      if (typeof c.access !== 'object') continue;
      for (const role of Object.keys(roles) as RoleName[]) {
        const allowed = roles[role].authorize(c.access.permission as never).success;
        const res = await f.request(c.method.toUpperCase(), pathOf(c), { as: userWithRole(role), via: 'session', ...(c.body ? { body: {} } : {}) });
        const label = `${c.method} ${c.path} as ${role}`;
        if (allowed) expect(res.status, label).not.to.be.oneOf([401, 403]);
        else expect([res.status, res.body?.error?.code], label).to.deep.equal([403, 'FORBIDDEN']);
        checked++;
      }
    }
    expect(checked).to.be.greaterThan(10);
  });

  it('scopes: a token without the route\'s scope is refused; with it, the admin\'s token gets past the guard', async () => {
    for (const c of contracts) {
      if (typeof c.access !== 'object') continue;
      const needed = scopesFor(c.access.permission);
      const label = `${c.method} ${c.path}`;
      const none = await f.request(c.method.toUpperCase(), pathOf(c), { as: 'ada', scope: 'usage:read', ...(c.body ? { body: {} } : {}) });
      if (!needed.includes('usage:read')) expect([none.status, none.body?.error?.code], label).to.deep.equal([403, 'INSUFFICIENT_SCOPE']);
      if (needed.some((s) => s === null)) continue; // session-only permission
      const withScope = await f.request(c.method.toUpperCase(), pathOf(c), { as: 'ada', scope: needed.join(' '), ...(c.body ? { body: {} } : {}) });
      expect(withScope.status, label).not.to.be.oneOf([401, 403]);
    }
  });

  it('client tokens: a client acting for itself is served on every public route and refused with 403 USER_TOKEN_REQUIRED on every other', async () => {
    const m2m = await f.env.createClient({ clientId: 'contracts-m2m', name: 'Batch job', type: 'confidential', redirectUris: ['https://m2m.example/cb'], scopes: ALL_API_SCOPES.split(' '), clientCredentials: true });
    const cc = await discover(f.env.config.authz.issuer, m2m.clientId, oidc.ClientSecretBasic(m2m.clientSecret!), m2m.clientSecret);
    // Every API scope: the refusal is about who is calling, not about what the token may do.
    const { access_token } = await oidc.clientCredentialsGrant(cc, { scope: ALL_API_SCOPES, resource: f.env.config.api.audience });
    const authorization = `Bearer ${access_token}`;
    let publicRoutes = 0;
    for (const c of contracts) {
      const res = await f.request(c.method.toUpperCase(), pathOf(c), { headers: { authorization }, ...(c.body ? { body: {} } : {}) });
      const anonymous = await f.request(c.method.toUpperCase(), pathOf(c), c.body ? { body: {} } : {});
      const label = `${c.method} ${c.path}`;
      if (c.access === 'public') {
        // What an anonymous caller gets (the same page, the same 404 for a draft or a fake id).
        expect([res.status, res.body?.error?.code ?? res.body], label).to.deep.equal([anonymous.status, anonymous.body?.error?.code ?? anonymous.body]);
        publicRoutes++;
      } else {
        expect([res.status, res.body?.error?.code], label).to.deep.equal([403, 'USER_TOKEN_REQUIRED']);
      }
    }
    expect(publicRoutes).to.be.greaterThan(2);
  });

  it('every non-public route answers 401 without credentials', async () => {
    for (const c of contracts) {
      if (c.access === 'public') continue;
      const res = await f.request(c.method.toUpperCase(), pathOf(c));
      expect([res.status, res.body?.error?.code], `${c.method} ${c.path}`).to.deep.equal([401, 'UNAUTHENTICATED']);
    }
  });

  it('answers bad bodies on every body-taking route with a 4xx and stores nothing', async () => {
    // The whole content of the business tables: any write by a rejected request changes it.
    const snapshot = async () => JSON.stringify(await Promise.all(['listings', 'reviews', 'entitlements'].map((t) => f.env.db(t).select('*').orderBy('id'))));
    const before = await snapshot();
    let checked = 0;
    for (const c of contracts) {
      if (!c.body) continue;
      const path = pathOf(c);
      const label = `${c.method} ${c.path}`;
      const method = c.method.toUpperCase();
      const cases: [unknown, Record<string, string> | undefined, number, string][] = [
        [{ unknownField: 1 }, undefined, 400, 'VALIDATION_FAILED'],
        ['{"a":', undefined, 400, 'INVALID_JSON'],
        ['{"__proto__":{"isAdmin":true}}', undefined, 400, 'INVALID_JSON'],
        ['hello', { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
        [[1, 2, 3], undefined, 400, 'VALIDATION_FAILED'],
      ];
      for (const [body, headers, status, code] of cases) {
        const res = await f.request(method, path, { as: 'ada', via: 'session', body, ...(headers ? { headers } : {}) });
        expect([res.status, res.body?.error?.code], `${label} ${JSON.stringify(body)}`).to.deep.equal([status, code]);
        checked++;
      }
    }
    expect(checked).to.be.greaterThan(5);
    expect(await snapshot()).to.equal(before);
  });

  it('publishes /openapi.json with every route, its security, body and documented statuses', async () => {
    const doc = (await f.request('GET', '/openapi.json')).body;
    const resolve = (s: { $ref?: string }) => (s.$ref ? doc.components.schemas[s.$ref.replace('#/components/schemas/', '')] : s);
    expect(doc.openapi).to.equal('3.1.0');
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    // The Stripe webhook is no contract (raw body), but documented too.
    const registered = [...contracts, stripeWebhookDoc].map((c) => `${c.method} ${c.path.replace(/:(\w+)/g, '{$1}')}`);
    expect(documented.sort()).to.deep.equal(registered.sort());
    for (const c of contracts) {
      const op = doc.paths[c.path.replace(/:(\w+)/g, '{$1}')][c.method];
      expect(Object.keys(op.responses), c.path).to.include(String(c.status));
      for (const s of c.errors) expect(Object.keys(op.responses), c.path).to.include(String(s));
      if (c.body) expect(resolve(op.requestBody.content['application/json'].schema).additionalProperties, c.path).to.equal(false);
      // A client acting for itself is offered exactly the public routes; a permission no scope grants, the session only.
      const scopes = typeof c.access === 'object' ? scopesFor(c.access.permission) : [];
      const person = scopes.includes(null) ? [{ session: [] }] : [{ bearer: scopes }, { session: [] }];
      expect(op.security, c.path).to.deep.equal(c.access === 'public' ? [{}, { bearer: [] }, { clientToken: [] }, { session: [] }] : person);
      if (c.access !== 'public') expect(op.responses['403']?.description, c.path).to.contain('USER_TOKEN_REQUIRED');
    }
    expect(doc.components.securitySchemes.clientToken.flows.clientCredentials.tokenUrl).to.equal(`${f.env.config.authz.issuer}/token`);
  });

  it('every /v1 route the app serves is described by a contract (no undocumented routes)', async () => {
    for (const [method, path, status, code] of [
      ['GET', '/v1/nope', 404, 'NOT_FOUND'],
      ['PUT', '/v1/listings', 405, 'METHOD_NOT_ALLOWED'],
      ['POST', '/v1/me', 405, 'METHOD_NOT_ALLOWED'],
    ] as const) {
      const res = await f.request(method, path, { as: 'ada', via: 'session' });
      expect([res.status, res.body.error.code], `${method} ${path}`).to.deep.equal([status, code]);
    }
  });
});
