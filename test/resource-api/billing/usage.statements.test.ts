import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createUsageService, type UsageService } from '#api/features/usage/service.js';
import { startSystem, type System, type Backend } from '../../helpers/system.js';
import { PG_SKIP_REASON, PG_URL } from '../../helpers/services.js';

/**
 * The statements one usage report sends (issue #19: a transaction of six, plus a listing lookup,
 * before), pinned so that a lookup or a write added to the path fails here. On PostgreSQL every
 * answer but a roll-over is one statement (resource-api/features/usage/report-statement.ts); on
 * SQLite a transaction (report-transaction.ts). koa-auth's lookup of the caller is not counted:
 * with the change bus it comes from memory (docs/performance.md).
 */
const WITH = 'with prior, target, consumed, stored';
const EXPECTED: Record<Backend, Record<'fresh' | 'replay' | 'QUOTA_EXCEEDED' | 'NOT_ENTITLED' | 'rollOver', string[]>> = {
  pg: {
    fresh: [WITH],
    replay: [WITH],
    QUOTA_EXCEEDED: [WITH],
    NOT_ENTITLED: [WITH],
    // The roll-over is its own conditional UPDATE, then the statement again.
    rollOver: [WITH, 'update entitlements', WITH],
  },
  sqlite: {
    fresh: ['begin', 'update entitlements', 'insert into usage_records', 'commit'],
    replay: ['begin', 'update entitlements', 'select usage_records', 'commit'],
    // The candidates are tried in turn (a conditional UPDATE each), then the claim is rolled back.
    QUOTA_EXCEEDED: ['begin', 'update entitlements', 'select usage_records', 'select entitlements', 'update entitlements', 'rollback'],
    NOT_ENTITLED: ['begin', 'update entitlements', 'select usage_records', 'select entitlements', 'rollback'],
    rollOver: ['begin', 'update entitlements', 'select usage_records', 'select entitlements', 'update entitlements', 'update entitlements', 'insert into usage_records', 'commit'],
  },
};

