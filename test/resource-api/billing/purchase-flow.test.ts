import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { billingSuites, expectError, FRONTEND, objects, stripeEvent, type BillingApi } from './billing.fixture.js';

/** The whole journey through the public surface: checkout → Stripe webhook → usage → renewal / refund. */
billingSuites('billing journey', (api: () => BillingApi) => {
  let aliceId: string;
  let alice: string;

  before(async () => {
    aliceId = await api().user('alice@example.com');
    alice = await api().token('alice@example.com');
  });

  /** What Stripe would send after the user paid on the page our checkout route created. */
  async function checkout(listingId: string): Promise<{ id: string; params: Record<string, string> }> {
    api().stripe.reset();
    const res = await api().call('POST', '/v1/checkout/sessions', { token: alice, json: { listingId, returnUrl: `${FRONTEND}/done` } });
    expect(res.status, await res.clone().text()).to.equal(201);
    const { id } = (await res.json()) as { id: string };
    return { id, params: api().stripe.calls[0]!.params };
  }
  const use = (listingId: string, units: number) => api().call('POST', '/v1/usage', { token: alice, json: { clientReqId: randomUUID(), listingId, units } });
  async function quota(listingId: string) {
    const { items } = (await (await api().call('GET', `/v1/usage?listingId=${listingId}`, { token: alice })).json()) as { items: { status: string; quota: { remaining: number } }[] };
    return items.map((i) => [i.status, i.quota.remaining]);
  }

  it('subscription: purchase → entitlement → usage → exhaustion → renewal on invoice.paid → deletion ends it', async () => {
    const listing = await api().listing({ priceType: 'recurring', interval: 'month', units: 3, period: 'month' });
    const { id, params } = await checkout(listing);
    expect(params.mode).to.equal('subscription');
    const meta = { userId: params['subscription_data[metadata][user_id]']!, listingId: params['subscription_data[metadata][listing_id]']! };
    expect(meta).to.deep.equal({ userId: aliceId, listingId: listing });
    const sub = `sub_${randomUUID().slice(0, 8)}`;
    const t0 = Math.floor(Date.now() / 1000) - 60;

    await api().deliver(stripeEvent('customer.subscription.created', objects.subscription({ id: sub, ...meta, status: 'incomplete' }), { created: t0 }));
    expect(await quota(listing)).to.deep.equal([['pending', 0]]);
    await expectError(await use(listing, 1), 403, 'NOT_ENTITLED');

    await api().deliver(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, start: t0, end: t0 + 30 * 86400 }), { created: t0 + 1 }));
    await api().deliver(stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'active' }), { created: t0 + 1 }));
    await api().deliver(stripeEvent('checkout.session.completed', objects.checkoutSession({ id, ...meta, mode: 'subscription', subscription: sub }), { created: t0 + 2 }));
    expect(await quota(listing)).to.deep.equal([['active', 3]]);

    expect((await use(listing, 2)).status).to.equal(201);
    expect((await use(listing, 1)).status).to.equal(201);
    await expectError(await use(listing, 1), 402, 'QUOTA_EXCEEDED');
    expect(await quota(listing)).to.deep.equal([['active', 0]]);

    await api().deliver(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, start: t0 + 30 * 86400, end: t0 + 60 * 86400 }), { created: t0 + 30 }));
    expect(await quota(listing)).to.deep.equal([['active', 3]]);
    expect((await use(listing, 1)).status).to.equal(201);

    await api().deliver(stripeEvent('customer.subscription.deleted', objects.subscription({ id: sub, ...meta, status: 'canceled' }), { created: t0 + 40 }));
    expect(await quota(listing)).to.deep.equal([]);
    await expectError(await use(listing, 1), 403, 'NOT_ENTITLED');
  });

  it('one-time: purchase → usage → exhaustion; a refund revokes it', async () => {
    const listing = await api().listing({ priceType: 'one_time', units: 2, period: 'once' });
    const { id, params } = await checkout(listing);
    expect(params.mode).to.equal('payment');
    const session = objects.checkoutSession({ id, userId: params['metadata[user_id]']!, listingId: params['metadata[listing_id]']!, paymentIntent: `pi_${id}` });
    expect((await api().deliver(stripeEvent('checkout.session.completed', session))).status).to.equal(200);
    expect(await quota(listing)).to.deep.equal([['active', 2]]);
    expect((await use(listing, 2)).status).to.equal(201);
    await expectError(await use(listing, 1), 402, 'QUOTA_EXCEEDED');

    expect((await api().deliver(stripeEvent('charge.refunded', objects.charge({ paymentIntent: `pi_${id}` })))).status).to.equal(200);
    expect(await quota(listing)).to.deep.equal([]);
    await expectError(await use(listing, 1), 403, 'NOT_ENTITLED');
    const [row] = await api().entitlements({ stripe_checkout_session_id: id });
    expect(row).to.deep.include({ status: 'revoked', revoked_reason: 'refunded', quota_remaining: 0 });
    expect(row!.revoked_at).to.be.a('number');
  });

  it('subscription refund revokes, and a later invoice does not bring it back', async () => {
    const listing = await api().listing({ priceType: 'recurring', interval: 'month', units: 5 });
    const meta = { userId: aliceId, listingId: listing };
    const sub = `sub_${randomUUID().slice(0, 8)}`;
    const t0 = Math.floor(Date.now() / 1000) - 60;
    await api().deliver(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, start: t0, end: t0 + 86400 * 30, paymentIntent: 'pi_sub_1' }), { created: t0 }));
    expect(await quota(listing)).to.deep.equal([['active', 5]]);
    await api().deliver(stripeEvent('charge.refunded', objects.charge({ paymentIntent: 'pi_sub_1' })));
    expect(await quota(listing)).to.deep.equal([]);
    await api().deliver(stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'active' }), { created: t0 + 5 }));
    await api().deliver(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, start: t0 + 86400 * 30, end: t0 + 86400 * 60, paymentIntent: 'pi_sub_2' }), { created: t0 + 10 }));
    expect(await quota(listing)).to.deep.equal([]);
  });
});
