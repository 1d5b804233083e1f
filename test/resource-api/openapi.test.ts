import { expect } from 'chai';
import { HttpErrors, StorageErrors, type ErrorCatalog } from '#shared/errors/index.js';
import { API_SCOPES, SCOPE_DESCRIPTIONS } from '#shared/oauth/scopes.js';
import { apiContracts } from '#api/app.js';
import { AuthErrors } from '#api/auth/errors.js';
import { BillingErrors } from '#api/features/billing/index.js';
import { ListingErrors } from '#api/features/listings/index.js';
import { ReviewErrors } from '#api/features/reviews/index.js';
import { UsageErrors } from '#api/features/usage/index.js';
import type { RouteContract } from '#api/http/contract.js';
import { openApiDocument } from '#api/http/openapi.js';
import { CROSS_CUTTING, NOT_OPERATION_CODES } from '#api/http/openapi.errors.js';
import { apiFixture, type ApiFixture } from './fixture.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- the document is JSON, walked field by field */
const CATALOGS: Record<string, ErrorCatalog> = { HttpErrors, StorageErrors, AuthErrors, BillingErrors, ListingErrors, ReviewErrors, UsageErrors };
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const FAKE_ID = '00000000-0000-4000-8000-000000000000';

function operationsOf(doc: any): { method: string; path: string; op: any }[] {
  return Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) =>
    Object.entries(ops).filter(([m]) => METHODS.includes(m)).map(([method, op]) => ({ method, path, op })));
}

function refsIn(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refsIn(n, found));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') found.push(v);
      else refsIn(v, found);
    }
  }
  return found;
}

const pointer = (doc: any, ref: string) => ref.slice(2).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).reduce((n, p) => n?.[p], doc);

