import { expect } from 'chai';
import { billingSuites, expectError, FRONTEND, objects, stripeEvent, type BillingApi } from './billing.fixture.js';

billingSuites('POST /v1/checkout/sessions and /v1/checkout/portal-sessions', (api: () => BillingApi) => {
  let aliceId: string;
  let alice: string;
  let oneTime: string;
  let monthly: string;

  before(async () => {
    aliceId = await api().user('alice@example.com');
    alice = await api().token('alice@example.com');
    oneTime = await api().listing({ priceType: 'one_time', amountMinor: 1900, currency: 'EUR', units: 500, period: 'once' });
    monthly = await api().listing({ priceType: 'recurring', interval: 'month', amountMinor: 990, currency: 'USD', units: 50, period: 'month' });
  });
  beforeEach(() => api().stripe.reset());

  it('creates a payment-mode Checkout Session with our metadata, idempotency key and derived URLs', async () => {
    const res = await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId: oneTime, returnUrl: `${FRONTEND}/agents/1?tab=buy#pay` } });
    expect(res.status, await res.clone().text()).to.equal(201);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    const body = (await res.json()) as { id: string; url: string };
    expect(body).to.deep.equal({ id: body.id, url: `https://checkout.stripe.com/c/pay/${body.id}` });
    expect(api().stripe.calls).to.have.length(1);
    const call = api().stripe.calls[0]!;
    expect(call.method).to.equal('POST');
    expect(call.path).to.equal('/v1/checkout/sessions');
    expect(call.authorization).to.equal('Bearer sk_test_portcullis');
    expect(call.idempotencyKey).to.match(/^checkout_[0-9a-f]{48}$/);
    expect(call.params).to.deep.equal({
      mode: 'payment',
      client_reference_id: aliceId,
      'metadata[user_id]': aliceId,
      'metadata[listing_id]': oneTime,
      'line_items[0][quantity]': '1',
      'line_items[0][price_data][currency]': 'eur',
      'line_items[0][price_data][unit_amount]': '1900',
      'line_items[0][price_data][product_data][name]': 'Research agent',
      'line_items[0][price_data][product_data][metadata][listing_id]': oneTime,
      success_url: `${FRONTEND}/agents/1?tab=buy&checkout=success&session_id={CHECKOUT_SESSION_ID}#pay`,
      cancel_url: `${FRONTEND}/agents/1?tab=buy&checkout=cancel#pay`,
      customer_email: 'alice@example.com',
      customer_creation: 'always',
      'payment_intent_data[metadata][user_id]': aliceId,
      'payment_intent_data[metadata][listing_id]': oneTime,
    });
  });

  it('creates a subscription-mode session for a recurring price, metadata on the subscription', async () => {
    const res = await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId: monthly, returnUrl: 'http://localhost:3000/done' } });
    expect(res.status).to.equal(201);
    const params = api().stripe.calls[0]!.params;
    expect(params).to.deep.include({
      mode: 'subscription',
      'line_items[0][price_data][currency]': 'usd',
      'line_items[0][price_data][unit_amount]': '990',
      'line_items[0][price_data][recurring][interval]': 'month',
      'subscription_data[metadata][user_id]': aliceId,
      'subscription_data[metadata][listing_id]': monthly,
      success_url: 'http://localhost:3000/done?checkout=success&session_id={CHECKOUT_SESSION_ID}',
      cancel_url: 'http://localhost:3000/done?checkout=cancel',
    });
    expect(params).to.not.have.any.keys('customer_creation', 'payment_intent_data[metadata][user_id]');
  });

  it('sends the same idempotency key for a repeated click, a new one for a new clientReqId', async () => {
    const json = { listingId: oneTime, returnUrl: `${FRONTEND}/x` };
    const a = (await (await api().call('POST', '/v1/checkout/sessions', { token: alice, json })).json()) as { id: string };
    const b = (await (await api().call('POST', '/v1/checkout/sessions', { token: alice, json })).json()) as { id: string };
    const c = await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { ...json, clientReqId: '6f1c1c1e-8d5a-4b8e-9a61-1d2a3b4c5d6e' } });
    expect(c.status).to.equal(201);
    const [k1, k2, k3] = api().stripe.calls.map((x) => x.idempotencyKey);
    expect(k1).to.equal(k2);
    expect(b.id).to.equal(a.id); // Stripe replays the first session for the same key
    expect(k3).to.not.equal(k1);
  });

  it('answers 422 INVALID_RETURN_URL and calls Stripe for nothing', async () => {
    for (const returnUrl of ['https://evil.com/', '//evil.com', `${FRONTEND}@evil.com`, 'javascript:alert(1)', `${FRONTEND}/%2f%2fevil.com`]) {
      const error = await expectError(await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId: oneTime, returnUrl } }), 422, 'INVALID_RETURN_URL');
      expect(error.details).to.have.property('reason').that.is.a('string');
    }
    expect(api().stripe.calls).to.deep.equal([]);
  });

  it('answers 404 for unknown and unpublished listings, 409 for a free listing', async () => {
    await expectError(await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId: '6f1c1c1e-8d5a-4b8e-9a61-1d2a3b4c5d6e', returnUrl: FRONTEND } }), 404, 'LISTING_NOT_FOUND');
    for (const status of ['draft', 'suspended', 'deleted'] as const) {
      const id = await api().listing({ status });
      await expectError(await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId: id, returnUrl: FRONTEND } }), 404, 'LISTING_NOT_FOUND');
    }
    const free = await api().listing({ amountMinor: 0 });
    await expectError(await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId: free, returnUrl: FRONTEND } }), 409, 'LISTING_NOT_PURCHASABLE');
    expect(api().stripe.calls).to.deep.equal([]);
  });

  it('answers 400 VALIDATION_FAILED to a malformed body and 415 to a non-JSON one', async () => {
    await expectError(await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId: 'nope', returnUrl: FRONTEND } }), 400, 'VALIDATION_FAILED');
    await expectError(await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId: oneTime } }), 400, 'VALIDATION_FAILED');
    await expectError(await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId: oneTime, returnUrl: FRONTEND, price: 1 } }), 400, 'VALIDATION_FAILED');
    await expectError(await api().call('POST', '/v1/checkout/sessions', { token: alice, json: 'listingId=x', headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(api().stripe.calls).to.deep.equal([]);
  });

  it('needs a credential (401) and the checkout:create scope (403)', async () => {
    await expectError(await api().call('POST', '/v1/checkout/sessions', { json: { listingId: oneTime, returnUrl: FRONTEND } }), 401, 'UNAUTHENTICATED');
    const narrow = await api().token('alice@example.com', 'openid usage:read');
    const res = await api().call('POST', '/v1/checkout/sessions', { token: narrow, json: { listingId: oneTime, returnUrl: FRONTEND } });
    await expectError(res, 403, 'INSUFFICIENT_SCOPE');
    expect(api().stripe.calls).to.deep.equal([]);
  });

  it('answers 502 STRIPE_UNAVAILABLE when Stripe refuses, without leaking its message', async () => {
    api().stripe.fail(400, 1, { type: 'invalid_request_error', message: 'secret internals' });
    const error = await expectError(await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId: oneTime, returnUrl: FRONTEND } }), 502, 'STRIPE_UNAVAILABLE');
    expect(JSON.stringify(error)).to.not.contain('secret internals');
  });

  it('answers 503 BILLING_NOT_CONFIGURED without Stripe, before looking at anything else', async () => {
    await expectError(await api().call('POST', '/v1/checkout/sessions', { base: 'bare', token: alice, json: { listingId: oneTime, returnUrl: FRONTEND } }), 503, 'BILLING_NOT_CONFIGURED');
    await expectError(await api().call('POST', '/v1/checkout/sessions', { base: 'bare', token: alice, json: { listingId: oneTime, returnUrl: 'https://evil.com' } }), 503, 'BILLING_NOT_CONFIGURED');
    await expectError(await api().call('POST', '/v1/checkout/portal-sessions', { base: 'bare', token: alice, json: { returnUrl: FRONTEND } }), 503, 'BILLING_NOT_CONFIGURED');
    expect(api().stripe.calls).to.deep.equal([]);
  });

  describe('customer portal', () => {
    it('answers 404 NO_BILLING_ACCOUNT before any purchase', async () => {
      const bob = await api().user('bob@example.com');
      expect(bob).to.be.a('string');
      await expectError(await api().call('POST', '/v1/checkout/portal-sessions', { token: await api().token('bob@example.com'), json: { returnUrl: FRONTEND } }), 404, 'NO_BILLING_ACCOUNT');
      expect(api().stripe.calls).to.deep.equal([]);
    });

    it('opens the portal for the Stripe customer recorded at purchase, returning to a validated URL', async () => {
      const done = await api().deliver(stripeEvent('checkout.session.completed', objects.checkoutSession({ userId: aliceId, listingId: oneTime, customer: 'cus_alice' })));
      expect(done.status).to.equal(200);
      await expectError(await api().call('POST', '/v1/checkout/portal-sessions', { token: alice, json: { returnUrl: 'https://evil.com/' } }), 422, 'INVALID_RETURN_URL');
      expect(api().stripe.calls).to.deep.equal([]);
      const res = await api().call('POST', '/v1/checkout/portal-sessions', { token: alice, json: { returnUrl: `${FRONTEND}/account` } });
      expect(res.status).to.equal(201);
      const body = (await res.json()) as { url: string };
      expect(body.url).to.match(/^https:\/\/billing\.stripe\.com\/p\/session\/bps_test_\d+$/);
      expect(api().stripe.calls.map((c) => [c.path, c.params])).to.deep.equal([['/v1/billing_portal/sessions', { customer: 'cus_alice', return_url: `${FRONTEND}/account` }]]);
    });

    it('reuses the recorded customer for the next checkout', async () => {
      const res = await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId: oneTime, returnUrl: FRONTEND } });
      expect(res.status).to.equal(201);
      expect(api().stripe.calls[0]!.params).to.include({ customer: 'cus_alice' });
      expect(api().stripe.calls[0]!.params).to.not.have.any.keys('customer_email', 'customer_creation');
    });
  });

  it('answers 409 ALREADY_SUBSCRIBED while a subscription to the listing is active', async () => {
    const sub = 'sub_already_1';
    await api().deliver(stripeEvent('customer.subscription.created', objects.subscription({ id: sub, userId: aliceId, listingId: monthly, status: 'active', customer: 'cus_alice' })));
    await expectError(await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId: monthly, returnUrl: FRONTEND } }), 409, 'ALREADY_SUBSCRIBED');
    expect(api().stripe.calls).to.deep.equal([]);
  });
});
