import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { httpModeration, passThroughModeration } from '#api/features/reviews/index.js';
import { expectError, reviewSuites } from './reviews.fixture.js';

/** A loopback moderation service; `answer` decides each response (or never responds). */
async function moderationServer(answer: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void) {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => answer(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/check`,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

reviewSuites('review moderation', (api) => {
  let listing: string;
  let userId: string;
  let token: string;
  const post = (json: unknown) => api().call('POST', `/v1/listings/${listing}/reviews`, { token, json });

  before(async () => {
    listing = await api().listing();
    userId = await api().user('mo@example.com');
    await api().entitle(userId, listing);
    token = await api().token('mo@example.com');
  });
  afterEach(() => api().useModeration(passThroughModeration));

  it('asks the hook before storing, and a refusal is 422 REVIEW_REJECTED with its reason and nothing stored', async () => {
    api().useModeration({ check: async () => ({ allowed: false, reason: 'SPAM' }) });
    api().drafts.length = 0;
    await expectError(await post({ rating: 2, body: ' buy now ' }), 422, 'REVIEW_REJECTED', { reason: 'SPAM' });
    expect(api().drafts).to.deep.equal([{ listingId: listing, userId, rating: 2, body: 'buy now' }]);
    expect(await api().stored(listing)).to.equal(0);
    expect(await api().aggregates(listing)).to.deep.equal({ count: 0, sum: 0 });
  });

  it('posts the draft as JSON to an HTTP service and follows its verdict', async () => {
    const seen: unknown[] = [];
    const svc = await moderationServer((req, body, res) => {
      seen.push({ type: req.headers['content-type'], body: JSON.parse(body) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ allowed: false, reason: 'PROFANITY' }));
    });
    try {
      api().useModeration(httpModeration({ url: svc.url, timeoutMs: 2000 }));
      await expectError(await post({ rating: 1, body: 'darn' }), 422, 'REVIEW_REJECTED', { reason: 'PROFANITY' });
      expect(seen).to.deep.equal([{ type: 'application/json', body: { listingId: listing, userId, rating: 1, body: 'darn' } }]);
      expect(await api().stored(listing)).to.equal(0);
    } finally {
      await svc.close();
    }
  });

  it('fails closed by default: a service that never answers is 422 MODERATION_UNAVAILABLE within the timeout', async () => {
    const svc = await moderationServer(() => undefined);
    try {
      api().useModeration(httpModeration({ url: svc.url, timeoutMs: 200 }));
      const started = Date.now();
      await expectError(await post({ rating: 5, body: 'Great' }), 422, 'REVIEW_REJECTED', { reason: 'MODERATION_UNAVAILABLE' });
      expect(Date.now() - started).to.be.lessThan(2000);
      expect(await api().stored(listing)).to.equal(0);
      expect(await api().aggregates(listing)).to.deep.equal({ count: 0, sum: 0 });
    } finally {
      await svc.close();
    }
  });

  it('fails closed on a 5xx answer and on an unreachable service', async () => {
    const svc = await moderationServer((_req, _body, res) => res.writeHead(503).end('down'));
    try {
      api().useModeration(httpModeration({ url: svc.url, timeoutMs: 2000 }));
      await expectError(await post({ rating: 5, body: 'Great' }), 422, 'REVIEW_REJECTED', { reason: 'MODERATION_UNAVAILABLE' });
    } finally {
      await svc.close();
    }
    api().useModeration(httpModeration({ url: 'http://127.0.0.1:1/check', timeoutMs: 2000 }));
    await expectError(await post({ rating: 5, body: 'Great' }), 422, 'REVIEW_REJECTED', { reason: 'MODERATION_UNAVAILABLE' });
    expect(await api().stored(listing)).to.equal(0);
  });

  it('with failOpen: true, stores the review when the service never answers', async () => {
    const svc = await moderationServer(() => undefined);
    try {
      api().useModeration(httpModeration({ url: svc.url, timeoutMs: 200, failOpen: true }));
      const res = await post({ rating: 5, body: 'Great' });
      expect(res.status).to.equal(201);
      expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 5 });
    } finally {
      await svc.close();
    }
  });

  it('moderates an edit too: a refused edit changes nothing', async () => {
    const [review] = await api().db('reviews').select('id').where({ listing_id: listing });
    api().useModeration({ check: async (d) => (d.body.includes('spam') ? { allowed: false, reason: 'SPAM' } : { allowed: true }) });
    await expectError(await api().call('PATCH', `/v1/reviews/${review.id}`, { token, json: { rating: 1, body: 'spam spam' } }), 422, 'REVIEW_REJECTED', { reason: 'SPAM' });
    const row = await api().db('reviews').select('rating', 'body').where({ id: review.id }).first();
    expect({ rating: Number(row.rating), body: row.body }).to.deep.equal({ rating: 5, body: 'Great' });
    expect(await api().aggregates(listing)).to.deep.equal({ count: 1, sum: 5 });
  });
});
