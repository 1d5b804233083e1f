import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { z } from 'zod';
import { apiContracts, FEATURES } from '#api/app.js';
import { defineRoute, errorCodes, type RouteContract } from '#api/http/contract.js';
import { ListingErrors } from '#api/features/listings/index.js';
import type { Backend } from '../helpers/system.js';
import { signedEvent, startFakeStripe, stripeEvent, type FakeStripe } from '../helpers/fake-stripe.js';
import { PG_SKIP_REASON, PG_URL } from '../helpers/services.js';
import { objects } from './billing/billing.fixture.js';
import { eventSettled } from './billing/webhook-queue.helpers.js';
import { apiFixture, FRONTEND, type ApiFixture } from './fixture.js';
import { responseChecker } from './responses.js';

const WEBHOOK_SECRET = 'whsec_portcullis_responses';
const LISTING = {
  title: 'Research Agent', summary: 'Finds and summarises papers', description: 'A long description',
  price: { type: 'one_time', currency: 'EUR', amountMinor: 900 }, quota: { units: 50, period: 'month' },
};

/**
 * Every operation of the API called once with success, on the real app: fixture.ts checks each
 * answer against its contract (responses.ts), so a handler whose body drifts from its declared
 * `response` schema fails here even where no test looks at that field. The last assertion makes
 * a new operation without a call here fail too.
 */
function suite(backend: Backend) {
  describe(`every operation answers the body its contract declares (${backend})`, function () {
    this.timeout(120_000);
    let stripe: FakeStripe;
    let f: ApiFixture;
    before(async () => {
      stripe = await startFakeStripe();
      f = await apiFixture(backend, { STRIPE_SECRET_KEY: 'sk_test_portcullis', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_URL: stripe.url });
    });
    after(async () => {
      await f?.close();
      await stripe?.close();
    });

    const ok = async (status: number, method: string, path: string, opts: Parameters<ApiFixture['request']>[2] = {}) => {
      const res = await f.request(method, path, opts);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).to.equal(status);
      return res.body;
    };

    it('calls each operation once; each success body parses with its response schema and declares every field', async () => {
      await ok(200, 'GET', '/v1/me', { as: 'alice' });
      const listing = await ok(201, 'POST', '/v1/listings', { as: 'pat', body: LISTING });
      await ok(200, 'PATCH', `/v1/listings/${listing.id}`, { as: 'pat', body: { summary: 'Finds papers' } });
      await ok(200, 'POST', `/v1/listings/${listing.id}/publish`, { as: 'pat' });
      await ok(200, 'POST', `/v1/listings/${listing.id}/unpublish`, { as: 'pat' });
      await ok(200, 'POST', `/v1/listings/${listing.id}/publish`, { as: 'pat' });
      await ok(200, 'GET', '/v1/listings');
      await ok(200, 'GET', `/v1/listings/${listing.slug}`);
      const other = await ok(201, 'POST', '/v1/listings', { as: 'pat', body: LISTING });
      await ok(200, 'POST', `/v1/listings/${other.id}/suspend`, { as: 'ada', via: 'session' });
      await ok(204, 'DELETE', `/v1/listings/${other.id}`, { as: 'pat' });

      // Alice buys the listing: Stripe's signed event grants the entitlement reviews and usage need.
      const purchase = signedEvent(WEBHOOK_SECRET, stripeEvent('checkout.session.completed', objects.checkoutSession({ userId: f.ids.alice, listingId: listing.id })));
      await ok(200, 'POST', '/v1/webhooks/stripe', { body: purchase.payload, headers: { 'stripe-signature': purchase.signature } });
      // The API's worker applies the stored event; the review below needs what it grants.
      expect((await eventSettled(f.env.db, (JSON.parse(purchase.payload) as { id: string }).id)).status).to.equal('processed');

      const review = await ok(201, 'POST', `/v1/listings/${listing.id}/reviews`, { as: 'alice', body: { rating: 5, body: 'Found what I needed' } });
      await ok(200, 'GET', `/v1/listings/${listing.id}/reviews`);
      await ok(200, 'PATCH', `/v1/reviews/${review.id}`, { as: 'alice', body: { rating: 4 } });
      await ok(204, 'POST', `/v1/reviews/${review.id}/hide`, { as: 'ada', via: 'session' });
      await ok(204, 'DELETE', `/v1/reviews/${review.id}`, { as: 'alice' });

      await ok(201, 'POST', '/v1/usage', { as: 'alice', body: { clientReqId: randomUUID(), listingId: listing.id, units: 2 } });
      await ok(200, 'GET', '/v1/usage', { as: 'alice' });
      await ok(201, 'POST', '/v1/checkout/sessions', { as: 'alice', body: { listingId: listing.id, returnUrl: `${FRONTEND}/done` } });
      await ok(201, 'POST', '/v1/checkout/portal-sessions', { as: 'alice', body: { returnUrl: `${FRONTEND}/account` } });
      await ok(200, 'GET', '/v1/admin/audit?limit=5', { as: 'ada', via: 'session' });

      const operations = [...apiContracts({ db: f.env.db, config: f.env.config }), ...FEATURES.flatMap((x) => x.signedRoutes ?? []).map((r) => r.doc)].map((c) => c.operationId);
      expect([...f.responses.checked].sort()).to.deep.equal(operations.sort());
    });
  });
}

