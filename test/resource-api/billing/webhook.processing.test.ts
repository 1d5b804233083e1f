import { expect } from 'chai';
import { billingSuites, objects, stripeEvent, type BillingApi } from './billing.fixture.js';

billingSuites('POST /v1/webhooks/stripe — processing', (api: () => BillingApi) => {
  let aliceId: string;
  let oneTime: string;
  let monthly: string;
  const now = () => Math.floor(Date.now() / 1000);

  before(async () => {
    aliceId = await api().user('alice@example.com');
    oneTime = await api().listing({ units: 300, period: 'once' });
    monthly = await api().listing({ priceType: 'recurring', interval: 'month', units: 40, period: 'month' });
  });

  async function ok(res: Response, outcome: string): Promise<void> {
    const text = await res.text();
    expect(res.status, text).to.equal(200);
    expect(JSON.parse(text)).to.deep.equal({ received: true, outcome });
  }

  it('records each event in stripe_events: ids, type, status and times only', async () => {
    const session = objects.checkoutSession({ userId: aliceId, listingId: oneTime });
    const event = stripeEvent('checkout.session.completed', session, { created: now() - 5 });
    const before = Date.now();
    await ok(await api().deliver(event), 'processed');
    const [row] = await api().events({ id: event.id });
    expect(Object.keys(row!).sort()).to.deep.equal(['attempts', 'event_created_at', 'id', 'last_failed_at', 'object_id', 'processed_at', 'received_at', 'status', 'type']);
    expect(row).to.deep.include({ id: event.id, type: 'checkout.session.completed', object_id: session.id, status: 'processed', attempts: 1, last_failed_at: null });
    expect(Number(row!.event_created_at)).to.equal((event.created as number) * 1000);
    expect(Number(row!.received_at)).to.be.within(before, Date.now());
    expect(Number(row!.processed_at)).to.equal(Number(row!.received_at));
    expect(JSON.stringify(row)).to.not.contain('someone@example.com');
  });

  it('grants once for a delivery repeated, concurrently and later (2xx every time)', async () => {
    const session = objects.checkoutSession({ userId: aliceId, listingId: oneTime });
    const event = stripeEvent('checkout.session.completed', session);
    const answers = await Promise.all(Array.from({ length: 5 }, () => api().deliver(event)));
    expect(answers.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200]);
    const outcomes = await Promise.all(answers.map(async (r) => ((await r.json()) as { outcome: string }).outcome));
    expect(outcomes.filter((o) => o === 'processed')).to.have.length(1);
    expect(outcomes.filter((o) => o === 'duplicate')).to.have.length(4);
    await ok(await api().deliver(event), 'duplicate');
    const rows = await api().entitlements({ stripe_checkout_session_id: session.id });
    expect(rows).to.have.length(1);
    expect(rows[0]).to.deep.include({ user_id: aliceId, listing_id: oneTime, status: 'active', quota_units: 300, quota_remaining: 300, quota_period: 'once', period_end: null });
    // A different event about the same purchase (async success after completion) grants nothing more.
    await ok(await api().deliver(stripeEvent('checkout.session.async_payment_succeeded', session)), 'processed');
    expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.have.length(1);
  });

  it('acknowledges and ignores unknown event types, recording them as ignored', async () => {
    const event = stripeEvent('customer.tax_id.created', { id: 'txi_1', object: 'tax_id' });
    await ok(await api().deliver(event), 'ignored');
    await ok(await api().deliver(event), 'duplicate');
    expect((await api().events({ id: event.id }))[0]).to.deep.include({ status: 'ignored', object_id: 'txi_1' });
  });

  it('ignores events about purchases that are not ours (no metadata)', async () => {
    const session = { ...objects.checkoutSession({ userId: aliceId, listingId: oneTime }), metadata: {}, client_reference_id: null };
    await ok(await api().deliver(stripeEvent('checkout.session.completed', session)), 'processed');
    expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.deep.equal([]);
  });

  it('waits for the async payment: unpaid completion grants nothing, success grants, failure never does', async () => {
    const paid = objects.checkoutSession({ userId: aliceId, listingId: oneTime, paymentStatus: 'unpaid' });
    await ok(await api().deliver(stripeEvent('checkout.session.completed', paid)), 'processed');
    expect(await api().entitlements({ stripe_checkout_session_id: paid.id })).to.deep.equal([]);
    await ok(await api().deliver(stripeEvent('checkout.session.async_payment_succeeded', { ...paid, payment_status: 'paid' })), 'processed');
    expect((await api().entitlements({ stripe_checkout_session_id: paid.id }))[0]).to.deep.include({ status: 'active', quota_remaining: 300 });

    const failed = objects.checkoutSession({ userId: aliceId, listingId: oneTime, paymentStatus: 'unpaid' });
    await ok(await api().deliver(stripeEvent('checkout.session.completed', failed)), 'processed');
    await ok(await api().deliver(stripeEvent('checkout.session.async_payment_failed', failed)), 'processed');
    expect(await api().entitlements({ stripe_checkout_session_id: failed.id })).to.deep.equal([]);
  });

  it('answers 5xx when a handler fails, keeps nothing of it, and processes the retry exactly once', async () => {
    const session = objects.checkoutSession({ userId: aliceId, listingId: oneTime, customer: 'cus_retry' });
    const event = stripeEvent('checkout.session.completed', session);
    api().failHandlers(1);
    const failed = await api().deliver(event);
    expect(failed.status).to.equal(500);
    expect(((await failed.json()) as { error: { code: string } }).error.code).to.equal('INTERNAL_ERROR');
    expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.deep.equal([]);
    expect((await api().events({ id: event.id }))[0]).to.deep.include({ status: 'failed', attempts: 1, processed_at: null });
    expect(api().logs.text()).to.contain('injected handler failure');

    await ok(await api().deliver(event), 'processed');
    await ok(await api().deliver(event), 'duplicate');
    expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.have.length(1);
    const [row] = await api().events({ id: event.id });
    expect(row).to.deep.include({ status: 'processed', attempts: 2 });
    expect(row!.processed_at).to.not.equal(null);
  });

  describe('subscriptions', () => {
    const t0 = Math.floor(Date.now() / 1000) - 3600;
    const period1 = { start: t0, end: t0 + 30 * 86400 };
    const period2 = { start: period1.end, end: period1.end + 30 * 86400 };

    it('ends up active with the quota of the newest paid period whatever the delivery order', async () => {
      const sub = 'sub_order_1';
      const meta = { userId: aliceId, listingId: monthly };
      const created = stripeEvent('customer.subscription.created', objects.subscription({ id: sub, ...meta, status: 'incomplete' }), { created: t0 });
      const paid1 = stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, ...period1 }), { created: t0 + 1 });
      const active = stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'active' }), { created: t0 + 1 });
      const completed = stripeEvent('checkout.session.completed', objects.checkoutSession({ ...meta, mode: 'subscription', subscription: sub }), { created: t0 + 2 });
      const paid2 = stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, ...period2 }), { created: t0 + 100 });
      // Newest first: every older event arrives after the state it precedes.
      for (const e of [paid2, completed, active, paid1, created]) await ok(await api().deliver(e), 'processed');
      const [row] = await api().entitlements({ stripe_subscription_id: sub });
      expect(row).to.deep.include({ user_id: aliceId, listing_id: monthly, status: 'active', subscription_status: 'active', quota_units: 40, quota_remaining: 40, period_start: period2.start * 1000, period_end: period2.end * 1000 });
      expect(await api().entitlements({ user_id: aliceId, listing_id: monthly })).to.have.length(1);
    });

    it('never brings back a deleted subscription with a late update or invoice', async () => {
      const sub = 'sub_order_2';
      const meta = { userId: aliceId, listingId: monthly };
      await ok(await api().deliver(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, ...period1 }), { created: t0 + 1 })), 'processed');
      await ok(await api().deliver(stripeEvent('customer.subscription.deleted', objects.subscription({ id: sub, ...meta, status: 'canceled' }), { created: t0 + 50 })), 'processed');
      await ok(await api().deliver(stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'active' }), { created: t0 + 10 })), 'processed');
      await ok(await api().deliver(stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'active' }), { created: t0 + 60 })), 'processed');
      await ok(await api().deliver(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, ...period2 }), { created: t0 + 70 })), 'processed');
      const [row] = await api().entitlements({ stripe_subscription_id: sub });
      expect(row).to.deep.include({ status: 'revoked', subscription_status: 'canceled', quota_remaining: 0, revoked_reason: 'subscription_ended', period_start: period1.start * 1000 });
    });

    it('follows past_due (keeps access) and unpaid (removes it), newest state winning', async () => {
      const sub = 'sub_order_3';
      const meta = { userId: aliceId, listingId: monthly };
      await ok(await api().deliver(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, ...period1 }), { created: t0 + 1 })), 'processed');
      await ok(await api().deliver(stripeEvent('invoice.payment_failed', { id: 'in_failed_3', object: 'invoice' }, { created: t0 + 20 })), 'processed');
      await ok(await api().deliver(stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'past_due' }), { created: t0 + 20 })), 'processed');
      expect((await api().entitlements({ stripe_subscription_id: sub }))[0]).to.deep.include({ status: 'active', subscription_status: 'past_due', quota_remaining: 40 });
      await ok(await api().deliver(stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'unpaid' }), { created: t0 + 40 })), 'processed');
      await ok(await api().deliver(stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'past_due' }), { created: t0 + 30 })), 'processed');
      expect((await api().entitlements({ stripe_subscription_id: sub }))[0]).to.deep.include({ status: 'revoked', subscription_status: 'unpaid', quota_remaining: 0 });
    });

    it('does not reset the quota for a replayed older invoice', async () => {
      const sub = 'sub_order_4';
      const meta = { userId: aliceId, listingId: monthly };
      await ok(await api().deliver(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, ...period2 }), { created: t0 + 100 })), 'processed');
      await api().db('entitlements').where({ stripe_subscription_id: sub }).update({ quota_remaining: 7 });
      await ok(await api().deliver(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, ...period1 }), { created: t0 + 1 })), 'processed');
      expect((await api().entitlements({ stripe_subscription_id: sub }))[0]).to.deep.include({ quota_remaining: 7, period_start: period2.start * 1000 });
    });
  });

  it('revokes on a full refund, also when the refund arrives before the purchase; a partial refund changes nothing', async () => {
    const bought = objects.checkoutSession({ userId: aliceId, listingId: oneTime, paymentIntent: 'pi_refund_1' });
    await ok(await api().deliver(stripeEvent('checkout.session.completed', bought)), 'processed');
    await ok(await api().deliver(stripeEvent('charge.refunded', objects.charge({ paymentIntent: 'pi_refund_1', refunded: false }))), 'processed');
    expect((await api().entitlements({ stripe_checkout_session_id: bought.id }))[0]).to.deep.include({ status: 'active' });
    await ok(await api().deliver(stripeEvent('charge.refunded', objects.charge({ paymentIntent: 'pi_refund_1' }))), 'processed');
    expect((await api().entitlements({ stripe_checkout_session_id: bought.id }))[0]).to.deep.include({ status: 'revoked', revoked_reason: 'refunded', quota_remaining: 0 });

    const late = objects.checkoutSession({ userId: aliceId, listingId: oneTime, paymentIntent: 'pi_refund_2' });
    await ok(await api().deliver(stripeEvent('charge.refunded', objects.charge({ paymentIntent: 'pi_refund_2' }))), 'processed');
    await ok(await api().deliver(stripeEvent('checkout.session.completed', late)), 'processed');
    expect(await api().entitlements({ stripe_checkout_session_id: late.id })).to.deep.equal([]);
  });
});
