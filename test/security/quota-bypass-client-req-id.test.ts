import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { errorOf, sharedStack, type Stack } from './stack.js';

/**
 * Threat: spending more quota than was bought by playing with `clientReqId` (security page:
 * "Each clientReqId is unique; reusing one is a no-op, not a free pass. The agent must mint a
 * fresh UUID per logical attempt; you can't avoid quota by always sending the same UUID.").
 * The quota is bought end to end: a signed checkout.session.completed webhook grants it.
 * Two API replicas racing on one id: test/resource-api/billing/usage.replicas.test.ts.
 */
describe('security: quota bypass by clobbering clientReqId', function () {
  this.timeout(60_000);
  const QUOTA = 3;
  let s: Stack;
  let token: string;
  let listing: string;

  before(async () => {
    s = await sharedStack();
    const buyer = await s.user('quota-agent@example.com');
    listing = await s.listing(QUOTA);
    const granted = await s.deliver(s.purchase(buyer, listing));
    // Stored (`queued`); deliver waits for the API's worker to apply it.
    expect([granted.status, granted.body?.outcome]).to.deep.equal([200, 'queued']);
    token = (await s.tokens('quota-agent@example.com', 'openid usage:report usage:read')).access_token;
  });

  const report = (clientReqId: string, units = 1, listingId = listing) => s.api('POST', '/v1/usage', { token, json: { clientReqId, listingId, units } });
  const remaining = async () => (await s.api('GET', `/v1/usage?listingId=${listing}`, { token })).body.items.map((i: { quota: { remaining: number } }) => i.quota.remaining);

  it('the same clientReqId, sent again and again (also concurrently), buys exactly one unit and replays its answer', async () => {
    const id = randomUUID();
    const first = await report(id);
    expect(first.status).to.equal(201);
    expect(first.body).to.include({ clientReqId: id, units: 1, remaining: QUOTA - 1, replayed: false });
    const again = [...(await Promise.all(Array.from({ length: 8 }, () => report(id)))), await report(id)];
    for (const r of again) {
      expect(r.status).to.equal(201);
      expect(r.body).to.deep.equal({ ...first.body, replayed: true });
    }
    expect(await remaining()).to.deep.equal([QUOTA - 1]);
  });

  it('the same clientReqId with another payload is refused with 409 IDEMPOTENCY_KEY_REUSED and consumes nothing', async () => {
    const id = randomUUID();
    expect((await report(id)).status).to.equal(201);
    expect(errorOf(await report(id, 2))).to.deep.equal([409, 'IDEMPOTENCY_KEY_REUSED']);
    expect(errorOf(await report(id, 1, randomUUID()))).to.deep.equal([409, 'IDEMPOTENCY_KEY_REUSED']);
    expect(await remaining()).to.deep.equal([QUOTA - 2]);
  });

  it('fresh ids are the only path, and they stop at the quota: 402 QUOTA_EXCEEDED; old ids replay, never buy more', async () => {
    const last = randomUUID();
    expect((await report(last)).status).to.equal(201);
    expect(await remaining()).to.deep.equal([0]);
    expect(errorOf(await report(randomUUID()))).to.deep.equal([402, 'QUOTA_EXCEEDED']);
    const replay = await report(last);
    expect([replay.status, replay.body.replayed, replay.body.remaining]).to.deep.equal([201, true, 0]);
    expect(await remaining()).to.deep.equal([0]);
    expect(await s.count('usage_records', { listing_id: listing })).to.equal(QUOTA);
  });
});
