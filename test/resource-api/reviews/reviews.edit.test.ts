import { expect } from 'chai';
import { expectError, reviewSuites } from './reviews.fixture.js';

reviewSuites('PATCH and DELETE /v1/reviews/:id by the author', (api) => {
  let listing: string;
  let ann: string;
  let ben: string;
  const create = async (token: string, rating: number, body: string) => {
    const res = await api().call('POST', `/v1/listings/${listing}/reviews`, { token, json: { rating, body } });
    expect(res.status).to.equal(201);
    return (await res.json()) as { id: string; createdAt: string; updatedAt: string };
  };

  before(async () => {
    listing = await api().listing();
    for (const email of ['ann@example.com', 'ben@example.com']) await api().entitle(await api().user(email), listing);
    [ann, ben] = await Promise.all([api().token('ann@example.com'), api().token('ben@example.com')]);
  });

  it('lets the author edit, moving the aggregates by the rating delta only', async () => {
    const review = await create(ann, 5, 'Love it');
    await create(ben, 3, 'Fine');
    expect(await api().aggregates(listing)).to.deep.equal({ count: 2, sum: 8 });
    await new Promise((r) => setTimeout(r, 5));
    const res = await api().call('PATCH', `/v1/reviews/${review.id}`, { token: ann, json: { rating: 2 } });
    expect(res.status).to.equal(200);
    const edited = (await res.json()) as Record<string, unknown>;
    expect(edited).to.deep.include({ id: review.id, rating: 2, body: 'Love it', createdAt: review.createdAt });
    expect(edited.updatedAt).to.not.equal(review.updatedAt);
    expect(await api().aggregates(listing)).to.deep.equal({ count: 2, sum: 5 });
    const bodyOnly = await api().call('PATCH', `/v1/reviews/${review.id}`, { token: ann, json: { body: 'Changed my mind' } });
    expect(((await bodyOnly.json()) as { body: string }).body).to.equal('Changed my mind');
    expect(await api().aggregates(listing)).to.deep.equal({ count: 2, sum: 5 });
  });

  it('answers 404 REVIEW_NOT_FOUND to anyone but the author, exactly as for a missing review', async () => {
    const [annReview] = await api().db('reviews').select('id', 'rating').where({ listing_id: listing, body: 'Changed my mind' });
    await expectError(await api().call('PATCH', `/v1/reviews/${annReview.id}`, { token: ben, json: { rating: 1 } }), 404, 'REVIEW_NOT_FOUND');
    await expectError(await api().call('DELETE', `/v1/reviews/${annReview.id}`, { token: ben }), 404, 'REVIEW_NOT_FOUND');
    await expectError(await api().call('PATCH', '/v1/reviews/0b3a2c7e-4a1f-4f55-8f0e-6c1d2e3f4a5b', { token: ben, json: { rating: 1 } }), 404, 'REVIEW_NOT_FOUND');
    expect(Number((await api().db('reviews').select('rating').where({ id: annReview.id }).first()).rating)).to.equal(2);
    expect(await api().aggregates(listing)).to.deep.equal({ count: 2, sum: 5 });
  });

  it('lets the author delete (204), taking the rating out of the aggregates once', async () => {
    const [benReview] = await api().db('reviews').select('id').where({ listing_id: listing, body: 'Fine' });
    const res = await api().call('DELETE', `/v1/reviews/${benReview.id}`, { token: ben });
    expect(res.status).to.equal(204);
    expect(await res.text()).to.equal('');
    expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 2 });
    await expectError(await api().call('DELETE', `/v1/reviews/${benReview.id}`, { token: ben }), 404, 'REVIEW_NOT_FOUND');
    expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 2 });
  });

  it('keeps the aggregates exact under concurrent edits of one review', async () => {
    const [annReview] = await api().db('reviews').select('id').where({ listing_id: listing });
    const ratings = [1, 5, 3, 4, 2, 5, 1, 3];
    const results = await Promise.all(ratings.map((rating) => api().call('PATCH', `/v1/reviews/${annReview.id}`, { token: ann, json: { rating } })));
    expect(results.map((r) => r.status)).to.deep.equal(ratings.map(() => 200));
    const final = Number((await api().db('reviews').select('rating').where({ id: annReview.id }).first()).rating);
    expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: final });
  });
});
