import { randomBytes } from 'node:crypto';
import { adminHere } from '../../helpers/admin.js';
import { expect } from 'chai';
import { claimEvents } from '#api/features/billing/webhook/claims.js';
import { retryDeadEvent } from '#api/features/billing/webhook/queries.js';
import { applyEvent, applyEvents } from '#api/features/billing/webhook/apply.js';
import { stripeEventHandlers } from '#api/features/billing/index.js';
import { auditRow } from '../../helpers/audit-row.js';
import { billingSuites, objects, stripeEvent, type BillingApi } from './billing.fixture.js';
import { applyLog, eventInStatus, eventSettled, eventsDone, installApplyLog, metricValue, shuffled, storedEvent } from './webhook-queue.helpers.js';

/**
 * The Stripe event queue in one API process, on each backend (the embedded SQLite default runs
 * exactly this: one process, one worker): stored first, applied by the worker once, in order per
 * customer, retried, dead-lettered, taken over after a lease runs out, retried from the CLI.
 * Across two processes on PostgreSQL: webhook.replicas.test.ts.
 */
billingSuites('Stripe event queue (one process)', (api: () => BillingApi) => {
  let userId: string;
  let oneTime: string;
  let monthly: string;
  const now = () => Math.floor(Date.now() / 1000);
  const tag = () => randomBytes(4).toString('hex');

  before(async () => {
    userId = await api().user('queue@example.com');
    oneTime = await api().listing({ units: 5, period: 'once' });
    monthly = await api().listing({ priceType: 'recurring', interval: 'month', units: 10, period: 'month' });
    await installApplyLog(api().db);
  });

  /** A subscription's life as Stripe reports it: created → paid → active → past_due → deleted, a second apart. */
  function lifecycle(customer: string, t0: number) {
    const sub = `sub_${customer}`;
    const s = (status: string) => objects.subscription({ id: sub, userId, listingId: monthly, status, customer });
    return {
      sub,
      customer,
      events: [
        stripeEvent('customer.subscription.created', s('incomplete'), { created: t0 }),
        stripeEvent('invoice.paid', objects.invoice({ subscription: sub, userId, listingId: monthly, start: t0, end: t0 + 30 * 86400, customer }), { created: t0 + 1 }),
        stripeEvent('customer.subscription.updated', s('active'), { created: t0 + 2 }),
        stripeEvent('customer.subscription.updated', s('past_due'), { created: t0 + 3 }),
        stripeEvent('customer.subscription.deleted', s('canceled'), { created: t0 + 4 }),
      ],
    };
  }

  it('applies each event once and each customer\'s in `created` order, however shuffled and repeated their deliveries', async () => {
    await api().stopWorker();
    const t = tag();
    const customers = Array.from({ length: 6 }, (_, i) => lifecycle(`cus_order_${t}_${i}`, now() - 600 + i));
    const events = customers.flatMap((c) => c.events);
    const ids = events.map((e) => e.id as string);
    // Every event three times, all at once, in an order unrelated to `created`.
    const answers = await Promise.all(shuffled([...events, ...events, ...events]).map(async (e) => {
      const res = await api().deliver(e, { wait: false });
      return [e.id as string, res.status, ((await res.json()) as { outcome: string }).outcome] as const;
    }));
    expect(answers.filter(([, status]) => status !== 200)).to.deep.equal([]);
    for (const id of ids) expect(answers.filter(([i]) => i === id).map(([, , o]) => o).sort(), id).to.deep.equal(['duplicate', 'duplicate', 'queued']);
    const stored = (await api().db('stripe_events').whereIn('id', ids)).map(storedEvent);
    expect(stored.map((e) => [e.status, e.attempts])).to.deep.equal(ids.map(() => ['pending', 0]));

    api().startWorker();
    const done = await eventsDone(api().db, ids);
    expect(done.map((e) => [e.status, e.attempts, e.last_error])).to.deep.equal(ids.map(() => ['processed', 1, null]));
    const log = await applyLog(api().db, ids);
    expect(log.map((l) => l.event_id).sort()).to.deep.equal([...ids].sort());
    for (const c of customers) {
      const applied = log.filter((l) => l.customer_id === c.customer).map((l) => l.event_id);
      expect(applied, c.sub).to.deep.equal(c.events.map((e) => e.id));
      const [ent] = await api().entitlements({ stripe_subscription_id: c.sub });
      expect(ent, c.sub).to.deep.include({ status: 'revoked', subscription_status: 'canceled', revoked_reason: 'subscription_ended', quota_remaining: 0 });
    }
    // One grant (the paid invoice) and one revocation (the deletion) per subscription, no more.
    const changes = (await api().auditRows({ actor_user_id: userId })).map(auditRow).filter((r) => ids.includes(r.properties.eventId as string));
    expect(changes.filter((r) => r.event === 'entitlement.granted')).to.have.length(customers.length);
    expect(changes.filter((r) => r.event === 'entitlement.revoked')).to.have.length(customers.length);
  });

  it('applies events of several customers in one transaction; one that fails costs the others nothing and is retried alone', async () => {
    await api().stopWorker();
    const sessions = Array.from({ length: 5 }, (_, i) => objects.checkoutSession({ userId, listingId: oneTime, customer: `cus_batch_${tag()}_${i}` }));
    const events = sessions.map((session) => stripeEvent('checkout.session.completed', session));
    const ids = events.map((e) => e.id as string);
    for (const e of events) expect((await api().deliver(e, { wait: false })).status).to.equal(200);
    // The database refuses the third purchase's entitlement (a trigger: no hook in the service).
    const poisoned = sessions[2]!.id;
    const db = api().db;
    if (db.client.dialect === 'postgresql') {
      await db.raw(`CREATE FUNCTION test_refuse_grant_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
      await db.raw(`CREATE TRIGGER test_refuse_grant_t BEFORE INSERT ON entitlements FOR EACH ROW WHEN (NEW.stripe_checkout_session_id = '${poisoned}') EXECUTE FUNCTION test_refuse_grant_f()`);
    } else {
      await db.raw(`CREATE TRIGGER test_refuse_grant_t BEFORE INSERT ON entitlements WHEN NEW.stripe_checkout_session_id = '${poisoned}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
    }
    try {
      api().startWorker();
      const others = ids.filter((_, i) => i !== 2);
      const done = await eventsDone(db, others);
      expect(done.map((e) => [e.status, e.attempts])).to.deep.equal(others.map(() => ['processed', 1]));
      // Failed on its own (pending for its retry, or already dead: 3 attempts 100 ms apart here).
      const failed = await eventSettled(db, ids[2]!);
      expect([['pending', 'dead'].includes(failed.status), failed.last_error]).to.deep.equal([true, 'HANDLER_FAILED']);
      for (const [i, session] of sessions.entries()) expect(await api().entitlements({ stripe_checkout_session_id: session.id }), `purchase ${i}`).to.have.length(i === 2 ? 0 : 1);
    } finally {
      await db.raw('DROP TRIGGER test_refuse_grant_t' + (db.client.dialect === 'postgresql' ? ' ON entitlements' : ''));
    }
    await retryDeadEvent(db, ids[2]!, Date.now()); // if it went dead meanwhile
    expect((await eventInStatus(db, ids[2]!, 'processed')).attempts).to.be.at.least(2);
    expect(await api().entitlements({ stripe_checkout_session_id: poisoned })).to.have.length(1);
    expect((await applyLog(db, ids)).map((l) => l.event_id).sort()).to.deep.equal([...ids].sort());
  });

  it('takes over an event whose worker died holding it once the lease runs out (LEASE_EXPIRED), and applies it once', async () => {
    await api().stopWorker();
    const session = objects.checkoutSession({ userId, listingId: oneTime, customer: `cus_lease_${tag()}` });
    const event = stripeEvent('checkout.session.completed', session);
    expect((await api().deliver(event, { wait: false })).status).to.equal(200);
    // A worker that claims the event and then dies: its lease is all that is left of it.
    const [claimed] = await claimEvents(api().db, { workerId: 'gone-host:1:dead', leaseMs: 1500 }, 10, Date.now());
    expect(claimed).to.deep.include({ id: event.id, attempts: 1 });
    api().startWorker();
    const held = storedEvent((await api().db('stripe_events').where({ id: event.id }).first())!);
    expect(held).to.deep.include({ status: 'pending', locked_by: 'gone-host:1:dead' });
    const row = await eventInStatus(api().db, event.id as string, 'processed');
    expect(row).to.deep.include({ attempts: 2, last_error: 'LEASE_EXPIRED', locked_by: null });
    expect(row.processed_at).to.be.at.least(held.locked_until!);
    expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.have.length(1);
    expect((await applyLog(api().db, [event.id as string])).length).to.equal(1);
  });

  it('a worker whose lease ran out and was taken over applies nothing: each event is applied once, by the worker that holds it', async () => {
    await api().stopWorker();
    const sessions = [0, 1].map(() => objects.checkoutSession({ userId, listingId: oneTime, customer: `cus_slow_${tag()}` }));
    const events = sessions.map((session) => stripeEvent('checkout.session.completed', session));
    for (const e of events) expect((await api().deliver(e, { wait: false })).status).to.equal(200);
    const deps = { db: api().db, logger: api().logs.logger, handlers: stripeEventHandlers, maxAttempts: 3, retryBaseMs: 100, now: Date.now };
    const slow = await claimEvents(api().db, { workerId: 'slow:1:a', leaseMs: 1 }, 10, Date.now());
    await new Promise((r) => setTimeout(r, 5));
    const taker = await claimEvents(api().db, { workerId: 'taker:2:b', leaseMs: 60_000 }, 10, Date.now());
    expect(slow.map((e) => e.id)).to.have.members(events.map((e) => e.id));
    expect(taker.map((e) => [e.attempts, e.last_error])).to.deep.equal([[2, 'LEASE_EXPIRED'], [2, 'LEASE_EXPIRED']]);
    // The slow worker comes back to them, both at once and one by one: too late.
    expect(await applyEvents({ ...deps, workerId: 'slow:1:a' }, slow)).to.deep.equal(['lost', 'lost']);
    expect(await applyEvent({ ...deps, workerId: 'slow:1:a' }, slow[0]!)).to.equal('lost');
    for (const session of sessions) expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.deep.equal([]);
    expect(await applyEvents({ ...deps, workerId: 'taker:2:b' }, taker)).to.deep.equal(['processed', 'processed']);
    expect(await applyEvents({ ...deps, workerId: 'slow:1:a' }, slow)).to.deep.equal(['lost', 'lost']);
    for (const session of sessions) expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.have.length(1);
    expect((await applyLog(api().db, events.map((e) => e.id as string))).map((l) => l.worker)).to.deep.equal(['taker:2:b', 'taker:2:b']);
    api().startWorker();
  });

  it('dead-letters an event after STRIPE_WEBHOOK_MAX_ATTEMPTS, lets its customer\'s later events through, shows it in /metrics and the CLI, and applies it once retried', async () => {
    const customer = `cus_dead_${tag()}`;
    const session = objects.checkoutSession({ userId, listingId: oneTime, customer });
    const first = stripeEvent('checkout.session.completed', session, { created: now() - 20 });
    const sub = `sub_dead_${tag()}`;
    const later = stripeEvent('customer.subscription.created', objects.subscription({ id: sub, userId, listingId: monthly, status: 'incomplete', customer }), { created: now() - 10 });
    const before = await api().metrics();
    const counted = (text: string, result: string) => metricValue(text, 'webhook_event_attempts_total', { result });
    api().failHandlers(3);
    expect((await api().deliver(first, { wait: false })).status).to.equal(200);
    expect((await api().deliver(later, { wait: false })).status).to.equal(200);

    const dead = await eventInStatus(api().db, first.id as string, 'dead');
    expect(dead).to.deep.include({ attempts: 3, last_error: 'HANDLER_FAILED', locked_by: null, next_attempt_at: null });
    expect(JSON.parse(dead.payload!)).to.deep.equal(first);
    // The customer's next event waited for it, then went on.
    const next = await eventInStatus(api().db, later.id as string, 'processed');
    expect(next.processed_at).to.be.at.least(Number((await api().db('stripe_events').where({ id: first.id }).first()).last_failed_at));
    expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.deep.equal([]);
    expect(await api().entitlements({ stripe_subscription_id: sub })).to.have.length(1);

    const during = await api().metrics();
    expect(metricValue(during, 'webhook_queue_events', { status: 'dead' })).to.equal(metricValue(before, 'webhook_queue_events', { status: 'dead' }) + 1);
    expect(counted(during, 'dead') - counted(before, 'dead')).to.equal(1);
    expect(counted(during, 'retry') - counted(before, 'retry')).to.equal(2);
    const deadAudit = (await api().auditRows({ event: 'webhook.dead_lettered', subject_id: first.id })).map(auditRow);
    expect(deadAudit.map((r) => r.properties)).to.deep.equal([{ provider: 'stripe', eventType: 'checkout.session.completed', eventId: first.id, errorCode: 'HANDLER_FAILED', attempts: 3 }]);

    const admin = (...args: string[]) => adminHere(args, { ...api().env.env, LOG_LEVEL: 'warn' });
    const listed = await admin('webhooks:list');
    expect(listed.code, listed.output).to.equal(0);
    expect(listed.output).to.match(new RegExp(`^${first.id}  checkout\\.session\\.completed  dead  attempts=3  error=HANDLER_FAILED  customer=${customer}  `, 'm'));
    const shown = await admin('webhooks:show', first.id as string);
    expect(shown.code, shown.output).to.equal(0);
    expect(shown.output).to.match(/^status {11}dead$/m).and.match(/^payload {10}stored \(\d+ characters\)$/m).and.not.contain('someone@example.com');

    const retried = await admin('webhooks:retry', first.id as string);
    expect(retried.code, retried.output).to.equal(0);
    expect(retried.output).to.contain(`${first.id}: pending again (was dead: HANDLER_FAILED after 3 attempt(s))`);
    const applied = await eventInStatus(api().db, first.id as string, 'processed');
    expect(applied).to.deep.include({ attempts: 1, payload: null });
    expect(await api().entitlements({ stripe_checkout_session_id: session.id })).to.have.length(1);
    expect(metricValue(await api().metrics(), 'webhook_queue_events', { status: 'dead' })).to.equal(metricValue(before, 'webhook_queue_events', { status: 'dead' }));
    const audited = (await api().auditRows({ event: 'webhook.retried', subject_id: first.id })).map(auditRow);
    expect(audited.map((r) => [r.actor_client_id, r.outcome, r.properties])).to.deep.equal([
      ['admin-cli', 'success', { provider: 'stripe', eventType: 'checkout.session.completed', eventId: first.id, previousError: 'HANDLER_FAILED' }],
    ]);
    // Only a dead event goes back: a second retry changes nothing and says why.
    const again = await admin('webhooks:retry', first.id as string);
    expect([again.code, again.output.trim().split('\n')[0]]).to.deep.equal([1, `${first.id}: not dead (processed)`]);
    expect((await applyLog(api().db, [first.id as string])).length).to.equal(1);
  });
}, { STRIPE_WEBHOOK_MAX_ATTEMPTS: '3', STRIPE_WEBHOOK_RETRY_BASE_MS: '100', STRIPE_WEBHOOK_POLL_MS: '100' });
