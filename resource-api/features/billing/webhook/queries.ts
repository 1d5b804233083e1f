import type { Knex } from 'knex';
import { appError, StorageErrors } from '#shared/errors/index.js';

/** pending → processed | dead; ignored (no handler) from the start. Migration 0012 describes each column. */
export type StripeEventStatus = 'pending' | 'processed' | 'ignored' | 'dead';

/** A stripe_events row (bigints may arrive as strings on pg). */
export interface StripeEventRow {
  id: string;
  type: string;
  object_id: string | null;
  customer_id: string | null;
  status: StripeEventStatus;
  attempts: number;
  event_created_at: number | string;
  received_at: number | string;
  next_attempt_at: number | string | null;
  locked_by: string | null;
  locked_until: number | string | null;
  last_error: string | null;
  last_failed_at: number | string | null;
  processed_at: number | string | null;
  payload: string | null;
}

/** What the webhook route stores: the verified event, as a pending row or an ignored one. */
export type NewStripeEvent = Pick<StripeEventRow, 'id' | 'type' | 'object_id' | 'customer_id' | 'payload'> & {
  status: 'pending' | 'ignored';
  event_created_at: number;
  received_at: number;
};

export const STRIPE_EVENTS = 'stripe_events';
const T = STRIPE_EVENTS;
/** Every column but the payload: what operators and tests read. */
const COLUMNS = ['id', 'type', 'object_id', 'customer_id', 'status', 'attempts', 'event_created_at', 'received_at', 'next_attempt_at', 'locked_by', 'locked_until', 'last_error', 'last_failed_at', 'processed_at'] as const;

/**
 * Stores a verified event once: true when this call stored it, false when its id is already
 * there (a redelivery, acknowledged without a second row). One statement, so the answer Stripe
 * gets is 2xx only once the row is committed. The one row a delivery may still complete is a
 * `dead` one without a payload — an event the synchronous webhook failed on (migration 0012):
 * it takes this delivery's payload and is pending again. Plain SQL (the same on both backends),
 * prepared once per connection on PostgreSQL: it runs on every delivery.
 */
export async function storeEvent(db: Knex, e: NewStripeEvent): Promise<boolean> {
  const bindings = [
    e.id, e.type, e.object_id, e.customer_id, e.status, e.payload, e.event_created_at, e.received_at,
    e.status === 'pending' ? e.received_at : null, e.status === 'ignored' ? e.received_at : null,
  ];
  try {
    const raw = db.raw(STORE, bindings);
    const result: unknown = await (db.client.dialect === 'postgresql' ? raw.options({ name: 'stripe_events_store' }) : raw);
    return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows).length > 0;
  } catch (err) {
    // SQLite: another process held the write lock past busy_timeout. Not stored: Stripe must retry.
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') throw appError(StorageErrors, 'DATABASE_UNAVAILABLE', { cause: err });
    throw err;
  }
}

const STORE = `INSERT INTO ${T} (id, type, object_id, customer_id, status, payload, attempts, event_created_at, received_at, next_attempt_at, processed_at, last_error)
  VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, NULL)
  ON CONFLICT (id) DO UPDATE SET status = excluded.status, payload = excluded.payload, customer_id = excluded.customer_id, attempts = 0,
    next_attempt_at = excluded.next_attempt_at, processed_at = excluded.processed_at, last_error = NULL
  WHERE ${T}.status = 'dead' AND ${T}.payload IS NULL
  RETURNING id`;

export async function findEvent(db: Knex, id: string): Promise<(Omit<StripeEventRow, 'payload'> & { payload_bytes: number | null }) | undefined> {
  const row = await db(T).select(...COLUMNS, db.raw('length(payload) as payload_bytes')).where({ id }).first();
  return row ? { ...row, payload_bytes: row.payload_bytes === null ? null : Number(row.payload_bytes) } : undefined;
}

/** Events in one state: pending ones in the order they apply, the others newest first. */
export async function listEvents(db: Knex, status: StripeEventStatus, limit: number): Promise<Omit<StripeEventRow, 'payload'>[]> {
  const q = db(T).select(...COLUMNS).where({ status }).limit(limit);
  return status === 'pending' ? q.orderBy(['event_created_at', 'received_at', 'id']) : q.orderBy([{ column: 'received_at', order: 'desc' }, { column: 'id', order: 'desc' }]);
}

export type RetryOutcome = 'retried' | 'not_found' | 'not_dead' | 'no_payload';

/**
 * A dead event back to pending with a fresh allowance of attempts, due now. Its customer's later
 * events were applied meanwhile: it applies after them (docs/operations.md). `last_error` stays
 * until the next attempt, as the reason it was dead.
 */
export async function retryDeadEvent(db: Knex, id: string, now: number): Promise<RetryOutcome> {
  const n = await db(T).where({ id, status: 'dead' }).whereNotNull('payload')
    .update({ status: 'pending', attempts: 0, next_attempt_at: now, locked_by: null, locked_until: null });
  if (n > 0) return 'retried';
  const row = await db(T).select('status').where({ id }).first();
  return !row ? 'not_found' : row.status === 'dead' ? 'no_payload' : 'not_dead';
}

/** The ids of every dead event that can be retried (it has its payload), oldest first. */
export async function deadEventIds(db: Knex): Promise<string[]> {
  const rows: { id: string }[] = await db(T).select('id').where({ status: 'dead' }).whereNotNull('payload').orderBy(['received_at', 'id']);
  return rows.map((r) => r.id);
}

export interface QueueStats {
  pending: number;
  dead: number;
  /** received_at of the oldest pending event, epoch ms; null when none is pending. */
  oldestPendingAt: number | null;
}

/** What /metrics shows of the queue: one indexed read of the pending and dead rows. */
export async function queueStats(db: Knex): Promise<QueueStats> {
  const rows: { status: string; n: number | string; oldest: number | string | null }[] = await db(T)
    .select('status').count({ n: '*' }).min({ oldest: 'received_at' })
    .whereIn('status', ['pending', 'dead']).groupBy('status');
  const of = (s: string) => rows.find((r) => r.status === s);
  const oldest = of('pending')?.oldest;
  return { pending: Number(of('pending')?.n ?? 0), dead: Number(of('dead')?.n ?? 0), oldestPendingAt: oldest === undefined || oldest === null ? null : Number(oldest) };
}
