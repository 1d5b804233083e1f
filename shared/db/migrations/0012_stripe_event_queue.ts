import type { Knex } from 'knex';
import type { Migration } from '../migrator.js';

const T = 'stripe_events';
const NEXT = 'stripe_events_next';

/**
 * `stripe_events` becomes the queue of the Stripe webhook (resource-api/features/billing/webhook):
 * the route stores a verified event and answers; a worker applies it later, in `event_created_at`
 * order per Stripe customer, exactly once, retrying with back-off until `dead`.
 *
 * - `status`: `pending` (stored, not applied yet), `processed` (applied), `ignored` (no handler
 *   for its type), `dead` (failed STRIPE_WEBHOOK_MAX_ATTEMPTS times; an operator retries it).
 * - `payload`: the verified event JSON, kept only while it is still to be applied (pending or
 *   dead); the worker clears it in the transaction that applies the event.
 * - `customer_id`: the ordering key (Stripe events of one customer apply oldest first).
 * - `locked_by` / `locked_until`: the lease of the worker that claimed it; a lease that runs
 *   out (a worker that died) lets another worker claim the event again.
 * - `last_error`: a stable code, never a message or a stack.
 *
 * SQLite cannot change a CHECK constraint in place, so the table is rebuilt on both backends:
 * created beside, filled from the old one, swapped. Rows of the synchronous webhook keep their
 * status; its `failed` rows (Stripe was told 5xx and retries them) become `dead` without a
 * payload, which the next delivery of the same event fills in (webhook/queries.ts storeEvent).
 */
export const stripeEventQueue: Migration = {
  name: '0012_stripe_event_queue',
  async up(knex) {
    await knex.schema.createTable(NEXT, (t) => {
      t.string('id', 255).primary();
      t.string('type', 100).notNullable();
      t.string('object_id', 255);
      t.string('customer_id', 255);
      t.string('status', 16).notNullable();
      t.integer('attempts').notNullable().defaultTo(0);
      t.bigInteger('event_created_at').notNullable();
      t.bigInteger('received_at').notNullable();
      t.bigInteger('next_attempt_at');
      t.string('locked_by', 128);
      t.bigInteger('locked_until');
      t.string('last_error', 64);
      t.bigInteger('last_failed_at');
      t.bigInteger('processed_at');
      t.text('payload');
      t.check("?? in ('pending', 'processed', 'ignored', 'dead')", ['status'], 'stripe_events_queue_status_valid');
    });
    await knex.raw(
      `INSERT INTO ?? (id, type, object_id, status, attempts, event_created_at, received_at, last_error, last_failed_at, processed_at)
       SELECT id, type, object_id, CASE status WHEN 'failed' THEN 'dead' ELSE status END, attempts, event_created_at, received_at,
              CASE status WHEN 'failed' THEN 'FAILED_BEFORE_QUEUE' ELSE NULL END, last_failed_at, processed_at
       FROM ??`,
      [NEXT, T],
    );
    await knex.schema.dropTable(T);
    await knex.schema.renameTable(NEXT, T);
    if (knex.client.dialect === 'postgresql') await knex.raw(`ALTER TABLE ?? RENAME CONSTRAINT ?? TO ??`, [T, `${NEXT}_pkey`, `${T}_pkey`]);
    await createIndexes(knex);
  },
  async down(knex) {
    await knex.schema.createTable(NEXT, (t) => {
      t.string('id', 255).primary();
      t.string('type', 100).notNullable();
      t.string('object_id', 255);
      t.string('status', 16).notNullable();
      t.integer('attempts').notNullable().defaultTo(1);
      t.bigInteger('event_created_at').notNullable();
      t.bigInteger('received_at').notNullable();
      t.bigInteger('processed_at');
      t.bigInteger('last_failed_at');
      t.check("?? in ('processed', 'ignored', 'failed')", ['status'], 'stripe_events_status_valid');
    });
    // What was still to be applied becomes `failed`: the synchronous webhook applied it on Stripe's next delivery.
    await knex.raw(
      `INSERT INTO ?? (id, type, object_id, status, attempts, event_created_at, received_at, processed_at, last_failed_at)
       SELECT id, type, object_id, CASE WHEN status IN ('pending', 'dead') THEN 'failed' ELSE status END, CASE WHEN attempts < 1 THEN 1 ELSE attempts END,
              event_created_at, received_at, processed_at, last_failed_at
       FROM ??`,
      [NEXT, T],
    );
    await knex.schema.dropTable(T);
    await knex.schema.renameTable(NEXT, T);
    if (knex.client.dialect === 'postgresql') await knex.raw(`ALTER TABLE ?? RENAME CONSTRAINT ?? TO ??`, [T, `${NEXT}_pkey`, `${T}_pkey`]);
    await knex.schema.alterTable(T, (t) => {
      t.index(['status', 'received_at']);
    });
  },
};

/**
 * Partial indexes over the pending rows only (the queue stays small while the ledger grows):
 * the claim reads them in order, and asks per customer whether an earlier one is still pending.
 * The third serves the dead-letter listing, /metrics and the retention purge.
 */
async function createIndexes(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX stripe_events_pending_order ON ?? (event_created_at, received_at, id) WHERE status = 'pending'`, [T]);
  await knex.raw(`CREATE INDEX stripe_events_pending_customer ON ?? (customer_id, event_created_at, received_at, id) WHERE status = 'pending'`, [T]);
  await knex.raw(`CREATE INDEX stripe_events_status_received ON ?? (status, received_at)`, [T]);
}
