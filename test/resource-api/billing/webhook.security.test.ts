import { expect } from 'chai';
import { signedEvent } from '../../helpers/fake-stripe.js';
import { billingSuites, expectError, objects, stripeEvent, WEBHOOK_SECRET, type BillingApi } from './billing.fixture.js';

billingSuites('POST /v1/webhooks/stripe — authenticity', (api: () => BillingApi) => {
  let aliceId: string;
  let listing: string;
  const purchase = () => stripeEvent('checkout.session.completed', objects.checkoutSession({ userId: aliceId, listingId: listing }));

  before(async () => {
    aliceId = await api().user('alice@example.com');
    listing = await api().listing();
  });

  async function expectNothingProcessed(): Promise<void> {
    expect(await api().count('stripe_events')).to.equal(0);
    expect(await api().count('entitlements')).to.equal(0);
    expect(await api().count('billing_customers')).to.equal(0);
  }

  it('answers 400 WEBHOOK_SIGNATURE_INVALID without a Stripe-Signature header', async () => {
    await expectError(await api().deliver(purchase(), { signature: null }), 400, 'WEBHOOK_SIGNATURE_INVALID');
    await expectNothingProcessed();
  });

  it('answers 400 to a forged signature (right format, wrong MAC)', async () => {
    const ts = Math.floor(Date.now() / 1000);
    await expectError(await api().deliver(purchase(), { signature: `t=${ts},v1=${'0'.repeat(64)}` }), 400, 'WEBHOOK_SIGNATURE_INVALID');
    await expectError(await api().deliver(purchase(), { signature: 'garbage' }), 400, 'WEBHOOK_SIGNATURE_INVALID');
    await expectNothingProcessed();
  });

  it('answers 400 to a payload signed with another secret', async () => {
    await expectError(await api().deliver(purchase(), { secret: 'whsec_someone_else' }), 400, 'WEBHOOK_SIGNATURE_INVALID');
    await expectNothingProcessed();
  });

  it('answers 400 to a valid signature older than 5 minutes (replay)', async () => {
    await expectError(await api().deliver(purchase(), { timestamp: Math.floor(Date.now() / 1000) - 301 }), 400, 'WEBHOOK_SIGNATURE_INVALID');
    await expectNothingProcessed();
  });

  it('answers 400 when the body was altered after signing', async () => {
    const { signature } = signedEvent(WEBHOOK_SECRET, purchase());
    const tampered = JSON.stringify(purchase());
    const res = await fetch(`${api().url}/v1/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: tampered });
    await expectError(res, 400, 'WEBHOOK_SIGNATURE_INVALID');
    await expectNothingProcessed();
  });

  it('verifies the raw bytes: the same JSON re-serialized differently does not verify', async () => {
    const event = purchase();
    const { signature } = signedEvent(WEBHOOK_SECRET, event);
    const res = await fetch(`${api().url}/v1/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: JSON.stringify(event, null, 2) });
    await expectError(res, 400, 'WEBHOOK_SIGNATURE_INVALID');
    await expectNothingProcessed();
  });

  it('answers 503 BILLING_NOT_CONFIGURED without a webhook secret (development) and processes nothing, even a validly signed event', async () => {
    await expectError(await api().deliver(purchase(), { base: 'bare' }), 503, 'BILLING_NOT_CONFIGURED');
    await expectNothingProcessed();
  });

  it('needs no credential: a validly signed event is stored (200) and then applied', async () => {
    const res = await api().deliver(purchase());
    expect(res.status, await res.clone().text()).to.equal(200);
    expect(await res.json()).to.deep.equal({ received: true, outcome: 'queued' });
    expect(await api().count('stripe_events', { status: 'processed' })).to.equal(1);
    expect(await api().count('entitlements', { user_id: aliceId, status: 'active' })).to.equal(1);
  });
});

