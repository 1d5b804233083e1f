import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { findListing } from '../../listings/index.js';
import { findBySubscription, findUserById, lockBySubscription, insertEntitlementOnce, rememberBillingCustomer, type BillingEntitlementRow } from '../queries.js';
import type { EntitlementChange, StripeEventContext } from './types.js';

export interface SubscriptionRef {
  subscriptionId: string;
  /** From metadata we put on the Checkout Session and the subscription (never from the client). */
  userId: string | null | undefined;
  listingId: string | null | undefined;
  customerId: string | null;
}

/**
 * Makes sure the subscription has its entitlement row, whichever of its events arrives first.
 * A new row is `pending` with no quota: only a paid invoice opens a period. False when the
 * subscription is not one of ours (no or unknown user/listing metadata).
 */
export async function ensureSubscriptionEntitlement(trx: Knex, ref: SubscriptionRef, now: number): Promise<boolean> {
  if (await findBySubscription(trx, ref.subscriptionId)) return true;
  if (!ref.userId || !ref.listingId) return false;
  const listing = await findListing(trx, ref.listingId);
  if (!listing || listing.id !== ref.listingId || !(await findUserById(trx, ref.userId))) return false;
  await insertEntitlementOnce(trx, {
    id: randomUUID(), user_id: ref.userId, listing_id: listing.id, status: 'pending', granted_at: now,
    quota_units: Number(listing.quota_units), quota_period: listing.quota_period, quota_remaining: 0,
    stripe_subscription_id: ref.subscriptionId, stripe_customer_id: ref.customerId,
  }, 'stripe_subscription_id');
  if (ref.customerId) await rememberBillingCustomer(trx, ref.userId, ref.customerId, now);
  return true;
}

/** Lifecycle rank of a subscription status: breaks ties between events of the same second. */
const RANK: Record<string, number> = { incomplete: 1, trialing: 2, active: 2, past_due: 3, unpaid: 4, paused: 4, canceled: 5, incomplete_expired: 5 };

/**
 * Ordering key of a subscription snapshot: Stripe's `event.created` (s → ms) plus the status
 * rank. Subscriptions carry no "updated at", so the event time orders snapshots; within one
 * second a later lifecycle state wins.
 */
export function orderKey(eventCreatedS: number, status: string): number {
  return eventCreatedS * 1000 + (RANK[status] ?? 0);
}

/** Access follows Stripe's status: paying or recoverable keeps it, ended or unpaid removes it. */
export function entitlementStatusFor(status: string): 'active' | 'pending' | 'revoked' {
  if (status === 'incomplete') return 'pending';
  if (status === 'active' || status === 'trialing' || status === 'past_due') return 'active';
  return 'revoked';
}

const planOf = (row: BillingEntitlementRow): EntitlementChange['plan'] => (row.stripe_subscription_id ? 'subscription' : 'one_time');

/** The audit record of an entitlement that stopped giving access. */
export function revoked(row: BillingEntitlementRow, reason: string): EntitlementChange {
  return { kind: 'revoked', userId: row.user_id, listingId: row.listing_id, entitlementId: row.id, plan: planOf(row), why: reason };
}

/**
 * Runs `apply` on a subscription's entitlement and reports the access change it made, if any:
 * granted when it became active, revoked when an active one was revoked. A pending row that
 * goes away, or one that flips and back within the event, changed nobody's access.
 */
export async function trackAccess(trx: Knex, subscriptionId: string, ctx: StripeEventContext, source: string, apply: () => Promise<void>): Promise<void> {
  const before = (await lockBySubscription(trx, subscriptionId))?.status;
  await apply();
  const after = await findBySubscription(trx, subscriptionId);
  if (!after || after.status === before) return;
  if (after.status === 'active') ctx.changed({ kind: 'granted', userId: after.user_id, listingId: after.listing_id, entitlementId: after.id, plan: planOf(after), why: source });
  else if (after.status === 'revoked' && before === 'active') ctx.changed(revoked(after, after.revoked_reason ?? 'revoked'));
}
