import { expect } from 'chai';
import { expectError, reviewSuites, WRITE } from './reviews.fixture.js';

reviewSuites('review moderation by admins: delete and hide', (api) => {
  let listing: string;
  let una: string;
  let vic: string;
  let adminCookie: string;
  let userCookie: string;
  const create = async (token: string, rating: number) => {
    const res = await api().call('POST', `/v1/listings/${listing}/reviews`, { token, json: { rating, body: `Rated ${rating}` } });
    expect(res.status).to.equal(201);
    return ((await res.json()) as { id: string }).id;
  };
  const listed = async () => {
    const res = await api().call('GET', `/v1/listings/${listing}/reviews`);
    return ((await res.json()) as { items: { id: string }[] }).items.map((r) => r.id);
  };

  before(async () => {
    listing = await api().listing();
    for (const email of ['una@example.com', 'vic@example.com']) await api().entitle(await api().user(email), listing);
    await api().user('ada@example.com', 'admin');
    [una, vic, adminCookie, userCookie] = await Promise.all([
      api().token('una@example.com'), api().token('vic@example.com'), api().sessionCookie('ada@example.com'), api().sessionCookie('una@example.com'),
    ]);
  });

  it('lets an admin session delete anyone\'s review, adjusting the aggregates', async () => {
    const id = await create(una, 4);
    await create(vic, 2);
    expect(await api().aggregates(listing)).to.deep.equal({ count: 2, sum: 6 });
    const res = await api().call('DELETE', `/v1/reviews/${id}`, { cookie: adminCookie });
    expect(res.status).to.equal(204);
    expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 2 });
    expect(await listed()).to.have.length(1);
  });

  it('does not let an admin\'s bearer token act as a moderator (review:moderate needs a session)', async () => {
    const [vicReview] = await api().db('reviews').select('id').where({ listing_id: listing });
    const adaToken = await api().token('ada@example.com', WRITE);
    await expectError(await api().call('DELETE', `/v1/reviews/${vicReview.id}`, { token: adaToken }), 404, 'REVIEW_NOT_FOUND');
    await expectError(await api().call('POST', `/v1/reviews/${vicReview.id}/hide`, { token: adaToken }), 403, 'INSUFFICIENT_SCOPE');
    expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 2 });
  });

  it('refuses hide to a non-admin session with 403 FORBIDDEN', async () => {
    const [vicReview] = await api().db('reviews').select('id').where({ listing_id: listing });
    await expectError(await api().call('POST', `/v1/reviews/${vicReview.id}/hide`, { cookie: userCookie }), 403, 'FORBIDDEN');
  });

  it('hides a review from the listing and from the aggregates; hiding again changes nothing', async () => {
    const unaId = await create(una, 5);
    const [vicReview] = await api().db('reviews').select('id').where({ listing_id: listing, user_id: (await api().db('user').where({ email: 'vic@example.com' }).first()).id });
    expect(await api().aggregates(listing)).to.deep.equal({ count: 2, sum: 7 });
    for (let i = 0; i < 2; i++) {
      const res = await api().call('POST', `/v1/reviews/${vicReview.id}/hide`, { cookie: adminCookie });
      expect(res.status).to.equal(204);
      expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 5 });
    }
    expect(await listed()).to.deep.equal([unaId]);
    await expectError(await api().call('POST', '/v1/reviews/0b3a2c7e-4a1f-4f55-8f0e-6c1d2e3f4a5b/hide', { cookie: adminCookie }), 404, 'REVIEW_NOT_FOUND');
  });

  it('lets the author edit and delete a hidden review without touching the aggregates again', async () => {
    const [hidden] = await api().db('reviews').select('id').where({ listing_id: listing, status: 'hidden' });
    expect((await api().call('PATCH', `/v1/reviews/${hidden.id}`, { token: vic, json: { rating: 5 } })).status).to.equal(200);
    expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 5 });
    expect(await listed()).to.have.length(1);
    expect((await api().call('DELETE', `/v1/reviews/${hidden.id}`, { token: vic })).status).to.equal(204);
    expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 5 });
  });
});