/** A statement as "select" and the tables it reads, a write's verb and table, or a WITH's parts. */
function shape(sql: string): string {
  const s = sql.replace(/["`]/g, '').replace(/\s+/g, ' ').toLowerCase().trim();
  if (s.startsWith('with ')) return `with ${[...s.matchAll(/(\w+) as (?:materialized )?\(/g)].map((m) => m[1]).join(', ')}`;
  if (s.startsWith('select ')) return `select ${[...new Set([...s.matchAll(/(?:from|join) (\w+)/g)].map((m) => m[1]))].join(', ')}`;
  const write = /^(update|insert into|delete from) (\w+)/.exec(s);
  return write ? `${write[1]} ${write[2]}` : s.replace(/;$/, '');
}

const DAY = 86_400_000;

function suite(backend: Backend) {
  describe(`usage report: statements per request (${backend})`, function () {
    this.timeout(60_000);
    let env: System;
    let userId: string;
    let publisherId: string;
    let clock = Date.UTC(2026, 11, 3, 10, 0, 0, 123);
    let usage: UsageService;

    before(async () => {
      env = await startSystem({ backend, authz: 0 });
      userId = await env.createUser({ email: 'agent@example.com', password: 'correct horse battery staple' });
      publisherId = await env.createUser({ email: 'pub@example.com', password: 'correct horse battery staple', role: 'publisher' });
      usage = createUsageService({ db: env.db, now: () => clock });
    });
    after(async () => {
      await env?.close();
    });

    async function entitlement(e: { units: number; period: 'once' | 'month'; periodEnd: number | null; grantedAt?: number }): Promise<{ listingId: string; id: string }> {
      const listingId = randomUUID();
      const id = randomUUID();
      const now = Date.now();
      await env.db('listings').insert({
        id: listingId, slug: `l-${listingId}`, publisher_id: publisherId, title: 'Agent', summary: 's', description: 'd', status: 'published', price_type: 'one_time',
        price_interval: null, currency: 'EUR', amount_minor: 100, quota_units: e.units, quota_period: e.period, search_text: 'agent', created_at: now, updated_at: now, published_at: now,
      });
      const grantedAt = e.grantedAt ?? clock - DAY;
      await env.db('entitlements').insert({
        id, user_id: userId, listing_id: listingId, status: 'active', granted_at: grantedAt, stripe_checkout_session_id: `cs_${id}`,
        quota_units: e.units, quota_period: e.period, quota_remaining: e.units, period_start: grantedAt, period_end: e.periodEnd,
      });
      return { listingId, id };
    }

    /** One report; the statements it sent, and its answer or its error code. */
    async function counting(body: { clientReqId: string; listingId: string; units: number }) {
      const sent: string[] = [];
      const listener = (q: { sql: string }) => sent.push(q.sql);
      env.db.on('query', listener);
      try {
        const answer = await usage.report(userId, body).catch((err: { code?: string }) => ({ error: err.code }));
        return { answer, sent: sent.map(shape) };
      } finally {
        env.db.off('query', listener);
      }
    }

    it(`a fresh report sends ${EXPECTED[backend].fresh.length} statement(s); its answer is the one stored, a replay sends ${EXPECTED[backend].replay.length}`, async () => {
      // A period end with milliseconds: PostgreSQL writes the answer's ISO dates itself.
      const periodEnd = clock + 20 * DAY + 456;
      const { listingId, id } = await entitlement({ units: 10, period: 'month', periodEnd });
      const clientReqId = randomUUID();
      const first = await counting({ clientReqId, listingId, units: 3 });
      expect(first.sent, 'fresh').to.deep.equal(EXPECTED[backend].fresh);
      const answer = first.answer as Record<string, unknown>;
      expect(answer).to.deep.equal({
        id: answer.id, clientReqId, listingId, units: 3, entitlementId: id, remaining: 7,
        periodEnd: new Date(periodEnd).toISOString(), createdAt: new Date(clock).toISOString(), replayed: false,
      });
      const [record] = await env.db('usage_records').where({ client_req_id: clientReqId });
      expect(record).to.deep.include({ id: answer.id, user_id: userId, listing_id: listingId, units: 3, entitlement_id: id });
      expect(Number(record.created_at)).to.equal(clock);
      expect(JSON.parse(record.result as string)).to.deep.equal(answer);

      const again = await counting({ clientReqId, listingId, units: 3 });
      expect(again.sent, 'replay').to.deep.equal(EXPECTED[backend].replay);
      expect(again.answer).to.deep.equal({ ...answer, replayed: true });
      const other = await counting({ clientReqId, listingId, units: 4 });
      expect(other.sent, 'replay with other units').to.deep.equal(EXPECTED[backend].replay);
      expect(other.answer).to.deep.equal({ error: 'IDEMPOTENCY_KEY_REUSED' });
      const [e] = await env.db('entitlements').where({ id });
      expect(e.quota_remaining).to.equal(7);
    });

    it(`a refusal (quota used up, no entitlement, unknown listing) sends the statements pinned for it and stores nothing`, async () => {
      const { listingId } = await entitlement({ units: 2, period: 'once', periodEnd: null });
      const noEntitlement = await entitlement({ units: 2, period: 'once', periodEnd: null });
      await env.db('entitlements').where({ listing_id: noEntitlement.listingId }).update({ status: 'revoked' });
      const cases = [
        [{ clientReqId: randomUUID(), listingId, units: 3 }, 'QUOTA_EXCEEDED'],
        [{ clientReqId: randomUUID(), listingId: noEntitlement.listingId, units: 1 }, 'NOT_ENTITLED'],
        [{ clientReqId: randomUUID(), listingId: randomUUID(), units: 1 }, 'NOT_ENTITLED'],
      ] as const;
      for (const [body, code] of cases) {
        const { answer, sent } = await counting(body);
        expect(answer, code).to.deep.equal({ error: code });
        expect(sent, code).to.deep.equal(EXPECTED[backend][code]);
        expect(await env.db('usage_records').where({ client_req_id: body.clientReqId }).first()).to.equal(undefined);
      }
      const [e] = await env.db('entitlements').where({ listing_id: listingId });
      expect(e.quota_remaining).to.equal(2);
    });

    it(`a report due for a roll-over sends ${EXPECTED[backend].rollOver.length} statements, and the next one is fresh again`, async () => {
      const grantedAt = clock - 40 * DAY;
      const { listingId, id } = await entitlement({ units: 5, period: 'month', grantedAt, periodEnd: grantedAt + 31 * DAY });
      await env.db('entitlements').where({ id }).update({ quota_remaining: 0 });
      const first = await counting({ clientReqId: randomUUID(), listingId, units: 2 });
      expect(first.sent).to.deep.equal(EXPECTED[backend].rollOver);
      const [e] = await env.db('entitlements').where({ id });
      expect(Number(e.period_start)).to.be.greaterThan(grantedAt).and.at.most(clock);
      expect(Number(e.period_end)).to.be.greaterThan(clock);
      expect(e.quota_remaining).to.equal(3);
      expect(first.answer).to.deep.include({ entitlementId: id, remaining: 3, periodEnd: new Date(Number(e.period_end)).toISOString() });
      const next = await counting({ clientReqId: randomUUID(), listingId, units: 1 });
      expect(next.sent).to.deep.equal(EXPECTED[backend].fresh);
      expect(next.answer).to.deep.include({ remaining: 2 });
    });
  });
}

if (PG_URL) suite('pg');
else describe.skip(`usage report: statements per request (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
suite('sqlite');
