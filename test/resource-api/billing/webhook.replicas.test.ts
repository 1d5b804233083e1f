import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import { startSystem, type Service, type System } from '../../helpers/system.js';
import { PG_SKIP_REASON, PG_URL, REDIS_URL } from '../../helpers/services.js';
import { signedEvent, stripeEvent } from '../../helpers/fake-stripe.js';
import { insertListing } from '../../helpers/listings.js';
import { auditRow } from '../../helpers/audit-row.js';
import { objects } from './billing.fixture.js';
import { applyLog, eventInStatus, eventsDone, installApplyLog, metricValue, shuffled, storedEvent } from './webhook-queue.helpers.js';

const WEBHOOK_SECRET = 'whsec_queue_replicas_secret';
const LEASE_MS = 2000;

/**
 * The Stripe event queue across two resource-api PROCESSES sharing one PostgreSQL database, each
 * running its worker (FOR UPDATE SKIP LOCKED claims, leases): concurrent and repeated deliveries
 * to both are applied exactly once, each customer's in `created` order, and an event whose worker
 * is SIGKILLed in the middle of applying it is applied once by the other after the lease. No test
 * hook in the services: the database itself pauses the claims (a trigger), logs the applications
 * (a trigger, webhook-queue.helpers.ts) and holds the apply back (a table lock).
 */
