import { periodContaining, type BillingEntitlementRow } from '../billing/index.js';

export interface UsageReport {
  clientReqId: string;
  listingId: string;
  units: number;
}

export interface UsageResult {
  id: string;
  clientReqId: string;
  listingId: string;
  units: number;
  entitlementId: string;
  remaining: number;
  periodEnd: string | null;
  createdAt: string;
  replayed: boolean;
}

/** One report as its usage record will hold it: the record's id, who, which clientReqId, what, when (ms). */
export interface Claim extends UsageReport {
  id: string;
  userId: string;
  at: number;
}

/** What one attempt at a report found or did (report-statement.ts on PostgreSQL, report-transaction.ts on SQLite). */
export type ReportOutcome =
  /** Quota consumed and the answer stored with the claim (`result`: the answer's JSON). */
  | { kind: 'stored'; result: string }
  /** The clientReqId was used before: nothing consumed; its first answer, if the parameters match. */
  | { kind: 'prior'; listingId: string; units: number; result: string | null }
  /** The entitlement to use is due for its roll-over, which comes first; nothing done (PostgreSQL). */
  | { kind: 'due'; entitlement: DueEntitlement }
  /** Nothing usable, nothing stored: 402 with an active entitlement to the listing, 403 without. */
  | { kind: 'refused'; entitled: boolean }
  /** A concurrent report claimed the same clientReqId, or used up the entitlement chosen, first; nothing done: look again. */
  | { kind: 'raced' };

export type DueEntitlement = Pick<BillingEntitlementRow, 'id' | 'granted_at' | 'quota_period' | 'period_end' | 'stripe_subscription_id'>;

export const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

/**
 * A one-time purchase with a monthly or yearly quota whose period has ended: the period now due
 * (sql.ts DUE is the same test in SQL).
 */
export function duePeriod(e: DueEntitlement, now: number): { start: number; end: number } | undefined {
  if (e.stripe_subscription_id || e.period_end === null || Number(e.period_end) > now) return undefined;
  if (e.quota_period !== 'month' && e.quota_period !== 'year') return undefined;
  return periodContaining(Number(e.granted_at), e.quota_period, now);
}

/** The answer to a report that consumed from `entitlement` (PostgreSQL builds the same JSON in its statement). */
export function resultOf(claim: Claim, entitlement: { id: string; remaining: number; periodEnd: number | string | null }): UsageResult {
  return {
    id: claim.id, clientReqId: claim.clientReqId, listingId: claim.listingId, units: claim.units, entitlementId: entitlement.id,
    remaining: entitlement.remaining, periodEnd: iso(entitlement.periodEnd), createdAt: new Date(claim.at).toISOString(), replayed: false,
  };
}
