import type { Knex } from 'knex';

export interface StripeEventRow {
  id: string;
  type: string;
  object_id: string | null;
  status: 'processed' | 'ignored' | 'failed';
  attempts: number;
  event_created_at: number;
  received_at: number;
  processed_at: number | null;
  last_failed_at: number | null;
}

const T = 'stripe_events';

/**
 * Claims an event for processing inside the caller's transaction: a new id is inserted; an id
 * whose earlier attempt failed is taken over. False when it was already processed (or ignored):
 * the delivery is a repeat. A concurrent delivery of the same id waits on the row and then
 * finds it processed.
 */
export async function claimEvent(db: Knex, row: Omit<StripeEventRow, 'attempts' | 'last_failed_at'>): Promise<boolean> {
  const inserted = await db(T).insert({ ...row, attempts: 1 }).onConflict('id').ignore().returning('id');
  if (inserted.length > 0) return true;
  const retaken = await db(T).where({ id: row.id, status: 'failed' })
    .update({ status: row.status, processed_at: row.processed_at, attempts: db.raw('?? + 1', ['attempts']) });
  return retaken > 0;
}

/** After a rolled-back attempt: the id is known, marked failed, and retried on the next delivery. */
export async function recordFailure(db: Knex, row: Pick<StripeEventRow, 'id' | 'type' | 'object_id' | 'event_created_at' | 'received_at'>, now: number): Promise<void> {
  await db(T)
    .insert({ ...row, status: 'failed', attempts: 1, processed_at: null, last_failed_at: now })
    .onConflict('id')
    .merge({ attempts: db.raw('?? + 1', [`${T}.attempts`]), last_failed_at: now })
    .where(`${T}.status`, 'failed');
}

export async function findEvent(db: Knex, id: string): Promise<StripeEventRow | undefined> {
  return db(T).where({ id }).first();
}
