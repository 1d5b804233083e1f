import { expect } from 'chai';
import { billingSuites, objects, stripeEvent, type BillingApi } from './billing.fixture.js';
import { eventInStatus, storedEvent } from './webhook-queue.helpers.js';

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

  async function answered(res: Response, outcome: string): Promise<void> {
    const text = await res.text();
    expect(res.status, text).to.equal(200);
    expect(JSON.parse(text)).to.deep.equal({ received: true, outcome });
  }
  /** Stored (`queued`) and, once the worker's attempt is over (deliver waits for it), applied. */
  async function ok(res: Response, event: Record<string, unknown>): Promise<void> {
    await answered(res, 'queued');
    expect((await api().events({ id: event.id }))[0]).to.deep.include({ status: 'processed', last_error: null });
  }
  const deliverOk = async (event: Record<string, unknown>) => ok(await api().deliver(event), event);

  it('stores each event in stripe_events, applies it, and keeps ids, type, status and times only once it is applied', async () => {
    const session = objects.checkoutSession({ userId: aliceId, listingId: oneTime });
    const event = stripeEvent('checkout.session.completed', session, { created: now() - 5 });
    const before = Date.now();
    await deliverOk(event);
    const [row] = await api().events({ id: event.id });
    expect(Object.keys(row!).sort()).to.deep.equal([
      'attempts', 'customer_id', 'event_created_at', 'id', 'last_error', 'last_failed_at', 'locked_by', 'locked_until', 'next_attempt_at', 'object_id', 'payload', 'processed_at', 'received_at', 'status', 'type',
    ]);
    expect(row).to.deep.include({
      id: event.id, type: 'checkout.session.completed', object_id: session.id, customer_id: 'cus_test_1', status: 'processed', attempts: 1,
      last_error: null, last_failed_at: null, locked_by: null, locked_until: null, next_attempt_at: null, payload: null,
    });
    expect(Number(row!.event_created_at)).to.equal((event.created as number) * 1000);
    expect(Number(row!.received_at)).to.be.within(before, Date.now());
    expect(Number(row!.processed_at)).to.be.within(Number(row!.received_at), Date.now());
    expect(JSON.stringify(row)).to.not.contain('someone@example.com');
  });

  it('keeps the verified payload while the event waits for the worker, and only then', async () => {
    api().failHandlers(1000);
    const session = objects.checkoutSession({ userId: aliceId, listingId: oneTime });
    const event = stripeEvent('checkout.session.completed', session);
    await answered(await api().deliver(event), 'queued');
    const waiting = storedEvent((await api().events({ id: event.id }))[0]!);
    expect(waiting).to.deep.include({ status: 'pending', last_error: 'HANDLER_FAILED' });
    expect(JSON.parse(waiting.payload!)).to.deep.equal(event);
    api().failHandlers(0);
    expect((await eventInStatus(api().db, event.id as string, 'processed')).payload).to.equal(null);
  });

  it('grants once for a delivery repeated, concurrently and later (2xx every time)', async () => {
    const session = objects.checkoutSession({ userId: aliceId, listingId: oneTime });
    const event = stripeEvent('checkout.session.completed', session);
    const answers = await Promise.all(Array.from({ length: 5 }, () => api().deliver(event, { wait: false })));
    expect(answers.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200]);
    const outcomes = await Promise.all(answers.map(async (r) => ((await r.json()) as { outcome: string }).outcome));
    expect(outcomes.filter((o) => o === 'queued')).to.have.length(1);
    expect(outcomes.filter((o) => o === 'duplicate')).to.have.length(4);
    expect((await eventInStatus(api().db, event.id as string, 'processed')).attempts).to.equal(1);
    await answered(await api().deliver(event), 'duplicate');
    const rows = await api().entitlements({ stripe_checkout_session_id: session.id });
    expect(rows).to.have.length(1);
    expect(rows[0]).to.deep.include({ user_id: aliceId, listing_id: oneTime, status: 'active', quota_units: 300, quota_remaining: 300, quota_period: 'once', period_end: null });
    // A different event about the same purchase (async success after completion) grants nothing more.
    await deliverOk(stripeEvent('checkout.session.async_payment_succeeded', session));
    expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.have.length(1);
  });

  it('acknowledges and ignores unknown event types, recording them as ignored without their payload', async () => {
    const event = stripeEvent('customer.tax_id.created', { id: 'txi_1', object: 'tax_id', customer: 'cus_tax' });
    await answered(await api().deliver(event), 'ignored');
    await answered(await api().deliver(event), 'duplicate');
    const [row] = await api().events({ id: event.id });
    expect(row).to.deep.include({ status: 'ignored', object_id: 'txi_1', customer_id: 'cus_tax', attempts: 0, payload: null, next_attempt_at: null });
    expect(Number(row!.processed_at)).to.equal(Number(row!.received_at));
  });

  it('ignores events about purchases that are not ours (no metadata)', async () => {
    const session = { ...objects.checkoutSession({ userId: aliceId, listingId: oneTime }), metadata: {}, client_reference_id: null };
    await deliverOk(stripeEvent('checkout.session.completed', session));
    expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.deep.equal([]);
  });

  it('waits for the async payment: unpaid completion grants nothing, success grants, failure never does', async () => {
    const paid = objects.checkoutSession({ userId: aliceId, listingId: oneTime, paymentStatus: 'unpaid' });
    await deliverOk(stripeEvent('checkout.session.completed', paid));
    expect(await api().entitlements({ stripe_checkout_session_id: paid.id })).to.deep.equal([]);
    await deliverOk(stripeEvent('checkout.session.async_payment_succeeded', { ...paid, payment_status: 'paid' }));
    expect((await api().entitlements({ stripe_checkout_session_id: paid.id }))[0]).to.deep.include({ status: 'active', quota_remaining: 300 });

    const failed = objects.checkoutSession({ userId: aliceId, listingId: oneTime, paymentStatus: 'unpaid' });
    await deliverOk(stripeEvent('checkout.session.completed', failed));
    await deliverOk(stripeEvent('checkout.session.async_payment_failed', failed));
    expect(await api().entitlements({ stripe_checkout_session_id: failed.id })).to.deep.equal([]);
  });

  it('rolls a failing handler back, retries after the back-off, and applies the retry exactly once', async () => {
    const session = objects.checkoutSession({ userId: aliceId, listingId: oneTime, customer: 'cus_retry' });
    const event = stripeEvent('checkout.session.completed', session);
    api().failHandlers(1000);
    await answered(await api().deliver(event), 'queued');
    // An attempt is over: its effects rolled back, its failure recorded by code.
    expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.deep.equal([]);
    const [raw] = await api().events({ id: event.id });
    const failed = storedEvent(raw!);
    expect(failed).to.deep.include({ status: 'pending', processed_at: null, last_error: 'HANDLER_FAILED', locked_by: null });
    // STRIPE_WEBHOOK_RETRY_BASE_MS=1000 below, doubling after each failed attempt.
    expect(failed.next_attempt_at! - Number(raw!.last_failed_at)).to.equal(1000 * 2 ** (failed.attempts - 1));
    expect(api().logs.text()).to.contain('injected handler failure');

    api().failHandlers(0);
    const row = await eventInStatus(api().db, event.id as string, 'processed');
    expect(row).to.deep.include({ last_error: 'HANDLER_FAILED', locked_by: null, payload: null });
    expect(row.attempts).to.be.at.least(failed.attempts + 1);
    expect(row.processed_at).to.be.at.least(failed.next_attempt_at!);
    await answered(await api().deliver(event), 'duplicate');
    expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.have.length(1);
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
      for (const e of [paid2, completed, active, paid1, created]) await deliverOk(e);
      const [row] = await api().entitlements({ stripe_subscription_id: sub });
      expect(row).to.deep.include({ user_id: aliceId, listing_id: monthly, status: 'active', subscription_status: 'active', quota_units: 40, quota_remaining: 40, period_start: period2.start * 1000, period_end: period2.end * 1000 });
      expect(await api().entitlements({ user_id: aliceId, listing_id: monthly })).to.have.length(1);
    });

    it('never brings back a deleted subscription with a late update or invoice', async () => {
      const sub = 'sub_order_2';
      const meta = { userId: aliceId, listingId: monthly };
      await deliverOk(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, ...period1 }), { created: t0 + 1 }));
      await deliverOk(stripeEvent('customer.subscription.deleted', objects.subscription({ id: sub, ...meta, status: 'canceled' }), { created: t0 + 50 }));
      await deliverOk(stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'active' }), { created: t0 + 10 }));
      await deliverOk(stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'active' }), { created: t0 + 60 }));
      await deliverOk(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, ...period2 }), { created: t0 + 70 }));
      const [row] = await api().entitlements({ stripe_subscription_id: sub });
      expect(row).to.deep.include({ status: 'revoked', subscription_status: 'canceled', quota_remaining: 0, revoked_reason: 'subscription_ended', period_start: period1.start * 1000 });
    });

    it('follows past_due (keeps access) and unpaid (removes it), newest state winning', async () => {
      const sub = 'sub_order_3';
      const meta = { userId: aliceId, listingId: monthly };
      await deliverOk(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, ...period1 }), { created: t0 + 1 }));
      await deliverOk(stripeEvent('invoice.payment_failed', { id: 'in_failed_3', object: 'invoice' }, { created: t0 + 20 }));
      await deliverOk(stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'past_due' }), { created: t0 + 20 }));
      expect((await api().entitlements({ stripe_subscription_id: sub }))[0]).to.deep.include({ status: 'active', subscription_status: 'past_due', quota_remaining: 40 });
      await deliverOk(stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'unpaid' }), { created: t0 + 40 }));
      await deliverOk(stripeEvent('customer.subscription.updated', objects.subscription({ id: sub, ...meta, status: 'past_due' }), { created: t0 + 30 }));
      expect((await api().entitlements({ stripe_subscription_id: sub }))[0]).to.deep.include({ status: 'revoked', subscription_status: 'unpaid', quota_remaining: 0 });
    });

    it('does not reset the quota for a replayed older invoice', async () => {
      const sub = 'sub_order_4';
      const meta = { userId: aliceId, listingId: monthly };
      await deliverOk(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, ...period2 }), { created: t0 + 100 }));
      await api().db('entitlements').where({ stripe_subscription_id: sub }).update({ quota_remaining: 7 });
      await deliverOk(stripeEvent('invoice.paid', objects.invoice({ subscription: sub, ...meta, ...period1 }), { created: t0 + 1 }));
      expect((await api().entitlements({ stripe_subscription_id: sub }))[0]).to.deep.include({ quota_remaining: 7, period_start: period2.start * 1000 });
    });
  });

  it('revokes on a full refund, also when the refund arrives before the purchase; a partial refund changes nothing', async () => {
    const bought = objects.checkoutSession({ userId: aliceId, listingId: oneTime, paymentIntent: 'pi_refund_1' });
    await deliverOk(stripeEvent('checkout.session.completed', bought));
    await deliverOk(stripeEvent('charge.refunded', objects.charge({ paymentIntent: 'pi_refund_1', refunded: false })));
    expect((await api().entitlements({ stripe_checkout_session_id: bought.id }))[0]).to.deep.include({ status: 'active' });
    await deliverOk(stripeEvent('charge.refunded', objects.charge({ paymentIntent: 'pi_refund_1' })));
    expect((await api().entitlements({ stripe_checkout_session_id: bought.id }))[0]).to.deep.include({ status: 'revoked', revoked_reason: 'refunded', quota_remaining: 0 });

    const late = objects.checkoutSession({ userId: aliceId, listingId: oneTime, paymentIntent: 'pi_refund_2' });
    await deliverOk(stripeEvent('charge.refunded', objects.charge({ paymentIntent: 'pi_refund_2' })));
    await deliverOk(stripeEvent('checkout.session.completed', late));
    expect(await api().entitlements({ stripe_checkout_session_id: late.id })).to.deep.equal([]);
  });
}, { STRIPE_WEBHOOK_RETRY_BASE_MS: '1000' });
