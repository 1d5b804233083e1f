import type { Knex } from 'knex';
import type { BillingEntitlementRow } from '../billing/index.js';

export interface UsageRecordRow {
  id: string;
  user_id: string;
  client_req_id: string;
  listing_id: string;
  units: number;
  entitlement_id: string | null;
  result: string | null;
  created_at: number | string;
}

const U = 'usage_records';
const E = 'entitlements';

/**
 * Claims `(user_id, client_req_id)`: true when this call inserted the row. A concurrent claim of
 * the same key waits for the first transaction (PostgreSQL) and then sees its committed row.
 */
export async function claimUsage(db: Knex, row: Omit<UsageRecordRow, 'entitlement_id' | 'result'>): Promise<boolean> {
  const inserted = await db(U).insert(row).onConflict(['user_id', 'client_req_id']).ignore().returning('id');
  return inserted.length > 0;
}

export async function findUsage(db: Knex, userId: string, clientReqId: string): Promise<UsageRecordRow | undefined> {
  return db(U).where({ user_id: userId, client_req_id: clientReqId }).first();
}

export async function storeUsageResult(db: Knex, id: string, entitlementId: string, result: string): Promise<void> {
  await db(U).where({ id }).update({ entitlement_id: entitlementId, result });
}

/** Active entitlements of a user to a listing, the one closest to its period end first. */
export async function usableEntitlements(db: Knex, userId: string, listingId: string): Promise<BillingEntitlementRow[]> {
  return db(E).where({ user_id: userId, listing_id: listingId, status: 'active' })
    .orderByRaw('case when period_end is null then 1 else 0 end, period_end asc, granted_at asc, id asc');
}

/**
 * The atomic consumption: one conditional UPDATE that only succeeds while enough quota is left
 * in a current period. Returns the remaining quota, or undefined when the row did not qualify.
 */
export async function consumeQuota(db: Knex, entitlementId: string, units: number, now: number): Promise<number | undefined> {
  const rows: { quota_remaining: number | string }[] = await db(E)
    .where({ id: entitlementId, status: 'active' })
    .andWhere('quota_remaining', '>=', units)
    // A subscription's quota stays usable past period_end until the next paid invoice renews it
    // (Stripe charges renewals up to about an hour after the period starts).
    .andWhere((q) => q.whereNull('period_end').orWhere('period_end', '>', now).orWhereNotNull('stripe_subscription_id'))
    .update({ quota_remaining: db.raw('?? - ?', ['quota_remaining', units]) })
    .returning(['quota_remaining']);
  return rows[0] === undefined ? undefined : Number(rows[0].quota_remaining);
}

/**
 * Moves a self-renewing (one-time purchase, monthly or yearly quota) period forward. Conditional
 * on the period it replaces, so two racing requests roll it over once.
 */
export async function rollOverPeriod(db: Knex, entitlementId: string, expectedEnd: number, next: { start: number; end: number }): Promise<number> {
  return db(E)
    .where({ id: entitlementId, status: 'active', period_end: expectedEnd })
    .whereNull('stripe_subscription_id')
    .update({ quota_remaining: db.raw('??', ['quota_units']), period_start: next.start, period_end: next.end });
}

export async function entitlementsOf(db: Knex, userId: string, listingId?: string): Promise<BillingEntitlementRow[]> {
  const q = db(E).where({ user_id: userId }).whereIn('status', ['active', 'pending']).orderBy([{ column: 'granted_at', order: 'desc' }, { column: 'id', order: 'asc' }]);
  if (listingId) q.andWhere({ listing_id: listingId });
  return q;
}
