import { expect } from 'chai';
import { expectError, reviewSuites } from './reviews.fixture.js';

reviewSuites('POST /v1/listings/:id/reviews', (api) => {
  let listing: string;
  let aliceId: string;
  let alice: string;

  before(async () => {
    listing = await api().listing();
    aliceId = await api().user('alice@example.com', 'user', 'Alice');
    await api().entitle(aliceId, listing);
    alice = await api().token('alice@example.com');
  });

  it('lets an entitled user review once and counts the rating exactly', async () => {
    const res = await api().call('POST', `/v1/listings/${listing}/reviews`, { token: alice, json: { rating: 4, body: '  Solid agent.  ' } });
    expect(res.status).to.equal(201);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    const review = (await res.json()) as Record<string, unknown>;
    expect(review).to.have.keys('id', 'listingId', 'rating', 'body', 'author', 'createdAt', 'updatedAt');
    expect(review).to.deep.include({ listingId: listing, rating: 4, body: 'Solid agent.', author: { id: aliceId, name: 'Alice' } });
    expect(review.createdAt).to.equal(review.updatedAt).and.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 4 });
  });

  it('answers 409 REVIEW_EXISTS to a second review and leaves the aggregates alone', async () => {
    await expectError(await api().call('POST', `/v1/listings/${listing}/reviews`, { token: alice, json: { rating: 1, body: 'Again' } }), 409, 'REVIEW_EXISTS');
    expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 4 });
    expect(await api().stored(listing)).to.equal(1);
  });

  it('refuses a user without an active entitlement with 403 NOT_ENTITLED and stores nothing', async () => {
    const other = await api().listing();
    const bobId = await api().user('bob@example.com');
    await api().entitle(bobId, other, 'revoked');
    const bob = await api().token('bob@example.com');
    await expectError(await api().call('POST', `/v1/listings/${other}/reviews`, { token: bob, json: { rating: 5, body: 'Great' } }), 403, 'NOT_ENTITLED');
    // An entitlement to another listing does not count either.
    await expectError(await api().call('POST', `/v1/listings/${other}/reviews`, { token: alice, json: { rating: 5, body: 'Great' } }), 403, 'NOT_ENTITLED');
    expect(await api().stored(other)).to.equal(0);
    expect(await api().aggregates(other)).to.deep.equal({ count: 0, sum: 0 });
  });

  it('answers 404 LISTING_NOT_FOUND for a listing that is not published or does not exist', async () => {
    for (const status of ['draft', 'suspended', 'deleted'] as const) {
      const hidden = await api().listing(status);
      await api().entitle(aliceId, hidden);
      await expectError(await api().call('POST', `/v1/listings/${hidden}/reviews`, { token: alice, json: { rating: 5, body: 'Hi' } }), 404, 'LISTING_NOT_FOUND');
      expect(await api().stored(hidden)).to.equal(0);
    }
    await expectError(await api().call('POST', '/v1/listings/6f1c1c1e-8d5a-4b8e-9a61-1d2a3b4c5d6e/reviews', { token: alice, json: { rating: 5, body: 'Hi' } }), 404, 'LISTING_NOT_FOUND');
  });

  it('counts 20 concurrent reviews by 20 entitled users exactly', async () => {
    const busy = await api().listing();
    const people = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const email = `crowd${i}@example.com`;
      await api().entitle(await api().user(email), busy);
      return { token: await api().token(email), rating: (i % 5) + 1 };
    }));
    const results = await Promise.all(people.map((p, i) => api().call('POST', `/v1/listings/${busy}/reviews`, { token: p.token, json: { rating: p.rating, body: `Review ${i}` } })));
    expect(results.map((r) => r.status)).to.deep.equal(Array(20).fill(201));
    expect(await api().aggregates(busy)).to.deep.equal({ count: 20, sum: people.reduce((s, p) => s + p.rating, 0) });
    expect(await api().stored(busy)).to.equal(20);
  });

  it('lets exactly one of several identical concurrent requests through', async () => {
    const raced = await api().listing();
    await api().entitle(aliceId, raced);
    const results = await Promise.all(Array.from({ length: 5 }, () => api().call('POST', `/v1/listings/${raced}/reviews`, { token: alice, json: { rating: 3, body: 'Once' } })));
    expect(results.map((r) => r.status).sort()).to.deep.equal([201, 409, 409, 409, 409]);
    expect(await api().aggregates(raced)).to.deep.equal({ count: 1, sum: 3 });
  });
});