suite('sqlite');
if (PG_URL) suite('pg');
else describe.skip(`every operation answers the body its contract declares (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));

describe('response checker', () => {
  const item = z.object({ id: z.uuid(), name: z.string(), tags: z.array(z.object({ label: z.string() })) });
  const contract: RouteContract = defineRoute({
    method: 'get', path: '/v1/things/:id', operationId: 'getThing', summary: 'A thing', tag: 'things', access: 'public',
    params: z.strictObject({ id: z.uuid() }), response: item, status: 200, errors: [400, 401, 404, 503], errorCodes: errorCodes(ListingErrors, 'LISTING_NOT_FOUND'),
    handler: async () => ({}),
  });
  const id = randomUUID();
  const good = { id, name: 'A', tags: [{ label: 'x' }] };
  const check = (status: number, body: unknown, method = 'GET', path = `/v1/things/${id}`) => () => responseChecker([contract]).check(method, path, status, body);
  const error = (code: string) => ({ error: { code, message: 'm', requestId: 'r' } });

  it('passes the declared body and documented errors, and records the operation', () => {
    const c = responseChecker([contract]);
    c.check('GET', `/v1/things/${id}?x=1`, 200, good);
    c.check('GET', `/v1/things/${id}`, 404, error('LISTING_NOT_FOUND'));
    c.check('GET', `/v1/things/${id}`, 503, error('DATABASE_UNAVAILABLE'));
    c.check('GET', '/v1/other', 200, { anything: true });
    expect([...c.checked]).to.deep.equal(['getThing']);
  });

  it('fails a body the contract does not declare: a field missing, of another type, or undeclared (nested too)', () => {
    expect(check(200, { id, tags: [] })).to.throw(`getThing (GET /v1/things/${id}) answered 200 with a body its contract's response schema refuses`);
    expect(check(200, { ...good, name: 1 })).to.throw('response schema refuses');
    expect(check(200, { ...good, passwordHash: 'x' })).to.throw('does not declare: .passwordHash');
    expect(check(200, { ...good, tags: [{ label: 'x', internal: 1 }] })).to.throw('does not declare: .tags[0].internal');
  });

  it('fails an undeclared status, an undocumented code and a body outside the error envelope', () => {
    expect(check(201, good)).to.throw('a status its contract does not declare');
    expect(check(409, error('SLUG_TAKEN'))).to.throw('SLUG_TAKEN, which its contract does not document');
    expect(check(404, error('REVIEW_NOT_FOUND'))).to.throw('REVIEW_NOT_FOUND, which its contract does not document');
    expect(check(404, { message: 'not found' })).to.throw('without the error envelope');
  });
});
