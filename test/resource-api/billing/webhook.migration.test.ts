import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createDb, migrateLatest, migrateRollback, migrations, type Knex } from '#shared/db/index.js';
import { storeEvent } from '#api/features/billing/webhook/queries.js';
import { PG_SKIP_REASON, PG_URL, createTempDatabase, describeWithService } from '../../helpers/services.js';
import { storedEvent } from './webhook-queue.helpers.js';

/**
 * Migration 0012: the ledger of the synchronous webhook becomes the queue. Processed and ignored
 * events keep their status and times; a `failed` one (Stripe was answered 5xx and delivers it
 * again) is dead without a payload, and its next delivery fills the payload in and queues it; a
 * redelivery of anything else stores nothing. Rolled back, what was still to apply is `failed`.
 */
function suite(open: () => Promise<{ db: Knex; dispose(): Promise<void> }>) {
  let db: Knex;
  let dispose: () => Promise<void>;
  const at = migrations.findIndex((m) => m.name === '0012_stripe_event_queue');

  beforeEach(async () => {
    ({ db, dispose } = await open());
    expect(at).to.be.above(0);
    await migrateLatest(db, migrations.slice(0, at));
  });
  afterEach(async () => {
    await db.destroy();
    await dispose();
  });

  const legacy = (id: string, status: string, attempts: number) => ({
    id, type: 'checkout.session.completed', object_id: `cs_${id}`, status, attempts, event_created_at: 1_700_000_000_000, received_at: 1_700_000_001_000,
    processed_at: status === 'failed' ? null : 1_700_000_001_000, last_failed_at: status === 'failed' ? 1_700_000_001_000 : null,
  });
  const row = async (id: string) => storedEvent((await db('stripe_events').where({ id }).first())!);
  const redelivery = (id: string) => ({
    id, type: 'checkout.session.completed', object_id: `cs_${id}`, customer_id: 'cus_1', status: 'pending' as const,
    payload: JSON.stringify({ id, object: 'event' }), event_created_at: 1_700_000_000_000, received_at: 1_800_000_000_000,
  });

  it('keeps processed and ignored events, turns failed ones into dead ones that their next delivery queues, and rolls back to failed', async () => {
    await db('stripe_events').insert([legacy('evt_done', 'processed', 1), legacy('evt_skip', 'ignored', 1), legacy('evt_failed', 'failed', 2)]);
    await migrateLatest(db, migrations);

    expect(await row('evt_done')).to.deep.include({ status: 'processed', attempts: 1, processed_at: 1_700_000_001_000, payload: null, customer_id: null, last_error: null });
    expect(await row('evt_skip')).to.deep.include({ status: 'ignored', attempts: 1 });
    expect(await row('evt_failed')).to.deep.include({ status: 'dead', attempts: 2, last_error: 'FAILED_BEFORE_QUEUE', payload: null, processed_at: null });

    // Redelivered: a processed event stays as it is; the failed one is queued with this delivery's payload.
    expect(await storeEvent(db, redelivery('evt_done'))).to.equal(false);
    expect(await row('evt_done')).to.deep.include({ status: 'processed', payload: null, received_at: 1_700_000_001_000 });
    expect(await storeEvent(db, redelivery('evt_failed'))).to.equal(true);
    expect(await row('evt_failed')).to.deep.include({ status: 'pending', attempts: 0, last_error: null, customer_id: 'cus_1', next_attempt_at: 1_800_000_000_000, payload: redelivery('evt_failed').payload });
    // A dead event that has its payload is the operator's to retry, not a redelivery's.
    await db('stripe_events').where({ id: 'evt_failed' }).update({ status: 'dead', last_error: 'HANDLER_FAILED' });
    expect(await storeEvent(db, redelivery('evt_failed'))).to.equal(false);
    expect(await row('evt_failed')).to.deep.include({ status: 'dead', last_error: 'HANDLER_FAILED' });

    await migrateRollback(db, migrations);
    const back = await db('stripe_events').orderBy('id').select('id', 'status', 'attempts');
    expect(back.map((r: { id: string; status: string; attempts: number }) => [r.id, r.status, Number(r.attempts)])).to.deep.equal([
      ['evt_done', 'processed', 1], ['evt_failed', 'failed', 1], ['evt_skip', 'ignored', 1],
    ]);
  });
}

describe('migration 0012: stripe_events becomes the queue (SQLite)', () => {
  suite(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-0012-'));
    const db = createDb({ client: 'sqlite', filename: path.join(dir, 'db.sqlite'), acquireTimeoutMs: 5000, migrateOnStart: false });
    return { db, dispose: () => rm(dir, { recursive: true, force: true }) };
  });
});

describeWithService('migration 0012: stripe_events becomes the queue (PostgreSQL)', PG_URL, PG_SKIP_REASON, (url) => {
  suite(async () => {
    const tmp = await createTempDatabase(url);
    const db = createDb({ client: 'pg', url: tmp.url, pool: { min: 0, max: 2 }, acquireTimeoutMs: 5000, statementTimeoutMs: 10000, migrateOnStart: false });
    return { db, dispose: () => tmp.drop() };
  });
});
