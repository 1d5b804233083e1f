import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { authzEnv, type AuthzEnv, type Backend } from '../../helpers/authz.js';
import { HttpBrowser } from '../../helpers/http-browser.js';
import { freePort, runNode, SOURCE_FLAGS, type Proc } from '../../helpers/process.js';
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
    let env: AuthzEnv;
    let replicas: string[];
    const procs: Proc[] = [];
    let token: string;
    let userId: string;

    before(async () => {
      env = await authzEnv(backend, PG_URL);
      const authz = await env.start();
      await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'usage:report', 'usage:read'] });
      userId = await env.createUser({ email: 'agent-owner@example.com', password: PASSWORD });
      const oidcConfig = await discover(authz.issuer, 'agent');
      token = (await signedInTokens(oidcConfig, new HttpBrowser(), { email: 'agent-owner@example.com', scope: 'openid usage:report usage:read' })).access_token;
      replicas = [];
      for (let i = 0; i < 2; i++) {
        const port = await freePort();
        const proc = runNode([...SOURCE_FLAGS, 'resource-api/main.ts'], { ...env.env, API_PORT: String(port), AUTHZ_INTERNAL_URL: authz.issuer, DB_MIGRATE_ON_START: 'false', LOG_LEVEL: 'warn' });
        procs.push(proc);
        replicas.push(`http://127.0.0.1:${port}`);
      }
      for (const url of replicas) {
        for (let i = 0; i < 200 && !(await fetch(`${url}/readyz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
      }
    });
    after(async () => {
      await Promise.all(procs.map((p) => p.stop(5000)));
      await env?.close();
    });

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
  });
}

if (PG_URL) suite('pg');
else describe.skip(`usage quota across two resource-api replicas (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
suite('sqlite');
