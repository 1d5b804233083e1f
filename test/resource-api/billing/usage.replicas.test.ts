import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { startSystem, type System, type Backend } from '../../helpers/system.js';
import { HttpBrowser } from '../../helpers/http-browser.js';
import { PG_SKIP_REASON, PG_URL } from '../../helpers/services.js';
import { PASSWORD, REDIRECT, discover, signedInTokens } from '../../authz-server/oidc.flow.js';

/**
 * The quota guarantees across two resource-api processes on one database: the consumption is a
 * conditional UPDATE and the clientReqId a unique key, so no interleaving of replicas can
 * overspend or double-count.
 */
function suite(backend: Backend) {
  describe(`usage quota across two resource-api replicas (${backend})`, function () {
    this.timeout(120_000);
    let env: System;
    let replicas: string[];
    let token: string;
    let userId: string;

    before(async () => {
      // Two API processes on one database: the claim is proven across processes, not argued.
      env = await startSystem({ backend, hosting: 'process', logLevel: 'warn', authz: 1, api: 2 });
      await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'usage:report', 'usage:read'] });
      userId = await env.createUser({ email: 'agent-owner@example.com', password: PASSWORD });
      const oidcConfig = await discover(env.issuer, 'agent');
      token = (await signedInTokens(oidcConfig, new HttpBrowser(), { email: 'agent-owner@example.com', scope: 'openid usage:report usage:read' })).access_token;
      replicas = env.api.map((a) => a.url);
    });
    after(() => env?.close());

    async function entitlement(units: number): Promise<string> {
      const listingId = randomUUID();
      const now = Date.now();
      const publisher = await env.createUser({ email: `pub-${listingId}@example.com`, password: PASSWORD, role: 'publisher' });
      await env.db('listings').insert({
        id: listingId, slug: `l-${listingId}`, publisher_id: publisher, title: 'Agent', summary: 's', description: 'd', status: 'published', price_type: 'one_time',
        price_interval: null, currency: 'EUR', amount_minor: 100, quota_units: units, quota_period: 'once', search_text: 'agent', created_at: now, updated_at: now, published_at: now,
      });
      await env.db('entitlements').insert({
        id: randomUUID(), user_id: userId, listing_id: listingId, status: 'active', granted_at: now,
        quota_units: units, quota_period: 'once', quota_remaining: units, period_start: now, period_end: null,
      });
      return listingId;
    }
    /** One more active one-time entitlement of the user to `listingId`, granted at `grantedAt`. */
    async function grant(listingId: string, units: number, grantedAt: number): Promise<string> {
      const id = randomUUID();
      await env.db('entitlements').insert({
        id, user_id: userId, listing_id: listingId, status: 'active', granted_at: grantedAt,
        quota_units: units, quota_period: 'once', quota_remaining: units, period_start: grantedAt, period_end: null,
      });
      return id;
    }
    const records = (where: Record<string, unknown>) => env.db('usage_records').where(where).select('id', 'client_req_id', 'units', 'entitlement_id', 'result');
    const report = (i: number, body: unknown) =>
      fetch(`${replicas[i % 2]}/v1/usage`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const remaining = async (listingId: string) => {
      const res = await fetch(`${replicas[1]}/v1/usage?listingId=${listingId}`, { headers: { authorization: `Bearer ${token}` } });
      return ((await res.json()) as { items: { quota: { remaining: number } }[] }).items.map((i) => i.quota.remaining);
    };

    it('200 parallel reports with distinct clientReqIds against a quota of 50: exactly 50 succeed, remaining 0', async () => {
      const listingId = await entitlement(50);
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => report(i, { clientReqId: randomUUID(), listingId, units: 1 })));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201).length).to.equal(50);
      expect(statuses.filter((s) => s === 402).length).to.equal(150);
      expect(statuses.filter((s) => s >= 500)).to.deep.equal([]);
      expect(await remaining(listingId)).to.deep.equal([0]);
      expect(Number((await env.db('usage_records').where({ listing_id: listingId }).count({ n: '*' }))[0]!.n)).to.equal(50);
    });

    it('50 parallel reports reusing one clientReqId consume once; every answer is the same result', async () => {
      const listingId = await entitlement(50);
      const clientReqId = randomUUID();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => report(i, { clientReqId, listingId, units: 1 })));
      expect(results.map((r) => r.status).filter((s) => s !== 201)).to.deep.equal([]);
      const bodies = (await Promise.all(results.map((r) => r.json()))) as { id: string; remaining: number; replayed: boolean }[];
      expect(new Set(bodies.map((b) => b.id)).size).to.equal(1);
      expect(bodies.filter((b) => !b.replayed)).to.have.length(1);
      expect(new Set(bodies.map((b) => b.remaining))).to.deep.equal(new Set([49]));
      expect(await remaining(listingId)).to.deep.equal([49]);
    });

    it('150 parallel reports over two entitlements to one listing (20 + 30 units): exactly 50 succeed, every unit of each to exactly one report, no claim twice', async () => {
      const listingId = await entitlement(20);
      const [first] = await env.db('entitlements').where({ listing_id: listingId }).select('id', 'granted_at');
      // Granted later: tried second (the one closest to its period end first, then the oldest grant).
      const second = await grant(listingId, 30, Number(first!.granted_at) + 1000);
      const bodies = Array.from({ length: 150 }, () => ({ clientReqId: randomUUID(), listingId, units: 1 }));
      const results = await Promise.all(bodies.map((b, i) => report(i, b)));
      const answers = (await Promise.all(results.map((r) => r.json()))) as { clientReqId?: string; entitlementId?: string; remaining?: number; error?: { code: string } }[];
      expect(results.map((r) => r.status).filter((s) => s !== 201 && s !== 402)).to.deep.equal([]);
      const ok = answers.filter((a) => !a.error);
      expect(ok).to.have.length(50);
      expect(answers.filter((a) => a.error).map((a) => a.error!.code)).to.deep.equal(Array(100).fill('QUOTA_EXCEEDED'));
      // Every unit of each entitlement went to exactly one report: no lost update, no overspending.
      const remainingOf = (id: string) => ok.filter((a) => a.entitlementId === id).map((a) => a.remaining!).sort((x, y) => x - y);
      expect(remainingOf(first!.id as string)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
      expect(remainingOf(second)).to.deep.equal(Array.from({ length: 30 }, (_, i) => i));
      expect(await remaining(listingId)).to.deep.equal([0, 0]);
      const stored = await records({ listing_id: listingId });
      expect(stored).to.have.length(50);
      expect(new Set(stored.map((r) => r.client_req_id))).to.deep.equal(new Set(ok.map((a) => a.clientReqId)));
      for (const r of stored) expect(JSON.parse(r.result as string)).to.deep.include({ clientReqId: r.client_req_id, entitlementId: r.entitlement_id, replayed: false });
    });

    it('the same clientReqId sent to both replicas at once, 30 times over: one consumption each, both answers equal', async () => {
      const listingId = await entitlement(100);
      const ids = Array.from({ length: 30 }, () => randomUUID());
      const pairs = await Promise.all(ids.map(async (clientReqId) => {
        const body = { clientReqId, listingId, units: 2 };
        const [a, b] = await Promise.all([report(0, body), report(1, body)]);
        return [a.status, b.status, await a.json(), await b.json()] as const;
      }));
      for (const [sa, sb, a, b] of pairs) {
        expect([sa, sb]).to.deep.equal([201, 201]);
        const { replayed: ra, ...restA } = a as { replayed: boolean };
        const { replayed: rb, ...restB } = b as { replayed: boolean };
        expect(restA).to.deep.equal(restB);
        expect([ra, rb].sort()).to.deep.equal([false, true]);
      }
      expect(await remaining(listingId)).to.deep.equal([40]);
      const stored = await records({ listing_id: listingId });
      expect(stored.map((r) => r.client_req_id).sort()).to.deep.equal([...ids].sort());
    });

    it('the same clientReqId with other parameters at both replicas at once: one is consumed, the other is 409 IDEMPOTENCY_KEY_REUSED', async () => {
      const listingId = await entitlement(100);
      const other = await entitlement(100);
      const ids: string[] = Array.from({ length: 20 }, () => randomUUID());
      const pairs = await Promise.all(ids.map(async (clientReqId, i) => {
        const answers = await Promise.all([
          report(0, { clientReqId, listingId, units: 1 }),
          report(1, i % 2 ? { clientReqId, listingId, units: 2 } : { clientReqId, listingId: other, units: 1 }),
        ]);
        return Promise.all(answers.map(async (r) => `${r.status} ${((await r.json()) as { error?: { code: string } }).error?.code ?? 'ok'}`));
      }));
      for (const pair of pairs) expect(pair.sort()).to.deep.equal(['201 ok', '409 IDEMPOTENCY_KEY_REUSED']);
      const mine = (await records({})).filter((r) => ids.includes(r.client_req_id as string));
      expect(mine).to.have.length(20);
      const left = (await remaining(listingId))[0]! + (await remaining(other))[0]!;
      expect(200 - left).to.equal(mine.reduce((n, r) => n + Number(r.units), 0));
    });

    it('refusals from both replicas store nothing, and their clientReqIds may be sent again', async () => {
      const listingId = await entitlement(5);
      const notEntitled = await entitlement(5);
      await env.db('entitlements').where({ listing_id: notEntitled }).update({ status: 'revoked' });
      const tooMuch = Array.from({ length: 20 }, () => ({ clientReqId: randomUUID(), listingId, units: 6 }));
      const noEntitlement = Array.from({ length: 10 }, () => ({ clientReqId: randomUUID(), listingId: notEntitled, units: 1 }));
      const unknown = Array.from({ length: 10 }, () => ({ clientReqId: randomUUID(), listingId: randomUUID(), units: 1 }));
      const all = [...tooMuch, ...noEntitlement, ...unknown];
      const results = await Promise.all(all.map((b, i) => report(i, b)));
      const codes = await Promise.all(results.map(async (r) => [r.status, ((await r.json()) as { error: { code: string } }).error.code]));
      expect(codes).to.deep.equal([...Array(20).fill([402, 'QUOTA_EXCEEDED']), ...Array(20).fill([403, 'NOT_ENTITLED'])]);
      expect(await env.db('usage_records').whereIn('client_req_id', all.map((b) => b.clientReqId)).count({ n: '*' }).then(([r]) => Number(r!.n))).to.equal(0);
      expect(await remaining(listingId)).to.deep.equal([5]);
      // The same ids, now fitting: five of them get a unit each, as fresh reports.
      const again = await Promise.all(tooMuch.slice(0, 5).map((b, i) => report(i, { ...b, units: 1 })));
      const bodies = (await Promise.all(again.map((r) => r.json()))) as { replayed: boolean }[];
      expect(again.map((r) => r.status)).to.deep.equal(Array(5).fill(201));
      expect(bodies.map((b) => b.replayed)).to.deep.equal(Array(5).fill(false));
      expect(await remaining(listingId)).to.deep.equal([0]);
    });
  });
}

if (PG_URL) suite('pg');
else describe.skip(`usage quota across two resource-api replicas (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
suite('sqlite');