(PG_URL ? describe : describe.skip)(`Stripe event queue across two resource-api replicas (pg)${PG_URL ? '' : ` — skipped: ${PG_SKIP_REASON}`}`, function () {
  this.timeout(180_000);
  let r: System;
  let userId: string;
  let listingId: string;
  const now = () => Math.floor(Date.now() / 1000);
  const tag = () => randomBytes(4).toString('hex');

  before(async () => {
    r = await startSystem({
      hosting: 'process',
      logLevel: 'warn',
      backend: 'pg', pgUrl: PG_URL!, ...(REDIS_URL ? { redis: REDIS_URL } : {}), authz: 0, api: 2,
      env: { STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_WEBHOOK_LEASE_MS: String(LEASE_MS), STRIPE_WEBHOOK_POLL_MS: '200', STRIPE_WEBHOOK_CONCURRENCY: '4' },
    });
    userId = (await r.seedUser()).id;
    const publisherId = (await r.seedUser(undefined, 'publisher')).id;
    listingId = await insertListing(r.db, { publisherId, quotaUnits: 10 });
    await installApplyLog(r.db);
    // Claims (an UPDATE that sets locked_by) fail while test_claims_paused has a row; inserts never do.
    await r.db.raw('CREATE TABLE test_claims_paused (since bigint)');
    await r.db.raw(`CREATE FUNCTION test_pause_claims_f() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF EXISTS (SELECT 1 FROM test_claims_paused) THEN RAISE EXCEPTION 'claims paused by the test'; END IF; RETURN NEW; END $$`);
    await r.db.raw(`CREATE TRIGGER test_pause_claims_t BEFORE UPDATE ON stripe_events FOR EACH ROW
      WHEN (NEW.locked_by IS NOT NULL AND NEW.locked_by IS DISTINCT FROM OLD.locked_by) EXECUTE FUNCTION test_pause_claims_f()`);
  });
  after(async () => {
    await r?.close();
  });

  async function deliver(api: Service, event: Record<string, unknown>): Promise<[number, string]> {
    const { payload, signature } = signedEvent(WEBHOOK_SECRET, event);
    const res = await fetch(`${api.url}/v1/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });
    const text = await res.text();
    return [res.status, res.status === 200 ? (JSON.parse(text) as { outcome: string }).outcome : text];
  }
  /** Each delivery to both replicas at once: one stores it, the other finds it stored. */
  async function deliverTwice(event: Record<string, unknown>): Promise<void> {
    const answers = await Promise.all(r.api.map((api) => deliver(api, event)));
    expect(answers.map(([s, o]) => `${s} ${o}`).sort(), event.id as string).to.deep.equal(['200 duplicate', '200 queued']);
  }
  function lifecycle(customer: string, t0: number) {
    const sub = `sub_${customer}`;
    const s = (status: string) => objects.subscription({ id: sub, userId, listingId, status, customer });
    return {
      sub, customer,
      events: [
        stripeEvent('customer.subscription.created', s('incomplete'), { created: t0 }),
        stripeEvent('invoice.paid', objects.invoice({ subscription: sub, userId, listingId, start: t0, end: t0 + 30 * 86400, customer }), { created: t0 + 1 }),
        stripeEvent('customer.subscription.updated', s('active'), { created: t0 + 2 }),
        stripeEvent('customer.subscription.updated', s('past_due'), { created: t0 + 3 }),
        stripeEvent('customer.subscription.deleted', s('canceled'), { created: t0 + 4 }),
      ],
    };
  }
  async function expectAppliedInOrder(customers: ReturnType<typeof lifecycle>[]): Promise<{ worker: string | null }[]> {
    const ids = customers.flatMap((c) => c.events.map((e) => e.id as string));
    const done = await eventsDone(r.db, ids, 60_000);
    expect(done.map((e) => [e.status, e.attempts])).to.deep.equal(ids.map(() => ['processed', 1]));
    const log = await applyLog(r.db, ids);
    expect(log.map((l) => l.event_id).sort(), 'each event applied exactly once').to.deep.equal([...ids].sort());
    for (const c of customers) {
      expect(log.filter((l) => l.customer_id === c.customer).map((l) => l.event_id), c.customer).to.deep.equal(c.events.map((e) => e.id));
      const [ent] = await r.db('entitlements').where({ stripe_subscription_id: c.sub });
      expect(ent, c.sub).to.deep.include({ status: 'revoked', subscription_status: 'canceled', revoked_reason: 'subscription_ended', quota_remaining: 0 });
    }
    return r.db('test_apply_log').select('worker').whereIn('event_id', ids);
  }
  const processedAt = async () => (await Promise.all(r.api.map(async (api) => metricValue(await (await fetch(`${api.url}/metrics`)).text(), 'webhook_event_attempts_total', { result: 'processed' })))).reduce((a, b) => a + b, 0);

  it('events stored while no worker may claim, delivered shuffled, twice, to both: the workers of both replicas apply each once, each customer\'s in `created` order', async () => {
    await r.db('test_claims_paused').insert({ since: Date.now() });
    const t = tag();
    const customers = Array.from({ length: 8 }, (_, i) => lifecycle(`cus_rep_${t}_${i}`, now() - 600 + i));
    const events = customers.flatMap((c) => c.events);
    await Promise.all(shuffled(events).map((e) => deliverTwice(e)));
    const waiting = (await r.db('stripe_events').whereIn('id', events.map((e) => e.id as string))).map(storedEvent);
    expect(waiting.map((e) => [e.status, e.attempts])).to.deep.equal(events.map(() => ['pending', 0]));

    const before = await processedAt();
    await r.db('test_claims_paused').delete();
    const workers = await expectAppliedInOrder(customers);
    // Every application names a worker of one of the two processes. (Which of them claims how many is
    // not fixed: under load one worker's lanes can take every head before the other polls.)
    const pids = new Set(workers.map((w) => Number(String(w.worker).split(':')[1])));
    expect([...pids].every((pid) => r.api.some((a) => a.pid === pid)), `workers ${[...pids]}`).to.equal(true);
    expect(await processedAt() - before).to.equal(events.length);
    for (const api of r.api) expect(metricValue(await (await fetch(`${api.url}/metrics`)).text(), 'webhook_queue_events', { status: 'pending' })).to.equal(0);
  });

  it('while both workers run: each customer\'s events one after another, customers and the two copies of each delivery at once', async () => {
    const t = tag();
    const customers = Array.from({ length: 8 }, (_, i) => lifecycle(`cus_live_${t}_${i}`, now() - 300 + i));
    await Promise.all(customers.map(async (c) => {
      for (const e of c.events) await deliverTwice(e);
    }));
    await expectAppliedInOrder(customers);
  });

  it('a worker SIGKILLed while it applies an event: the other applies it once after the lease runs out, and the customer\'s next event after it', async () => {
    const customer = `cus_crash_${tag()}`;
    const session = objects.checkoutSession({ userId, listingId, customer });
    const first = stripeEvent('checkout.session.completed', session, { created: now() - 20 });
    const next = stripeEvent('customer.subscription.created', objects.subscription({ id: `sub_${customer}`, userId, listingId, status: 'active', customer }), { created: now() - 10 });
    // The apply of `first` writes billing_customers (the buyer's Stripe customer): held here, it waits.
    const holder = new pg.Client({ connectionString: r.processEnv.DATABASE_URL });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE billing_customers IN ACCESS EXCLUSIVE MODE');
      expect(await deliver(r.api[0]!, first)).to.deep.equal([200, 'queued']);
      expect(await deliver(r.api[1]!, next)).to.deep.equal([200, 'queued']);
      let held = storedEvent((await r.db('stripe_events').where({ id: first.id }).first())!);
      for (const deadline = Date.now() + 30_000; ; ) {
        held = storedEvent((await r.db('stripe_events').where({ id: first.id }).first())!);
        const waiting = await holder.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 'billing_customers'::regclass`);
        if (held.locked_by && waiting.rows[0].n > 0) break;
        if (Date.now() > deadline) throw new Error(`the apply never reached billing_customers: ${JSON.stringify(held)}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      expect(held).to.deep.include({ status: 'pending', attempts: 1 });
      const victim = r.api.find((a) => held.locked_by!.split(':')[1] === String(a.pid))!;
      const survivor = r.api.find((a) => a !== victim)!;
      victim.proc.child.kill('SIGKILL');
      await victim.proc.exited;
      await holder.query('ROLLBACK');

      const applied = await eventInStatus(r.db, first.id as string, 'processed', 30_000);
      expect(applied).to.deep.include({ attempts: 2, last_error: 'LEASE_EXPIRED', locked_by: null });
      expect(applied.processed_at).to.be.at.least(held.locked_until!);
      await eventInStatus(r.db, next.id as string, 'processed', 30_000);
      const log = await r.db('test_apply_log').whereIn('event_id', [first.id as string, next.id as string]).orderBy('seq');
      expect(log.map((l: { event_id: string; worker: string }) => [l.event_id, Number(l.worker.split(':')[1])])).to.deep.equal([[first.id, survivor.pid], [next.id, survivor.pid]]);
      expect(await r.db('entitlements').where({ stripe_checkout_session_id: session.id })).to.have.length(1);
      // The survivor's audit queue reaches the table a moment after the commit.
      const granted = async () => (await r.db('audit_log').where({ event: 'entitlement.granted' })).map(auditRow).filter((a) => a.properties.eventId === first.id);
      for (const deadline = Date.now() + 10_000; (await granted()).length === 0 && Date.now() < deadline; ) await new Promise((res) => setTimeout(res, 100));
      expect(await granted()).to.have.length(1);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
  });
});
