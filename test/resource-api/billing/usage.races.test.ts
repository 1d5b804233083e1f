import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { createUsageService, type UsageService } from '#api/features/usage/service.js';
import { startSystem, type System } from '../../helpers/system.js';
import { PG_SKIP_REASON, PG_URL } from '../../helpers/services.js';

/**
 * The interleavings the one-statement report (resource-api/features/usage/report-statement.ts)
 * must survive, made to happen every time: a transaction holds the entitlement's row lock while
 * two reports take their snapshots and queue behind it; then it commits. So the second report
 * consumes from a row the first one changed after its snapshot (the conditional UPDATE's re-check)
 * and, with the same clientReqId, inserts a claim the first one committed after its snapshot
 * (the unique key undoes the whole statement). Parallel HTTP tests (usage.replicas.test.ts) hit
 * these windows only now and then.
 *
 * PostgreSQL only: on SQLite a report is a transaction that holds the database's one write lock
 * from its first statement, so reports never overlap.
 */
if (!PG_URL) describe.skip(`usage report races on PostgreSQL — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
else describe('usage report races on PostgreSQL (two reports queued behind one row lock)', function () {
  this.timeout(60_000);
  let env: System;
  let userId: string;
  let publisherId: string;
  let usage: UsageService;

  before(async () => {
    env = await startSystem({ backend: 'pg', authz: 0 });
    userId = await env.createUser({ email: 'agent@example.com', password: 'correct horse battery staple' });
    publisherId = await env.createUser({ email: 'pub@example.com', password: 'correct horse battery staple', role: 'publisher' });
    usage = createUsageService({ db: env.db });
  });
  after(async () => {
    await env?.close();
  });

  async function listing(): Promise<string> {
    const id = randomUUID();
    const now = Date.now();
    await env.db('listings').insert({
      id, slug: `l-${id}`, publisher_id: publisherId, title: 'Agent', summary: 's', description: 'd', status: 'published', price_type: 'one_time',
      price_interval: null, currency: 'EUR', amount_minor: 100, quota_units: 1, quota_period: 'once', search_text: 'agent', created_at: now, updated_at: now, published_at: now,
    });
    return id;
  }
  async function grant(listingId: string, units: number, grantedAt = Date.now()): Promise<string> {
    const id = randomUUID();
    await env.db('entitlements').insert({
      id, user_id: userId, listing_id: listingId, status: 'active', granted_at: grantedAt,
      quota_units: units, quota_period: 'once', quota_remaining: units, period_start: grantedAt, period_end: null,
    });
    return id;
  }
  const quotaLeft = async (id: string) => Number((await env.db('entitlements').where({ id }).first('quota_remaining')).quota_remaining);

  /**
   * Runs `reports` while another transaction holds `entitlementId`'s row lock (and takes one
   * unit, as a concurrent report would), released once every report waits for it: each report's
   * snapshot predates the other's write.
   */
  async function queuedBehindLock<T>(entitlementId: string, reports: (() => Promise<T>)[]): Promise<PromiseSettledResult<T>[]> {
    let trx: Knex.Transaction | undefined;
    try {
      trx = await env.db.transaction();
      await trx('entitlements').where({ id: entitlementId }).update({ quota_remaining: trx.raw('quota_remaining - 1') });
      const settled = Promise.allSettled(reports.map((r) => r()));
      for (let i = 0; await waiting() < reports.length; i++) {
        if (i > 500) throw new Error('the reports never queued behind the row lock');
        await sleep(10);
      }
      await trx.commit();
      return await settled;
    } finally {
      if (trx && !trx.isCompleted()) await trx.rollback();
    }
  }
  const waiting = async () => Number((await env.db.raw(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
  )).rows[0].n);
  const value = <T>(r: PromiseSettledResult<T>): T => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  };

  it('the same clientReqId twice at once: one consumption; the second answers the first answer, replayed', async () => {
    const listingId = await listing();
    const e = await grant(listingId, 10);
    const body = { clientReqId: randomUUID(), listingId, units: 2 };
    const [a, b] = (await queuedBehindLock(e, [() => usage.report(userId, body), () => usage.report(userId, body)])).map(value);
    expect([a!.replayed, b!.replayed].sort()).to.deep.equal([false, true]);
    expect({ ...a!, replayed: null }).to.deep.equal({ ...b!, replayed: null });
    expect(a!.remaining).to.equal(7);
    expect(await quotaLeft(e)).to.equal(7);
    expect(await env.db('usage_records').where({ client_req_id: body.clientReqId }).count({ n: '*' }).then(([r]) => Number(r!.n))).to.equal(1);
  });

  it('the last unit wanted twice: one report gets it, the other is 402 QUOTA_EXCEEDED and stores nothing', async () => {
    const listingId = await listing();
    const e = await grant(listingId, 2); // the lock holder takes one of the two
    const bodies = [{ clientReqId: randomUUID(), listingId, units: 1 }, { clientReqId: randomUUID(), listingId, units: 1 }];
    const settled = await queuedBehindLock(e, bodies.map((b) => () => usage.report(userId, b)));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value.remaining : (s.reason as { code: string }).code)).sort()).to.deep.equal([0, 'QUOTA_EXCEEDED']);
    expect(await quotaLeft(e)).to.equal(0);
    expect(await env.db('usage_records').whereIn('client_req_id', bodies.map((b) => b.clientReqId)).count({ n: '*' }).then(([r]) => Number(r!.n))).to.equal(1);
  });

  it('the first entitlement used up meanwhile: the loser of the last unit consumes from the next one', async () => {
    const listingId = await listing();
    const first = await grant(listingId, 2, Date.now() - 1000);
    const second = await grant(listingId, 5);
    const bodies = [{ clientReqId: randomUUID(), listingId, units: 1 }, { clientReqId: randomUUID(), listingId, units: 1 }];
    const answers = (await queuedBehindLock(first, bodies.map((b) => () => usage.report(userId, b)))).map(value);
    expect(answers.map((a) => `${a.entitlementId === first ? 'first' : 'second'} ${a.remaining}`).sort()).to.deep.equal(['first 0', 'second 4']);
    expect([await quotaLeft(first), await quotaLeft(second)]).to.deep.equal([0, 4]);
  });
});
