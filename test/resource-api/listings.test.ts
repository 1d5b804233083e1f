import { expect } from 'chai';
import { apiFixture, type ApiFixture } from './fixture.js';
import { PG_URL, PG_SKIP_REASON } from '../helpers/services.js';
import type { Backend } from '../helpers/system.js';

const listing = (over: Record<string, unknown> = {}) => ({
  title: 'Research Agent',
  summary: 'Finds and summarises papers',
  description: 'A long description',
  price: { type: 'recurring', interval: 'month', currency: 'USD', amountMinor: 1999 },
  quota: { units: 50, period: 'month' },
  ...over,
});

function suite(backend: Backend) {
  describe(`listings (${backend})`, function () {
    this.timeout(90_000);
    let f: ApiFixture;
    before(async () => {
      f = await apiFixture(backend);
    });
    after(() => f?.close());
    const count = async () => Number((await f.env.db('listings').count({ n: '*' }))[0]!.n);

    async function published(over: Record<string, unknown> = {}) {
      const created = await f.request('POST', '/v1/listings', { as: 'pat', body: listing(over) });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const pub = await f.request('POST', `/v1/listings/${created.body.id}/publish`, { as: 'pat' });
      expect(pub.status).to.equal(200);
      return pub.body;
    }

    it('a publisher creates a draft that only they (and admins) can see', async () => {
      const res = await f.request('POST', '/v1/listings', { as: 'pat', body: listing({ slug: `research-agent-${backend}` }) });
      expect(res.status).to.equal(201);
      expect(res.body).to.deep.include({ status: 'draft', title: 'Research Agent', publisherId: f.ids.pat, slug: `research-agent-${backend}`, publishedAt: null });
      expect(res.body.price).to.deep.equal({ type: 'recurring', interval: 'month', currency: 'USD', amountMinor: 1999 });
      expect(res.body.rating).to.deep.equal({ count: 0, average: null });
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect((await f.request('GET', `/v1/listings/${res.body.id}`)).status).to.equal(404);
      expect((await f.request('GET', `/v1/listings/${res.body.id}`, { as: 'quinn' })).status).to.equal(404);
      expect((await f.request('GET', `/v1/listings/${res.body.id}`, { as: 'pat' })).body.status).to.equal('draft');
      expect((await f.request('GET', `/v1/listings/research-agent-${backend}`, { as: 'ada', via: 'session' })).status).to.equal(200);
      const list = await f.request('GET', '/v1/listings');
      expect(list.body.items.map((l: { id: string }) => l.id)).not.to.include(res.body.id);
    });

    it('publishing lists it publicly, by id and by slug', async () => {
      const l = await published({ slug: `pub-${backend}` });
      expect(l.status).to.equal('published');
      expect(l.publishedAt).to.be.a('string');
      expect((await f.request('GET', `/v1/listings/pub-${backend}`)).body.id).to.equal(l.id);
      const list = await f.request('GET', '/v1/listings?limit=50');
      expect(list.body.items.map((x: { id: string }) => x.id)).to.include(l.id);
    });

    it('refuses users without the role or the scope, and stores nothing', async () => {
      const before = await count();
      const asUser = await f.request('POST', '/v1/listings', { as: 'alice', body: listing() });
      expect([asUser.status, asUser.body.error.code]).to.deep.equal([403, 'FORBIDDEN']);
      const readOnly = await f.request('POST', '/v1/listings', { as: 'pat', scope: 'listings:read', body: listing() });
      expect([readOnly.status, readOnly.body.error.code]).to.deep.equal([403, 'INSUFFICIENT_SCOPE']);
      const anonymous = await f.request('POST', '/v1/listings', { body: listing() });
      expect(anonymous.status).to.equal(401);
      expect(await count()).to.equal(before);
    });

    it('only the publisher (or an admin) edits; others get 403 on a published listing', async () => {
      const l = await published();
      const other = await f.request('PATCH', `/v1/listings/${l.id}`, { as: 'quinn', body: { title: 'Hijacked' } });
      expect([other.status, other.body.error.code]).to.deep.equal([403, 'NOT_LISTING_OWNER']);
      const own = await f.request('PATCH', `/v1/listings/${l.id}`, { as: 'pat', body: { title: 'Renamed agent' } });
      expect(own.body.title).to.equal('Renamed agent');
      const admin = await f.request('PATCH', `/v1/listings/${l.id}`, { as: 'ada', via: 'session', body: { summary: 'Edited by staff' } });
      expect(admin.body).to.deep.include({ title: 'Renamed agent', summary: 'Edited by staff' });
    });

    it('an admin suspends; the listing leaves the catalogue and its publisher can no longer change it', async () => {
      const l = await published();
      const byPublisher = await f.request('POST', `/v1/listings/${l.id}/suspend`, { as: 'pat', via: 'session' });
      expect([byPublisher.status, byPublisher.body.error.code]).to.deep.equal([403, 'FORBIDDEN']);
      const byAdminToken = await f.request('POST', `/v1/listings/${l.id}/suspend`, { as: 'ada' });
      expect(byAdminToken.body.error.code).to.equal('INSUFFICIENT_SCOPE');
      const s = await f.request('POST', `/v1/listings/${l.id}/suspend`, { as: 'ada', via: 'session' });
      expect(s.body.status).to.equal('suspended');
      expect((await f.request('GET', `/v1/listings/${l.id}`)).status).to.equal(404);
      const edit = await f.request('PATCH', `/v1/listings/${l.id}`, { as: 'pat', body: { title: 'Try again' } });
      expect([edit.status, edit.body.error.code]).to.deep.equal([409, 'LISTING_SUSPENDED']);
      const unpublish = await f.request('POST', `/v1/listings/${l.id}/unpublish`, { as: 'pat' });
      expect(unpublish.body.error.code).to.equal('LISTING_SUSPENDED');
    });

    it('unpublish returns to draft; delete is soft and final', async () => {
      const l = await published();
      expect((await f.request('POST', `/v1/listings/${l.id}/unpublish`, { as: 'pat' })).body.status).to.equal('draft');
      expect((await f.request('POST', `/v1/listings/${l.id}/unpublish`, { as: 'pat' })).body.error.code).to.equal('INVALID_TRANSITION');
      const del = await f.request('DELETE', `/v1/listings/${l.id}`, { as: 'pat' });
      expect(del.status).to.equal(204);
      expect((await f.request('GET', `/v1/listings/${l.id}`, { as: 'pat' })).status).to.equal(404);
      const row = await f.env.db('listings').where({ id: l.id }).first();
      expect(row.status).to.equal('deleted');
      expect(Number(row.deleted_at)).to.be.greaterThan(0);
    });

    it('GET /v1/me lists the caller\'s active entitlements only', async () => {
      const l = await published();
      const now = Date.now();
      await f.env.db('entitlements').insert([
        { id: `00000000-0000-4000-8000-${backend === 'pg' ? '1' : '2'}00000000001`, user_id: f.ids.alice, listing_id: l.id, status: 'active', granted_at: now },
        { id: `00000000-0000-4000-8000-${backend === 'pg' ? '1' : '2'}00000000002`, user_id: f.ids.alice, listing_id: l.id, status: 'revoked', granted_at: now - 1000, revoked_at: now },
      ]);
      const me = await f.request('GET', '/v1/me', { as: 'alice', scope: 'listings:read' });
      expect(me.body.entitlements).to.deep.equal([{ listingId: l.id, grantedAt: new Date(now).toISOString() }]);
      expect((await f.request('GET', '/v1/me', { as: 'quinn', scope: 'listings:read' })).body.entitlements).to.deep.equal([]);
    });

    it('refuses a taken slug with 409 SLUG_TAKEN', async () => {
      await f.request('POST', '/v1/listings', { as: 'pat', body: listing({ slug: `dup-${backend}` }) });
      const again = await f.request('POST', '/v1/listings', { as: 'quinn', body: listing({ slug: `dup-${backend}` }) });
      expect([again.status, again.body.error.code]).to.deep.equal([409, 'SLUG_TAKEN']);
    });

    it('searches title, summary and description, treating wildcards literally', async () => {
      const l = await published({ title: `Zebra ${backend} finder`, summary: '100% accurate' });
      const hit = await f.request('GET', `/v1/listings?q=${encodeURIComponent(`zebra ${backend}`)}`);
      expect(hit.body.items.map((x: { id: string }) => x.id)).to.deep.equal([l.id]);
      const pct = await f.request('GET', `/v1/listings?q=${encodeURIComponent('100%')}&publisher=${f.ids.pat}`);
      expect(pct.body.items.map((x: { id: string }) => x.id)).to.include(l.id);
      const wild = await f.request('GET', `/v1/listings?q=${encodeURIComponent('%')}&limit=50`);
      expect(wild.body.items.map((x: { id: string }) => x.id)).to.deep.equal([l.id]);
    });

    it('paginates with a stable cursor: no duplicates or gaps when listings are added between pages', async () => {
      const mine: string[] = [];
      for (let i = 0; i < 12; i++) mine.push((await published({ title: `Paged ${i} ${backend}` })).id);
      const seen: string[] = [];
      let cursor: string | null = null;
      let inserted = false;
      do {
        const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await f.request('GET', `/v1/listings?limit=5&publisher=${f.ids.pat}${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.body.items.map((x) => x.id));
        cursor = page.body.nextCursor;
        if (!inserted) {
          await published({ title: `Late ${backend}` });
          inserted = true;
        }
      } while (cursor);
      expect(new Set(seen).size).to.equal(seen.length);
      for (const id of mine) expect(seen).to.include(id);
      expect(seen.indexOf(mine[11]!)).to.be.lessThan(seen.indexOf(mine[0]!));
    });

    const bad: [string, unknown][] = [
      ['a missing title', { ...listing(), title: undefined }],
      ['a too-short title', listing({ title: 'ab' })],
      ['an unknown field', { ...listing(), isAdmin: true }],
      ['a negative price', listing({ price: { type: 'one_time', currency: 'USD', amountMinor: -1 } })],
      ['a fractional price', listing({ price: { type: 'one_time', currency: 'USD', amountMinor: 1.5 } })],
      ['a lower-case currency', listing({ price: { type: 'one_time', currency: 'usd', amountMinor: 1 } })],
      ['a recurring price without interval', listing({ price: { type: 'recurring', currency: 'USD', amountMinor: 1 } })],
      ['a one-time price with interval', listing({ price: { type: 'one_time', interval: 'month', currency: 'USD', amountMinor: 1 } })],
      ['a string quota', listing({ quota: { units: '50', period: 'month' } })],
      ['a bad slug', listing({ slug: '../etc/passwd' })],
      ['a slug shaped like a listing id', listing({ slug: '00000000-0000-4000-8000-000000000001' })],
      ['__proto__ pollution', JSON.parse('{"__proto__":{"admin":true},"title":"x"}')],
      ['an array body', [listing()]],
    ];
    for (const [what, body] of bad) {
      it(`answers 400 to ${what} and stores nothing`, async () => {
        const before = await count();
        const res = await f.request('POST', '/v1/listings', { as: 'pat', body });
        expect(res.status).to.equal(400);
        expect(res.body.error.code).to.be.oneOf(['VALIDATION_FAILED', 'INVALID_JSON']);
        expect(await count()).to.equal(before);
      });
    }

    it('answers 415 to a non-JSON body, 400 to a bad cursor or id', async () => {
      const form = await f.request('POST', '/v1/listings', { as: 'pat', body: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect([form.status, form.body.error.code]).to.deep.equal([415, 'UNSUPPORTED_MEDIA_TYPE']);
      expect((await f.request('GET', '/v1/listings?cursor=not-a-cursor')).body.error.code).to.equal('INVALID_CURSOR');
      expect((await f.request('GET', '/v1/listings?limit=500')).body.error.code).to.equal('VALIDATION_FAILED');
      expect((await f.request('PATCH', '/v1/listings/not-a-uuid', { as: 'pat', body: { title: 'abc' } })).body.error.code).to.equal('VALIDATION_FAILED');
      expect((await f.request('GET', '/v1/listings?unknown=1')).body.error.code).to.equal('VALIDATION_FAILED');
    });
  });
}

suite('sqlite');
if (PG_URL) suite('pg');
else describe.skip(`listings (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
