import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { expectError, reviewSuites } from './reviews.fixture.js';

interface Page { items: { id: string; rating: number; author: { id: string; name: string } }[]; nextCursor: string | null }

reviewSuites('GET /v1/listings/:id/reviews', (api) => {
  let listing: string;
  /** The 25 seeded reviews in the order the API must return them. */
  let expected: string[];
  const page = async (query = '') => {
    const res = await api().call('GET', `/v1/listings/${listing}/reviews${query}`);
    expect(res.status, await res.clone().text()).to.equal(200);
    return (await res.json()) as Page;
  };

  before(async () => {
    listing = await api().listing();
    const now = new Date().toISOString();
    const base = Date.now() - 100_000;
    const rows = Array.from({ length: 25 }, (_, i) => ({ i, userId: randomUUID(), id: randomUUID(), createdAt: base + Math.floor(i / 3) * 1000 }));
    await api().db('user').insert(rows.map((r) => ({ id: r.userId, name: `Seed ${r.i}`, email: `seed${r.i}@example.com`, emailVerified: true, createdAt: now, updatedAt: now, role: 'user' })));
    // Three reviews share each created_at, so the id tiebreak is exercised.
    await api().db('reviews').insert(rows.map((r) => ({
      id: r.id, listing_id: listing, user_id: r.userId, rating: (r.i % 5) + 1, body: `Seed ${r.i}`, status: 'visible', created_at: r.createdAt, updated_at: r.createdAt,
    })));
    expected = rows.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).map((r) => r.id);
  });

  it('pages newest first with an opaque cursor, stable while new reviews arrive', async () => {
    const first = await page('?limit=10');
    expect(first.items.map((r) => r.id)).to.deep.equal(expected.slice(0, 10));
    expect(first.nextCursor).to.be.a('string').and.match(/^[A-Za-z0-9_-]+$/);

    // A review written between two page reads must not shift the pages that follow.
    const userId = await api().user('late@example.com', 'user', 'Late');
    await api().entitle(userId, listing);
    const created = await api().call('POST', `/v1/listings/${listing}/reviews`, { token: await api().token('late@example.com'), json: { rating: 5, body: 'Late but great' } });
    expect(created.status).to.equal(201);
    const lateId = ((await created.json()) as { id: string }).id;

    const second = await page(`?limit=10&cursor=${first.nextCursor}`);
    const third = await page(`?limit=10&cursor=${second.nextCursor}`);
    expect(second.items.map((r) => r.id)).to.deep.equal(expected.slice(10, 20));
    expect(third.items.map((r) => r.id)).to.deep.equal(expected.slice(20));
    expect(third.nextCursor).to.equal(null);
    expect(new Set([...first.items, ...second.items, ...third.items].map((r) => r.id)).size).to.equal(25);

    const fresh = await page();
    expect(fresh.items).to.have.length(20);
    expect(fresh.items[0]).to.deep.include({ id: lateId, rating: 5, author: { id: userId, name: 'Late' } });
    expect(fresh.items.slice(1).map((r) => r.id)).to.deep.equal(expected.slice(0, 19));
  });

  it('ends with a null cursor exactly at the last item', async () => {
    const all = await page('?limit=50');
    expect(all.items).to.have.length(26);
    expect(all.nextCursor).to.equal(null);
  });

  it('is public, but a presented credential must still be valid', async () => {
    await expectError(await api().call('GET', `/v1/listings/${listing}/reviews`, { token: 'not.a.jwt' }), 401, 'INVALID_TOKEN');
  });

  it('answers 404 LISTING_NOT_FOUND for a listing that is not published or does not exist', async () => {
    for (const status of ['draft', 'suspended', 'deleted'] as const) {
      await expectError(await api().call('GET', `/v1/listings/${await api().listing(status)}/reviews`), 404, 'LISTING_NOT_FOUND');
    }
    await expectError(await api().call('GET', `/v1/listings/${randomUUID()}/reviews`), 404, 'LISTING_NOT_FOUND');
  });

  for (const q of ['?limit=0', '?limit=51', '?limit=ten', '?limit=1.5', '?sort=oldest']) {
    it(`answers 400 VALIDATION_FAILED to ${q}`, async () => {
      await expectError(await api().call('GET', `/v1/listings/${listing}/reviews${q}`), 400, 'VALIDATION_FAILED');
    });
  }

  it('answers 400 INVALID_CURSOR to a cursor it did not issue', async () => {
    for (const cursor of ['garbage', Buffer.from('{"t":"x","id":1}').toString('base64url'), 'a'.repeat(201)]) {
      const res = await api().call('GET', `/v1/listings/${listing}/reviews?cursor=${cursor}`);
      await expectError(res, 400, cursor.length > 200 ? 'VALIDATION_FAILED' : 'INVALID_CURSOR');
    }
  });

  it('answers 400 VALIDATION_FAILED to a listing id that is not a UUID', async () => {
    await expectError(await api().call('GET', '/v1/listings/not-a-uuid/reviews'), 400, 'VALIDATION_FAILED');
  });
});
