import { expect } from 'chai';
import { auditRow } from '../../helpers/audit-row.js';
import { billingSuites, objects, stripeEvent, type BillingApi } from './billing.fixture.js';
import { eventInStatus } from './webhook-queue.helpers.js';


billingSuites('Stripe webhook audit events: each delivery\'s outcome, each attempt of the worker, entitlement.granted / entitlement.revoked', (api: () => BillingApi) => {
  let userId: string;
  let oneTime: string;
  let monthly: string;
  const now = () => Math.floor(Date.now() / 1000);

  before(async () => {
    userId = await api().user('ent-audit@example.com');
    oneTime = await api().listing({ units: 5, period: 'once' });
    monthly = await api().listing({ priceType: 'recurring', interval: 'month', units: 10, period: 'month' });
  });

  const entitlementEvents = async (entitlementId: string) =>
    (await api().auditRows({ subject_type: 'entitlement', subject_id: entitlementId })).map(auditRow);

  it('a paid checkout grants once (redeliveries add no row), a full refund revokes it', async () => {
    const session = objects.checkoutSession({ userId, listingId: oneTime });
    const completed = stripeEvent('checkout.session.completed', session);
    expect((await api().deliver(completed)).status).to.equal(200);
    expect((await api().deliver(completed)).status).to.equal(200);
    const [ent] = await api().entitlements({ stripe_checkout_session_id: session.id });
    expect(await entitlementEvents(String(ent!.id))).to.deep.equal([
      {
        event: 'entitlement.granted', outcome: 'success', actor_user_id: userId, actor_client_id: null, subject_type: 'entitlement', subject_id: ent!.id,
        request_id: null, ip_prefix: null, user_agent: null, properties: { listingId: oneTime, plan: 'one_time', source: 'checkout', eventId: completed.id },
      },
    ]);

    const refund = stripeEvent('charge.refunded', objects.charge({ paymentIntent: session.payment_intent! }));
    expect((await api().deliver(refund)).status).to.equal(200);
    const rows = await entitlementEvents(String(ent!.id));
    expect(rows).to.have.length(2);
    expect(rows[1]).to.deep.equal({
      event: 'entitlement.revoked', outcome: 'success', actor_user_id: userId, actor_client_id: null, subject_type: 'entitlement', subject_id: ent!.id,
      request_id: null, ip_prefix: null, user_agent: null, properties: { listingId: oneTime, plan: 'one_time', reason: 'refunded', eventId: refund.id },
    });
    // A second refund notice of the same payment ends nothing more.
    expect((await api().deliver(stripeEvent('charge.refunded', objects.charge({ paymentIntent: session.payment_intent! })))).status).to.equal(200);
    expect(await entitlementEvents(String(ent!.id))).to.have.length(2);
  });

  it('a subscription is granted by its paid invoice (not by the pending row) and revoked when it ends', async () => {
    const sub = `sub_${Date.now().toString(36)}`;
    expect((await api().deliver(stripeEvent('customer.subscription.created', objects.subscription({ id: sub, userId, listingId: monthly, status: 'incomplete' }), { created: now() - 30 }))).status).to.equal(200);
    const [ent] = await api().entitlements({ stripe_subscription_id: sub });
    expect(ent).to.deep.include({ status: 'pending' });
    expect(await entitlementEvents(String(ent!.id))).to.deep.equal([]);

    const paid = stripeEvent('invoice.paid', objects.invoice({ subscription: sub, userId, listingId: monthly, start: now(), end: now() + 30 * 86400 }), { created: now() - 20 });
    expect((await api().deliver(paid)).status).to.equal(200);
    const deleted = stripeEvent('customer.subscription.deleted', objects.subscription({ id: sub, userId, listingId: monthly, status: 'canceled' }), { created: now() - 10 });
    expect((await api().deliver(deleted)).status).to.equal(200);
    const rows = await entitlementEvents(String(ent!.id));
    expect(rows.map((r) => [r.event, r.actor_user_id, r.properties])).to.deep.equal([
      ['entitlement.granted', userId, { listingId: monthly, plan: 'subscription', source: 'invoice', eventId: paid.id }],
      ['entitlement.revoked', userId, { listingId: monthly, plan: 'subscription', reason: 'subscription_ended', eventId: deleted.id }],
    ]);
  });

  it('concurrent deliveries that end the same grant report its revocation once', async () => {
    const sub = `sub_${Date.now().toString(36)}c`;
    const paid = stripeEvent('invoice.paid', objects.invoice({ subscription: sub, userId, listingId: monthly, start: now(), end: now() + 30 * 86400 }), { created: now() - 20 });
    expect((await api().deliver(stripeEvent('customer.subscription.created', objects.subscription({ id: sub, userId, listingId: monthly, status: 'active' }), { created: now() - 30 }))).status).to.equal(200);
    expect((await api().deliver(paid)).status).to.equal(200);
    const [ent] = await api().entitlements({ stripe_subscription_id: sub });
    const ends = Array.from({ length: 8 }, (_, i) => stripeEvent('customer.subscription.deleted', objects.subscription({ id: sub, userId, listingId: monthly, status: 'canceled' }), { created: now() - 10 + (i % 3) }));
    expect((await Promise.all(ends.map((e) => api().deliver(e)))).map((r) => r.status)).to.deep.equal(ends.map(() => 200));
    const revoked = (await entitlementEvents(String(ent!.id))).filter((r) => r.event === 'entitlement.revoked');
    expect(revoked).to.have.length(1);
  });

  it('each delivery\'s outcome is audited by the route its doc declares it on: received, rejected with the reason', async () => {
    const outcomes = async (res: Response) =>
      (await api().auditRows({ request_id: res.headers.get('x-request-id') })).map(auditRow).map((r) => [r.event, r.outcome, r.actor_user_id, r.properties]);
    const done = await api().deliver(stripeEvent('product.created', { id: 'prod_audit', object: 'product' }));
    expect(done.status).to.equal(200);
    expect(await outcomes(done)).to.deep.equal([['webhook.received', 'success', null, { provider: 'stripe' }]]);
    const forged = await api().deliver(stripeEvent('product.created', { id: 'prod_forged', object: 'product' }), { secret: 'whsec_not_ours' });
    expect(forged.status).to.equal(400);
    expect(await outcomes(forged)).to.deep.equal([['webhook.rejected', 'denied', null, { provider: 'stripe', reason: 'WEBHOOK_SIGNATURE_INVALID' }]]);
    // Recorded by the route, not by comparing paths: a spelling the router serves too is audited too.
    const slash = await api().call('POST', '/v1/webhooks/stripe/', { json: { id: 'evt_slash' }, headers: { 'stripe-signature': 't=1,v1=00' } });
    expect(slash.status).to.equal(400);
    expect(await outcomes(slash)).to.deep.equal([['webhook.rejected', 'denied', null, { provider: 'stripe', reason: 'WEBHOOK_SIGNATURE_INVALID' }]]);
  });

  it('the worker audits each attempt: failed with its code and count, then processed once, with no request behind it', async () => {
    const session = objects.checkoutSession({ userId, listingId: oneTime });
    const completed = stripeEvent('checkout.session.completed', session);
    const attempts = async () =>
      (await api().auditRows({ subject_type: 'stripe_event', subject_id: completed.id })).map(auditRow).map((r) => [r.event, r.outcome, r.actor_user_id, r.actor_client_id, r.request_id, r.properties]);
    const about = { provider: 'stripe', eventType: 'checkout.session.completed', eventId: completed.id };
    api().failHandlers(1);
    expect((await api().deliver(completed)).status).to.equal(200);
    expect((await attempts())[0]).to.deep.equal(['webhook.failed', 'failure', null, null, null, { ...about, errorCode: 'HANDLER_FAILED', attempts: 1 }]);
    await eventInStatus(api().db, completed.id as string, 'processed');
    const rows = await attempts();
    expect(rows.map((r) => r[0])).to.deep.equal(['webhook.failed', 'webhook.processed']);
    const { durationMs, ...processed } = rows[1]![5] as Record<string, unknown>;
    expect(rows[1]!.slice(0, 5)).to.deep.equal(['webhook.processed', 'success', null, null, null]);
    expect(processed).to.deep.equal(about);
    expect(durationMs).to.be.a('number').and.at.least(0);
  });

  it('a handler failure rolls back and audits no entitlement change; the successful retry audits once', async () => {
    const session = objects.checkoutSession({ userId, listingId: oneTime });
    const completed = stripeEvent('checkout.session.completed', session);
    api().failHandlers(1);
    expect((await api().deliver(completed)).status).to.equal(200);
    expect(await api().auditRows({ event: 'entitlement.granted', actor_user_id: userId })).to.satisfy((rows: Record<string, unknown>[]) =>
      rows.every((r) => !String(r.properties).includes(completed.id as string)));
    await eventInStatus(api().db, completed.id as string, 'processed');
    const granted = (await api().auditRows({ event: 'entitlement.granted', actor_user_id: userId })).filter((r) => String(r.properties).includes(completed.id as string));
    expect(granted).to.have.length(1);
  });
}, { STRIPE_WEBHOOK_RETRY_BASE_MS: '200' });
