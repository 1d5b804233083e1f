import type { Knex } from 'knex';
import type { BillingEntitlementRow } from '../billing/index.js';
import type { Claim } from './rules.js';
import { CANDIDATE_ORDER, compile, DUE, USABLE } from './sql.js';

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

/** What a consumption leaves: the entitlement consumed from, its quota left and its period end. */
export interface Consumed {
  id: string;
  quota_remaining: number | string;
  period_end: number | string | null;
}

const U = 'usage_records';
const E = 'entitlements';
const usable = compile<{ units: number; now: number }>(USABLE);

export async function findUsage(db: Knex, userId: string, clientReqId: string): Promise<UsageRecordRow | undefined> {
  return db(U).where({ user_id: userId, client_req_id: clientReqId }).first();
}

/** The claim of `(user_id, client_req_id)` with the answer it gave (the unique key refuses a second one). */
export async function insertUsage(db: Knex, claim: Claim, entitlementId: string, result: string): Promise<void> {
  await db(U).insert({
    id: claim.id, user_id: claim.userId, client_req_id: claim.clientReqId, listing_id: claim.listingId, units: claim.units,
    entitlement_id: entitlementId, result, created_at: claim.at,
  });
}

const CONSUME_FIRST = compile<Claim & { now: number }>(`
UPDATE ${E} SET quota_remaining = quota_remaining - $units
WHERE id = (
    SELECT id FROM ${E}
    WHERE user_id = $userId AND listing_id = $listingId AND status = 'active' AND (${USABLE} OR ${DUE})
    ORDER BY ${CANDIDATE_ORDER} LIMIT 1)
  AND status = 'active' AND ${USABLE}
  AND NOT EXISTS (SELECT 1 FROM ${U} WHERE user_id = $userId AND client_req_id = $clientReqId)
RETURNING id, quota_remaining, period_end`);

/**
 * The common case in one write: consumes from the first candidate when it is usable now (not due
 * for a roll-over) and the clientReqId is unused. Undefined otherwise, having changed nothing.
 */
export async function consumeFirstUsable(db: Knex, claim: Claim): Promise<Consumed | undefined> {
  const rows = (await db.raw(CONSUME_FIRST.sql, CONSUME_FIRST.bindings({ ...claim, now: claim.at }) as Knex.RawBinding[])) as Consumed[];
  return rows[0];
}

/** Active entitlements of a user to a listing, in the order a report tries them. */
export async function usableEntitlements(db: Knex, userId: string, listingId: string): Promise<BillingEntitlementRow[]> {
  return db(E).where({ user_id: userId, listing_id: listingId, status: 'active' }).orderByRaw(CANDIDATE_ORDER);
}

/**
 * The atomic consumption: one conditional UPDATE that only succeeds while the entitlement is
 * usable (sql.ts USABLE). Returns what it left, or undefined when the row did not qualify.
 */
export async function consumeQuota(db: Knex, entitlementId: string, units: number, now: number): Promise<Consumed | undefined> {
  const rows: Consumed[] = await db(E)
    .where({ id: entitlementId, status: 'active' })
    .andWhereRaw(usable.sql, usable.bindings({ units, now }) as Knex.RawBinding[])
    .update({ quota_remaining: db.raw('?? - ?', ['quota_remaining', units]) })
    .returning(['id', 'quota_remaining', 'period_end']);
  return rows[0];
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
