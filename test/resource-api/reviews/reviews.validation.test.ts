import { expect } from 'chai';
import { expectError, reviewSuites } from './reviews.fixture.js';

reviewSuites('review input validation and access', (api) => {
  let listing: string;
  let token: string;
  let reviewId: string;
  const post = (json: unknown, headers: Record<string, string> = {}) => api().call('POST', `/v1/listings/${listing}/reviews`, { token, json, headers });

  before(async () => {
    listing = await api().listing();
    await api().entitle(await api().user('val@example.com'), listing);
    token = await api().token('val@example.com');
  });

  const badBodies: [string, unknown][] = [
    ['rating 0', { rating: 0, body: 'ok' }],
    ['rating 6', { rating: 6, body: 'ok' }],
    ['rating as a string', { rating: '5', body: 'ok' }],
    ['a fractional rating', { rating: 4.5, body: 'ok' }],
    ['a missing rating', { body: 'ok' }],
    ['a missing body', { rating: 5 }],
    ['an empty body', { rating: 5, body: '' }],
    ['a blank body', { rating: 5, body: ' \n\t ' }],
    ['a body of 2001 characters', { rating: 5, body: 'a'.repeat(2001) }],
    ['an unknown field', { rating: 5, body: 'ok', status: 'hidden' }],
    ['an array', [{ rating: 5, body: 'ok' }]],
  ];
  for (const [what, json] of badBodies) {
    it(`answers 400 VALIDATION_FAILED to ${what} and stores nothing`, async () => {
      await expectError(await post(json), 400, 'VALIDATION_FAILED');
      expect(await api().stored(listing)).to.equal(0);
    });
  }

  it('names the failing field in the details', async () => {
    await expectError(await post({ rating: 0, body: 'ok' }), 400, 'VALIDATION_FAILED', {
      issues: [{ in: 'body', path: 'rating', message: 'Too small: expected number to be >=1' }],
    });
  });

  it('answers 400 INVALID_JSON to a malformed body, 415 to a body that is not JSON', async () => {
    await expectError(await post('{"rating": 5,'), 400, 'INVALID_JSON');
    await expectError(await post('rating=5&body=ok', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await expectError(await post('{"rating":5,"body":"ok"}', { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await api().stored(listing)).to.equal(0);
    expect(await api().aggregates(listing)).to.deep.equal({ count: 0, sum: 0 });
  });

  it('accepts a body of exactly 2000 characters', async () => {
    const res = await post({ rating: 5, body: 'a'.repeat(2000) });
    expect(res.status).to.equal(201);
    reviewId = ((await res.json()) as { id: string }).id;
  });

  it('answers 400 VALIDATION_FAILED to an edit with nothing to change or an unknown field', async () => {
    await expectError(await api().call('PATCH', `/v1/reviews/${reviewId}`, { token, json: {} }), 400, 'VALIDATION_FAILED');
    await expectError(await api().call('PATCH', `/v1/reviews/${reviewId}`, { token, json: { rating: 4, listingId: listing } }), 400, 'VALIDATION_FAILED');
    await expectError(await api().call('PATCH', `/v1/reviews/${reviewId}`, { token, json: { rating: 7 } }), 400, 'VALIDATION_FAILED');
    expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 5 });
  });

  it('answers 400 VALIDATION_FAILED to ids that are not UUIDs', async () => {
    await expectError(await api().call('POST', '/v1/listings/123/reviews', { token, json: { rating: 5, body: 'ok' } }), 400, 'VALIDATION_FAILED');
    await expectError(await api().call('PATCH', '/v1/reviews/123', { token, json: { rating: 5 } }), 400, 'VALIDATION_FAILED');
    await expectError(await api().call('DELETE', `/v1/reviews/${reviewId}x`, { token }), 400, 'VALIDATION_FAILED');
  });

  it('answers 401 without a credential and 403 INSUFFICIENT_SCOPE to a token without reviews:write', async () => {
    await expectError(await api().call('POST', `/v1/listings/${listing}/reviews`, { json: { rating: 5, body: 'ok' } }), 401, 'UNAUTHENTICATED');
    const readOnly = await api().token('val@example.com', 'openid listings:read');
    const res = await api().call('POST', `/v1/listings/${listing}/reviews`, { token: readOnly, json: { rating: 5, body: 'ok' } });
    expect(res.headers.get('www-authenticate')).to.equal('Bearer error="insufficient_scope", scope="reviews:write"');
    await expectError(res, 403, 'INSUFFICIENT_SCOPE');
    await expectError(await api().call('PATCH', `/v1/reviews/${reviewId}`, { token: readOnly, json: { rating: 1 } }), 403, 'INSUFFICIENT_SCOPE');
    await expectError(await api().call('DELETE', `/v1/reviews/${reviewId}`, { token: readOnly }), 403, 'INSUFFICIENT_SCOPE');
    expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 5 });
  });
});
