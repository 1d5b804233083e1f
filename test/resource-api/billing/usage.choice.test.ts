import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createUsageService, type UsageService } from '#api/features/usage/service.js';
import { startSystem, type System, type Backend } from '../../helpers/system.js';
import { PG_SKIP_REASON, PG_URL } from '../../helpers/services.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

/**
 * Which entitlement a report consumes when the user holds several to one listing: the one
 * closest to its period end first (no period end last, then the oldest grant), skipping those
 * without enough quota or whose period is over, a subscription's quota usable past its period end
 * until renewed, and a one-time purchase's monthly quota rolled over first when its period is over.
 */
function suite(backend: Backend) {
  describe(`usage report: which entitlement is consumed (${backend})`, function () {
    this.timeout(60_000);
    let env: System;
    let userId: string;
    const T = Date.UTC(2026, 11, 3, 10, 0, 0, 0);
    let usage: UsageService;

    before(async () => {
      env = await startSystem({ backend, authz: 0 });
      userId = await env.createUser({ email: 'agent@example.com', password: 'correct horse battery staple' });
      usage = createUsageService({ db: env.db, now: () => T });
    });
    after(async () => {
      await env?.close();
    });

    it('tries the candidates in order, each only while it is usable', async () => {
      const publisherId = await env.createUser({ email: 'pub@example.com', password: 'correct horse battery staple', role: 'publisher' });
      const listingId = randomUUID();
      await env.db('listings').insert({
        id: listingId, slug: `l-${listingId}`, publisher_id: publisherId, title: 'Agent', summary: 's', description: 'd', status: 'published', price_type: 'one_time',
        price_interval: null, currency: 'EUR', amount_minor: 100, quota_units: 1, quota_period: 'once', search_text: 'agent', created_at: T, updated_at: T, published_at: T,
      });
      const ids: Record<string, string> = {};
      const grant = async (name: string, e: { units: number; period: 'once' | 'month'; grantedAt: number; periodEnd: number | null; subscription?: boolean; status?: string }) => {
        ids[name] = randomUUID();
        await env.db('entitlements').insert({
          id: ids[name], user_id: userId, listing_id: listingId, status: e.status ?? 'active', granted_at: e.grantedAt,
          quota_units: e.units, quota_period: e.period, quota_remaining: e.units, period_start: e.grantedAt, period_end: e.periodEnd,
          stripe_subscription_id: e.subscription ? `sub_${ids[name]}` : null, stripe_checkout_session_id: e.subscription ? null : `cs_${ids[name]}`,
        });
      };
      await grant('expired', { units: 50, period: 'once', grantedAt: T - 30 * DAY, periodEnd: T - 2 * DAY }); // over, and not self-renewing
      await grant('subscription', { units: 2, period: 'month', grantedAt: T - 31 * DAY, periodEnd: T - HOUR, subscription: true }); // renewal not paid yet
      await grant('soon', { units: 1, period: 'month', grantedAt: T - 25 * DAY, periodEnd: T + 5 * DAY });
      await grant('later', { units: 3, period: 'month', grantedAt: T - 20 * DAY, periodEnd: T + 10 * DAY });
      await grant('forever', { units: 100, period: 'once', grantedAt: T - 40 * DAY, periodEnd: null });
      await grant('pending', { units: 100, period: 'month', grantedAt: T - 40 * DAY, periodEnd: T - 3 * DAY, status: 'pending' });

      const report = async (units: number) => {
        const r = await usage.report(userId, { clientReqId: randomUUID(), listingId, units });
        return `${Object.keys(ids).find((k) => ids[k] === r.entitlementId)} ${r.remaining}`;
      };
      expect(await report(1)).to.equal('subscription 1');
      expect(await report(1)).to.equal('subscription 0');
      expect(await report(1)).to.equal('soon 0');
      expect(await report(1)).to.equal('later 2');
      expect(await report(3)).to.equal('forever 97'); // 'later' has 2 left
      expect(await report(2)).to.equal('later 0');
      expect(await report(1)).to.equal('forever 96');

      // A monthly quota bought once, its period over (ends before the subscription's): rolled over, then used.
      await grant('renewing', { units: 4, period: 'month', grantedAt: T - 32 * DAY, periodEnd: T - DAY });
      await env.db('entitlements').where({ id: ids.renewing }).update({ quota_remaining: 0 });
      const renewed = await usage.report(userId, { clientReqId: randomUUID(), listingId, units: 3 });
      const [row] = await env.db('entitlements').where({ id: ids.renewing });
      expect(renewed).to.deep.include({ entitlementId: ids.renewing, remaining: 1, periodEnd: new Date(Number(row.period_end)).toISOString() });
      expect(Number(row.period_end)).to.be.greaterThan(T);
      expect(Number(row.period_start)).to.be.at.most(T);
      // Too little in it for 2 units: the next candidate with enough ('expired' and 'subscription' are not usable).
      expect(await report(2)).to.equal('forever 94');

      const left = Object.fromEntries((await env.db('entitlements').where({ listing_id: listingId })).map((e) => [Object.keys(ids).find((k) => ids[k] === e.id), e.quota_remaining]));
      expect(left).to.deep.equal({ expired: 50, subscription: 0, soon: 0, later: 0, forever: 94, pending: 100, renewing: 1 });
      expect(Number((await env.db('usage_records').where({ listing_id: listingId }).count({ n: '*' }))[0]!.n)).to.equal(9);
    });
  });
}

if (PG_URL) suite('pg');
else describe.skip(`usage report: which entitlement is consumed (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
suite('sqlite');
