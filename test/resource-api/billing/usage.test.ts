import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { billingSuites, expectError, objects, stripeEvent, type BillingApi } from './billing.fixture.js';

billingSuites('POST /v1/usage and GET /v1/usage', (api: () => BillingApi) => {
  let aliceId: string;
  let alice: string;

  before(async () => {
    aliceId = await api().user('alice@example.com');
    alice = await api().token('alice@example.com');
  });

  /** A listing Alice bought (one-time, `units` for good), through the webhook like a real purchase. */
  async function bought(units: number): Promise<string> {
    const listing = await api().listing({ units, period: 'once' });
    const res = await api().deliver(stripeEvent('checkout.session.completed', objects.checkoutSession({ userId: aliceId, listingId: listing })));
    expect(res.status).to.equal(200);
    return listing;
  }
  const report = (json: unknown, token = alice) => api().call('POST', '/v1/usage', { token, json });
  const remaining = async (listingId: string) => {
    const res = await api().call('GET', `/v1/usage?listingId=${listingId}`, { token: alice });
    expect(res.status).to.equal(200);
    const { items } = (await res.json()) as { items: { quota: { remaining: number } }[] };
    return items.map((i) => i.quota.remaining);
  };

  it('consumes quota and answers the stored result; a repeat replays it and consumes nothing', async () => {
    const listing = await bought(10);
    const clientReqId = randomUUID();
    const first = await report({ clientReqId, listingId: listing, units: 3 });
    expect(first.status, await first.clone().text()).to.equal(201);
    const a = (await first.json()) as Record<string, unknown>;
    expect(a).to.deep.include({ clientReqId, listingId: listing, units: 3, remaining: 7, periodEnd: null, replayed: false });
    const again = await report({ clientReqId, listingId: listing, units: 3 });
    expect(again.status).to.equal(201);
    expect(await again.json()).to.deep.equal({ ...a, replayed: true });
    expect(await remaining(listing)).to.deep.equal([7]);
    expect(await api().count('usage_records', { client_req_id: clientReqId })).to.equal(1);
  });

  it('answers 409 IDEMPOTENCY_KEY_REUSED to the same clientReqId with other parameters, consuming nothing', async () => {
    const listing = await bought(10);
    const other = await bought(10);
    const clientReqId = randomUUID();
    expect((await report({ clientReqId, listingId: listing, units: 2 })).status).to.equal(201);
    await expectError(await report({ clientReqId, listingId: listing, units: 3 }), 409, 'IDEMPOTENCY_KEY_REUSED');
    await expectError(await report({ clientReqId, listingId: other, units: 2 }), 409, 'IDEMPOTENCY_KEY_REUSED');
    expect(await remaining(listing)).to.deep.equal([8]);
    expect(await remaining(other)).to.deep.equal([10]);
  });

  it('scopes clientReqId per user: another user may use the same id', async () => {
    const listing = await bought(10);
    const bobId = await api().user('bob@example.com');
    const bob = await api().token('bob@example.com');
    await api().deliver(stripeEvent('checkout.session.completed', objects.checkoutSession({ userId: bobId, listingId: listing })));
    const clientReqId = randomUUID();
    expect((await report({ clientReqId, listingId: listing, units: 1 })).status).to.equal(201);
    const res = await report({ clientReqId, listingId: listing, units: 1 }, bob);
    expect(res.status).to.equal(201);
    expect(await res.json()).to.deep.include({ replayed: false, remaining: 9 });
  });

  it('answers 402 QUOTA_EXCEEDED and consumes nothing; the refused clientReqId may be sent again', async () => {
    const listing = await bought(5);
    const clientReqId = randomUUID();
    await expectError(await report({ clientReqId, listingId: listing, units: 6 }), 402, 'QUOTA_EXCEEDED');
    expect(await remaining(listing)).to.deep.equal([5]);
    expect(await api().count('usage_records', { client_req_id: clientReqId })).to.equal(0);
    const exact = await report({ clientReqId, listingId: listing, units: 5 });
    expect(exact.status).to.equal(201);
    expect(await exact.json()).to.deep.include({ remaining: 0, replayed: false });
    await expectError(await report({ clientReqId: randomUUID(), listingId: listing, units: 1 }), 402, 'QUOTA_EXCEEDED');
  });

  it('answers 403 NOT_ENTITLED without an active entitlement to the listing', async () => {
    const listing = await api().listing();
    await expectError(await report({ clientReqId: randomUUID(), listingId: listing, units: 1 }), 403, 'NOT_ENTITLED');
    expect(await api().count('usage_records', { listing_id: listing })).to.equal(0);
  });

  it('validates the body: clientReqId is a required UUID, units a positive integer', async () => {
    const listing = await bought(5);
    for (const json of [
      { listingId: listing, units: 1 },
      { clientReqId: 'not-a-uuid', listingId: listing, units: 1 },
      { clientReqId: randomUUID(), listingId: listing, units: 0 },
      { clientReqId: randomUUID(), listingId: listing, units: 1.5 },
      { clientReqId: randomUUID(), listingId: listing, units: '1' },
      { clientReqId: randomUUID(), listingId: listing, units: 1, extra: true },
    ]) {
      await expectError(await report(json), 400, 'VALIDATION_FAILED');
    }
    expect(await remaining(listing)).to.deep.equal([5]);
  });

  it('needs usage:report to report and usage:read to read', async () => {
    const listing = await bought(5);
    const readOnly = await api().token('alice@example.com', 'openid usage:read');
    await expectError(await report({ clientReqId: randomUUID(), listingId: listing, units: 1 }, readOnly), 403, 'INSUFFICIENT_SCOPE');
    const reportOnly = await api().token('alice@example.com', 'openid usage:report');
    await expectError(await api().call('GET', '/v1/usage', { token: reportOnly }), 403, 'INSUFFICIENT_SCOPE');
    await expectError(await api().call('GET', '/v1/usage'), 401, 'UNAUTHENTICATED');
    expect(await remaining(listing)).to.deep.equal([5]);
  });

  it('shows remaining quota per entitlement and period', async () => {
    const listing = await api().listing({ units: 12, period: 'month' });
    await api().deliver(stripeEvent('checkout.session.completed', objects.checkoutSession({ userId: aliceId, listingId: listing })));
    await report({ clientReqId: randomUUID(), listingId: listing, units: 5 });
    const res = await api().call('GET', `/v1/usage?listingId=${listing}`, { token: alice });
    const { items } = (await res.json()) as { items: Record<string, unknown>[] };
    expect(items).to.have.length(1);
    const [e] = await api().entitlements({ listing_id: listing });
    expect(items[0]).to.deep.equal({
      entitlementId: e!.id, listingId: listing, status: 'active', kind: 'one_time',
      quota: { units: 12, period: 'month', remaining: 7, used: 5 },
      periodStart: new Date(e!.period_start as number).toISOString(), periodEnd: new Date(e!.period_end as number).toISOString(),
    });
    expect(e!.period_end as number - (e!.period_start as number)).to.be.within(28 * 86_400_000, 31 * 86_400_000);
    await expectError(await api().call('GET', '/v1/usage?listingId=nope', { token: alice }), 400, 'VALIDATION_FAILED');
  });

  it('renews a monthly quota of a one-time purchase when its period has passed (once, however many requests)', async () => {
    const listing = await api().listing({ units: 4, period: 'month' });
    await api().deliver(stripeEvent('checkout.session.completed', objects.checkoutSession({ userId: aliceId, listingId: listing })));
    expect((await report({ clientReqId: randomUUID(), listingId: listing, units: 4 })).status).to.equal(201);
    await expectError(await report({ clientReqId: randomUUID(), listingId: listing, units: 1 }), 402, 'QUOTA_EXCEEDED');
    // Move the grant 40 days back: the current period is the second one.
    const day = 86_400_000;
    const [e] = await api().entitlements({ listing_id: listing });
    const granted = (e!.granted_at as number) - 40 * day;
    await api().db('entitlements').where({ id: e!.id }).update({ granted_at: granted, period_start: granted, period_end: (e!.period_end as number) - 40 * day });
    const results = await Promise.all(Array.from({ length: 6 }, () => report({ clientReqId: randomUUID(), listingId: listing, units: 1 })));
    expect(results.map((r) => r.status).sort()).to.deep.equal([201, 201, 201, 201, 402, 402]);
    const [after] = await api().entitlements({ listing_id: listing });
    expect(after).to.deep.include({ quota_remaining: 0 });
    expect(after!.period_start as number).to.be.greaterThan(granted).and.at.most(Date.now());
    expect(after!.period_end as number).to.be.greaterThan(Date.now());
  });

  describe('concurrency', () => {
    it('200 parallel requests with distinct ids against a quota of 50: exactly 50 succeed, remaining 0', async () => {
      const listing = await bought(50);
      const results = await Promise.all(Array.from({ length: 200 }, () => report({ clientReqId: randomUUID(), listingId: listing, units: 1 })));
      const statuses = results.map((r) => r.status);
      const bodies = await Promise.all(results.map((r) => r.json() as Promise<{ error?: { code: string }; remaining?: number }>));
      expect(statuses.filter((s) => s === 201), JSON.stringify([...new Set(statuses)])).to.have.length(50);
      expect(statuses.filter((s) => s === 402)).to.have.length(150);
      expect(bodies.filter((b) => b.error).every((b) => b.error!.code === 'QUOTA_EXCEEDED')).to.equal(true);
      expect(bodies.filter((b) => !b.error).map((b) => b.remaining).sort((x, y) => x! - y!)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
      expect(await remaining(listing)).to.deep.equal([0]);
      expect(await api().count('usage_records', { listing_id: listing })).to.equal(50);
    });

    it('50 parallel requests reusing one id: one consumption, 50 identical answers', async () => {
      const listing = await bought(50);
      const clientReqId = randomUUID();
      const results = await Promise.all(Array.from({ length: 50 }, () => report({ clientReqId, listingId: listing, units: 2 })));
      expect(results.map((r) => r.status)).to.deep.equal(Array(50).fill(201));
      const bodies = (await Promise.all(results.map((r) => r.json()))) as { id: string; remaining: number; replayed: boolean }[];
      expect(bodies.filter((b) => !b.replayed)).to.have.length(1);
      expect(new Set(bodies.map((b) => `${b.id}:${b.remaining}`))).to.deep.equal(new Set([`${bodies[0]!.id}:48`]));
      expect(await remaining(listing)).to.deep.equal([48]);
      expect(await api().count('usage_records', { client_req_id: clientReqId })).to.equal(1);
    });
  });
});