describe('OpenAPI document', function () {
  this.timeout(120_000);
  let f: ApiFixture;
  let doc: any;
  let contracts: RouteContract[];
  before(async () => {
    f = await apiFixture('sqlite');
    doc = (await f.request('GET', '/openapi.json')).body;
    contracts = apiContracts({ db: f.env.db, config: f.env.config });
  });
  after(() => f?.close());

  it('every $ref resolves, and every request and success body is a named component schema', () => {
    const refs = refsIn(doc);
    expect(refs.length).to.be.greaterThan(20);
    for (const ref of refs) {
      expect(ref, ref).to.match(/^#\/components\/schemas\/[A-Z][A-Za-z0-9]*$/);
      expect(pointer(doc, ref), ref).to.be.an('object');
    }
    expect(JSON.stringify(doc)).not.to.match(/\$defs|__shared|"\$id"/);
    for (const { method, path, op } of operationsOf(doc)) {
      const label = `${method} ${path}`;
      if (op.requestBody) expect(op.requestBody.content['application/json'].schema, label).to.have.keys('$ref');
      for (const [status, r] of Object.entries(op.responses as Record<string, any>)) {
        if (status.startsWith('2') && r.content) expect(r.content['application/json'].schema, `${label} ${status}`).to.have.keys('$ref');
      }
    }
    for (const name of ['Error', 'Listing', 'ListingPage', 'Review', 'ReviewPage', 'CreateCheckoutSessionRequest', 'ReportUsageRequest', 'ReportUsageResponse', 'StripeEvent']) {
      expect(doc.components.schemas, name).to.have.property(name);
    }
    expect(doc.components.schemas.ListingPage.properties.items.items).to.deep.equal({ $ref: '#/components/schemas/Listing' });
    expect(doc.components.schemas.Error.properties.error.required).to.deep.equal(['code', 'message', 'requestId']);
  });

  it('every operation has a unique camelCase operationId, the contracts\' own', () => {
    const ids = operationsOf(doc).map(({ op }) => op.operationId as string);
    for (const id of ids) expect(id).to.match(/^[a-z][a-zA-Z0-9]*$/);
    expect(new Set(ids).size).to.equal(ids.length);
    expect(ids.sort()).to.deep.equal([...contracts.map((c) => c.operationId), 'receiveStripeWebhook'].sort());
    for (const c of contracts) expect(doc.paths[c.path.replace(/:(\w+)/g, '{$1}')][c.method].operationId).to.equal(c.operationId);
    expect(ids).to.include.members(['listListings', 'getListing', 'createListing', 'createCheckoutSession', 'reportUsage', 'listQuotas', 'getMe']);
  });

  it('refuses to build a document from a duplicate operationId or from error statuses that disagree with the codes', () => {
    const [first, second] = contracts as [RouteContract, RouteContract];
    expect(() => openApiDocument([first, { ...second, operationId: first.operationId }], f.env.config)).to.throw(`operationId ${first.operationId} is used twice`);
    expect(() => openApiDocument([{ ...first, operationId: 'Get_me' }], f.env.config)).to.throw('operationId Get_me is not camelCase');
    expect(() => openApiDocument([{ ...first, errors: [...first.errors, 418] }], f.env.config)).to.throw(`${first.operationId} declares errors`);
    expect(() => openApiDocument([{ ...first, errors: first.errors.filter((s) => s !== 401) }], f.env.config)).to.throw(`${first.operationId} declares errors`);
  });

  it('security: each operation names declared schemes with the scopes it needs, or is explicitly public; every scope is described', () => {
    const schemes = doc.components.securitySchemes;
    expect(Object.keys(schemes).sort()).to.deep.equal(['bearer', 'clientToken', 'session', 'stripeSignature']);
    const scopes = schemes.bearer.flows.authorizationCode.scopes;
    // The consent page's wording, from the one table both use.
    expect(scopes).to.deep.equal(Object.fromEntries(API_SCOPES.map((s) => [s, SCOPE_DESCRIPTIONS[s]])));
    expect(Object.keys(scopes)).to.have.members([...API_SCOPES]);
    for (const s of API_SCOPES) expect(scopes[s], s).to.be.a('string').and.not.equal(s);
    expect(schemes.clientToken.flows.clientCredentials.scopes).to.deep.equal(scopes);
    expect(schemes.session).to.include({ type: 'apiKey', in: 'cookie', name: 'portcullis.session_token' });
    expect(schemes.stripeSignature).to.include({ type: 'apiKey', in: 'header', name: 'Stripe-Signature' });
    for (const { method, path, op } of operationsOf(doc)) {
      const label = `${method} ${path}`;
      expect(op.security, label).to.be.an('array').that.is.not.empty;
      for (const requirement of op.security) {
        for (const [scheme, wanted] of Object.entries(requirement as Record<string, string[]>)) {
          expect(schemes, label).to.have.property(scheme);
          for (const scope of wanted) expect(API_SCOPES as readonly string[], label).to.include(scope);
        }
      }
      const isPublic = op.security.some((r: object) => Object.keys(r).length === 0);
      const contract = contracts.find((c) => c.operationId === op.operationId);
      expect(isPublic, label).to.equal(contract?.access === 'public');
      // Anything a person's token may call, it may call only with the scopes listed.
      if (!isPublic && contract) expect(op.responses['403']['x-error-codes'], label).to.include('USER_TOKEN_REQUIRED');
    }
    expect(doc.paths['/v1/usage'].post.security).to.deep.equal([{ bearer: ['usage:report'] }, { session: [] }]);
    expect(doc.paths['/v1/admin/audit'].get.security).to.deep.equal([{ session: [] }]);
    expect(doc.paths['/v1/webhooks/stripe'].post.security).to.deep.equal([{ stripeSignature: [] }]);
  });

  it('each error response lists the codes its status carries, as x-error-codes, an enum on error.code and in the description', () => {
    const statusOf = new Map<string, Set<number>>();
    for (const catalog of Object.values(CATALOGS)) for (const [code, e] of Object.entries(catalog)) (statusOf.get(code) ?? statusOf.set(code, new Set()).get(code)!).add(e.status);
    for (const { method, path, op } of operationsOf(doc)) {
      for (const [status, r] of Object.entries(op.responses as Record<string, any>)) {
        if (status.startsWith('2')) continue;
        const label = `${method} ${path} ${status}`;
        const codes: string[] = r['x-error-codes'];
        expect(codes, label).to.be.an('array').that.is.not.empty;
        for (const code of codes) {
          expect([...(statusOf.get(code) ?? [])], `${label} ${code}`).to.include(Number(status));
          expect(r.description, label).to.contain(code);
        }
        const [envelope, narrowed] = r.content['application/json'].schema.allOf;
        expect(envelope, label).to.deep.equal({ $ref: '#/components/schemas/Error' });
        expect(narrowed.properties.error.properties.code.enum, label).to.deep.equal(codes);
      }
      for (const { code, status } of CROSS_CUTTING) expect(op.responses[status]?.['x-error-codes'], `${method} ${path}`).to.include(code);
    }
    const listing = doc.paths['/v1/listings/{idOrSlug}'].get.responses;
    expect(listing['404']['x-error-codes']).to.deep.equal(['LISTING_NOT_FOUND']);
    expect(doc.paths['/v1/usage'].post.responses['402']['x-error-codes']).to.deep.equal(['QUOTA_EXCEEDED']);
    expect(doc.paths['/v1/checkout/sessions'].post.responses['409']['x-error-codes']).to.deep.equal(['ALREADY_SUBSCRIBED', 'LISTING_NOT_PURCHASABLE']);
  });

  it('every catalog code is documented on some operation or listed, with a reason, as answered by none', () => {
    const documented = new Set(operationsOf(doc).flatMap(({ op }) => Object.values(op.responses as Record<string, any>).flatMap((r) => r['x-error-codes'] ?? [])));
    for (const [name, catalog] of Object.entries(CATALOGS)) {
      for (const code of Object.keys(catalog)) {
        expect(documented.has(code) || code in NOT_OPERATION_CODES, `${name}.${code} is neither documented nor explained`).to.equal(true);
        if (code in NOT_OPERATION_CODES) expect(documented.has(code), `${code} is documented and also listed as answered by none`).to.equal(false);
      }
    }
    const known = new Set(Object.values(CATALOGS).flatMap((c) => Object.keys(c)));
    for (const code of Object.keys(NOT_OPERATION_CODES)) expect(known.has(code), `${code} is in no catalog`).to.equal(true);
  });

  it('documents the Stripe webhook: signed raw JSON event, Stripe-Signature header, what each status tells Stripe', () => {
    const op = doc.paths['/v1/webhooks/stripe'].post;
    expect(op.operationId).to.equal('receiveStripeWebhook');
    expect(op.parameters).to.deep.equal([{ name: 'Stripe-Signature', in: 'header', required: true, description: op.parameters[0].description, schema: { type: 'string' } }]);
    expect(op.requestBody.content['application/json'].schema).to.deep.equal({ $ref: '#/components/schemas/StripeEvent' });
    expect(doc.components.schemas.StripeEvent.required).to.include.members(['id', 'type', 'data']);
    expect(Object.keys(op.responses)).to.deep.equal(['200', '400', '413', '500', '503']);
    expect(op.responses['400']['x-error-codes']).to.deep.equal(['WEBHOOK_SIGNATURE_INVALID']);
    expect(op.responses['503']['x-error-codes']).to.deep.equal(['BILLING_NOT_CONFIGURED', 'DATABASE_UNAVAILABLE', 'SHUTTING_DOWN']);
    expect(doc.components.schemas.StripeWebhookAck.properties.outcome.enum).to.deep.equal(['queued', 'ignored', 'duplicate']);
  });

  it('what the API answers is documented: every error status and code seen on every operation', async () => {
    const seen: string[] = [];
    for (const { method, path, op } of operationsOf(doc)) {
      const url = path.replace(/\{\w+\}/g, FAKE_ID);
      const M = method.toUpperCase();
      const body = op.requestBody ? { body: {} } : {};
      const query = op.parameters?.some((p: any) => p.in === 'query') ? '?cursor=not-a-cursor' : '';
      const answers = [
        await f.request(M, url, body),
        await f.request(M, url, { as: 'alice', ...body }),
        await f.request(M, url, { as: 'ada', via: 'session', ...body }),
        await f.request(M, `${url}${query}`, { as: 'ada', scope: 'listings:read', ...body }),
        await f.request(M, url, { headers: { authorization: 'Bearer not.a.jwt' }, ...body }),
      ];
      for (const res of answers) {
        const label = `${M} ${path} → ${res.status} ${res.body?.error?.code}`;
        expect(op.responses, label).to.have.property(String(res.status));
        if (res.status >= 400) expect(op.responses[res.status]['x-error-codes'], label).to.include(res.body.error.code);
        seen.push(`${res.status} ${res.body?.error?.code}`);
      }
    }
    // The probes reach the credential, scope, role, validation, not-found and webhook answers.
    expect(seen).to.include.members(['401 UNAUTHENTICATED', '401 INVALID_TOKEN', '403 INSUFFICIENT_SCOPE', '403 FORBIDDEN', '400 VALIDATION_FAILED', '404 LISTING_NOT_FOUND', '400 INVALID_CURSOR']);
  });
});
