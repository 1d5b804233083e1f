import type { Knex } from 'knex';
import { STRIPE_EVENTS as T } from './queries.js';

/** A pending event a worker holds the lease of (bigints may arrive as strings on pg). */
export interface ClaimedEvent {
  id: string;
  type: string;
  customer_id: string | null;
  /** Counting this one. */
  attempts: number;
  payload: string | null;
  event_created_at: number | string;
  received_at: number | string;
  /** LEASE_EXPIRED when the worker that claimed it before never finished (it died). */
  last_error: string | null;
}

export interface Lease {
  /** Who holds it: host, process id and a random part. */
  workerId: string;
  leaseMs: number;
}

const RETURNING = 'id, type, customer_id, attempts, payload, event_created_at, received_at, last_error';
/** Ready: due (next_attempt_at) and not leased, or leased by a worker whose lease ran out. */
const ready = (t: string) => `${t}.status = 'pending' AND ${t}.next_attempt_at <= :now AND (${t}.locked_until IS NULL OR ${t}.locked_until < :now)`;
/**
 * The claim's SET: the lease, one more attempt, and LEASE_EXPIRED when a lease was still there
 * (every finished attempt clears it, so only a worker that died leaves one).
 */
const TAKE = `locked_by = :worker, locked_until = :until, attempts = attempts + 1,
  last_error = CASE WHEN locked_until IS NULL THEN last_error ELSE 'LEASE_EXPIRED' END,
  last_failed_at = CASE WHEN locked_until IS NULL THEN last_failed_at ELSE :now END`;
/**
 * The head of its customer's queue: no pending event of the same customer comes before it, in
 * (event_created_at, received_at, id) order. A claimed event stays pending until it is applied or
 * dead, so the customer's next one waits for it whoever holds it. No customer: no order to keep.
 */
const HEAD = `NOT EXISTS (SELECT 1 FROM ${T} p WHERE p.status = 'pending' AND p.customer_id = e.customer_id
  AND (p.event_created_at, p.received_at, p.id) < (e.event_created_at, e.received_at, e.id))`;

const rowsOf = <R>(result: unknown): R[] => (Array.isArray(result) ? result : (result as { rows: R[] }).rows);
const byOrder = (a: ClaimedEvent, b: ClaimedEvent) =>
  Number(a.event_created_at) - Number(b.event_created_at) || Number(a.received_at) - Number(b.received_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Claims up to `limit` ready events, oldest first, each the head of its customer's queue (so at
 * most one per customer). PostgreSQL: `FOR UPDATE SKIP LOCKED`, so workers of other processes
 * claiming at the same moment take other rows instead of waiting. SQLite has no row locks: its
 * one writer at a time makes the UPDATE atomic on its own.
 */
export async function claimEvents(db: Knex, lease: Lease, limit: number, now: number): Promise<ClaimedEvent[]> {
  const b = { worker: lease.workerId, until: now + lease.leaseMs, now, limit };
  const pick = `SELECT e.id FROM ${T} e WHERE ${ready('e')} AND ${HEAD}
    ORDER BY e.event_created_at, e.received_at, e.id LIMIT :limit`;
  const sql = db.client.dialect === 'postgresql'
    ? `WITH c AS (${pick} FOR UPDATE OF e SKIP LOCKED) UPDATE ${T} SET ${TAKE} FROM c WHERE ${T}.id = c.id RETURNING ${RETURNING.replace(/(\w+)/g, `${T}.$1`)}`
    : `UPDATE ${T} SET ${TAKE} WHERE id IN (${pick}) RETURNING ${RETURNING}`;
  return rowsOf<ClaimedEvent>(await db.raw(sql, b)).sort(byOrder);
}

/**
 * After a worker applied events of `customerIds`: each customer's next pending event, if it is
 * ready. Without SKIP LOCKED on purpose: the heads are read first and then updated, so a head that
 * another worker is claiming right now makes this claim skip that customer, never take the event
 * after its head.
 */
export async function claimNextOfCustomers(db: Knex, lease: Lease, customerIds: readonly string[], now: number): Promise<ClaimedEvent[]> {
  if (customerIds.length === 0) return [];
  const b = { worker: lease.workerId, until: now + lease.leaseMs, now, customers: db.raw(customerIds.map(() => '?').join(', '), [...customerIds]) };
  const heads = `SELECT h.id FROM (SELECT p.id, ROW_NUMBER() OVER (PARTITION BY p.customer_id ORDER BY p.event_created_at, p.received_at, p.id) AS n
    FROM ${T} p WHERE p.status = 'pending' AND p.customer_id IN (:customers)) h WHERE h.n = 1`;
  return rowsOf<ClaimedEvent>(await db.raw(`UPDATE ${T} SET ${TAKE} WHERE id IN (${heads}) AND ${ready(T)} RETURNING ${RETURNING}`, b)).sort(byOrder);
}

/**
 * Inside the transaction that applies the event: marks it processed (or ignored) if this worker
 * still holds it. The row stays locked until that transaction ends, so the event and its effects
 * commit together or not at all; false when another worker took it over (the lease ran out and
 * it was claimed again): then nothing may be applied. The payload goes: nothing needs it any more.
 */
export async function settleEvent(trx: Knex, id: string, workerId: string, status: 'processed' | 'ignored', now: number): Promise<boolean> {
  const n = await trx(T).where({ id, status: 'pending', locked_by: workerId })
    .update({ status, processed_at: now, payload: null, next_attempt_at: null, locked_by: null, locked_until: null });
  return n > 0;
}

/** settleEvent for several events in one statement: the ids this worker still held, now processed. */
export async function settleEvents(trx: Knex, ids: readonly string[], workerId: string, now: number): Promise<Set<string>> {
  const rows: { id: string }[] = await trx(T).whereIn('id', ids).where({ status: 'pending', locked_by: workerId })
    .update({ status: 'processed', processed_at: now, payload: null, next_attempt_at: null, locked_by: null, locked_until: null }, ['id']);
  return new Set(rows.map((r) => r.id));
}

/** After a failed attempt (rolled back): the next one at `nextAttemptAt`, or dead. */
export async function recordAttemptFailure(
  db: Knex, id: string, workerId: string, f: { code: string; now: number; dead: boolean; nextAttemptAt: number },
): Promise<boolean> {
  const n = await db(T).where({ id, status: 'pending', locked_by: workerId }).update({
    status: f.dead ? 'dead' : 'pending', last_error: f.code, last_failed_at: f.now,
    next_attempt_at: f.dead ? null : f.nextAttemptAt, locked_by: null, locked_until: null,
  });
  return n > 0;
}
