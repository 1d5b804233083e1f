import type { Knex } from 'knex';

/** An entitlement row with the billing columns of migration 0004 (bigints may arrive as strings on pg). */
export interface BillingEntitlementRow {
  id: string;
  user_id: string;
  listing_id: string;
  status: 'active' | 'pending' | 'revoked';
  granted_at: number | string;
  revoked_at: number | string | null;
  quota_units: number | null;
  quota_period: 'month' | 'year' | 'once' | null;
  quota_remaining: number;
  period_start: number | string | null;
  period_end: number | string | null;
  stripe_customer_id: string | null;
  stripe_subscription_id: string | null;
  stripe_checkout_session_id: string | null;
  stripe_payment_intent_id: string | null;
  subscription_status: string | null;
  updated_from_event_at: number | string | null;
  revoked_reason: string | null;
}

export type NewEntitlement = Pick<BillingEntitlementRow, 'id' | 'user_id' | 'listing_id' | 'status' | 'quota_units' | 'quota_period' | 'quota_remaining'>
  & Partial<BillingEntitlementRow> & { granted_at: number };

const T = 'entitlements';
/** Subscription states after which nothing may change the entitlement again. */
export const TERMINAL_SUBSCRIPTION_STATES = ['canceled', 'incomplete_expired'] as const;

export async function findUserById(db: Knex, userId: string): Promise<{ id: string } | undefined> {
  return db('user').select('id').where({ id: userId }).first();
}

/** Inserts unless the unique Stripe key (`conflictOn`) already has a row; true when inserted. */
export async function insertEntitlementOnce(db: Knex, row: NewEntitlement, conflictOn: 'stripe_subscription_id' | 'stripe_checkout_session_id'): Promise<boolean> {
  const inserted = await db(T).insert(row).onConflict(conflictOn).ignore().returning('id');
  return inserted.length > 0;
}

export async function findBySubscription(db: Knex, subscriptionId: string): Promise<BillingEntitlementRow | undefined> {
  return db(T).where({ stripe_subscription_id: subscriptionId }).first();
}

/**
 * The same row, locked until the transaction ends (PostgreSQL `FOR UPDATE`; SQLite's single
 * writer needs none): a concurrent delivery for the subscription waits, then sees this one's result.
 */
export async function lockBySubscription(trx: Knex, subscriptionId: string): Promise<BillingEntitlementRow | undefined> {
  return trx(T).where({ stripe_subscription_id: subscriptionId }).forUpdate().first();
}

/** Whether `userId` currently holds an active entitlement to the listing (reviews require one). */
export async function hasActiveEntitlement(db: Knex, userId: string, listingId: string): Promise<boolean> {
  const row = await db(T).select('id').where({ user_id: userId, listing_id: listingId, status: 'active' }).first();
  return row !== undefined;
}

/** Active entitlements of a user, newest first. */
export async function activeEntitlements(db: Knex, userId: string): Promise<{ listing_id: string; granted_at: number | string }[]> {
  return db(T).select('listing_id', 'granted_at').where({ user_id: userId, status: 'active' }).orderBy('granted_at', 'desc');
}

export async function activeSubscriptionExists(db: Knex, userId: string, listingId: string): Promise<boolean> {
  const row = await db(T).select('id').where({ user_id: userId, listing_id: listingId }).whereIn('status', ['active', 'pending'])
    .whereNotNull('stripe_subscription_id').first();
  return row !== undefined;
}

/**
 * Applies a subscription snapshot only when its ordering key is not older than the one last
 * applied, never after a terminal state or a refund. One conditional UPDATE: racing deliveries
 * of different events for one subscription cannot interleave a stale write.
 */
export async function applySubscriptionState(
  db: Knex, subscriptionId: string,
  s: { status: BillingEntitlementRow['status']; subscriptionStatus: string; orderKey: number; customerId: string | null; now: number },
): Promise<number> {
  return db(T)
    .where({ stripe_subscription_id: subscriptionId })
    .andWhere((q) => q.whereNull('updated_from_event_at').orWhere('updated_from_event_at', '<=', s.orderKey))
    .andWhere((q) => q.whereNull('subscription_status').orWhereNotIn('subscription_status', TERMINAL_SUBSCRIPTION_STATES))
    .andWhere((q) => q.whereNull('revoked_reason').orWhereNot('revoked_reason', 'refunded'))
    .update({
      status: s.status,
      subscription_status: s.subscriptionStatus,
      updated_from_event_at: s.orderKey,
      ...(s.customerId ? { stripe_customer_id: s.customerId } : {}),
      ...(s.status === 'revoked' ? { revoked_at: s.now, revoked_reason: 'subscription_ended', quota_remaining: 0 } : { revoked_at: null, revoked_reason: null }),
    });
}

/**
 * A paid invoice opens the period it covers: quota back to the full allowance. Only a period
 * that starts after the current one applies, so a replayed or late older invoice changes nothing.
 */
export async function renewSubscriptionPeriod(
  db: Knex, subscriptionId: string, period: { start: number; end: number }, paymentIntentId: string | null,
): Promise<number> {
  return db(T)
    .where({ stripe_subscription_id: subscriptionId })
    .whereIn('status', ['active', 'pending'])
    .andWhere((q) => q.whereNull('period_start').orWhere('period_start', '<', period.start))
    .update({
      status: 'active',
      quota_remaining: db.raw('??', ['quota_units']),
      period_start: period.start,
      period_end: period.end,
      ...(paymentIntentId ? { stripe_payment_intent_id: paymentIntentId } : {}),
    });
}

/** Entitlements currently giving access that match a Stripe key (to audit what a revocation ends). */
export async function activeEntitlementsWhere(
  db: Knex, where: Partial<Pick<BillingEntitlementRow, 'stripe_payment_intent_id' | 'stripe_checkout_session_id'>>,
): Promise<BillingEntitlementRow[]> {
  // Locked: two deliveries revoking the same grant must not both see it active (one audit event).
  return db(T).where(where).andWhere('status', 'active').forUpdate();
}

export async function revokeWhere(
  db: Knex, where: Partial<Pick<BillingEntitlementRow, 'stripe_payment_intent_id' | 'stripe_checkout_session_id'>>, reason: string, now: number,
): Promise<number> {
  return db(T).where(where).whereNot('status', 'revoked')
    .update({ status: 'revoked', revoked_at: now, revoked_reason: reason, quota_remaining: 0 });
}

/** A refund, even of an already revoked grant, wins over a later state change. */
export async function markRefunded(db: Knex, paymentIntentId: string, now: number): Promise<number> {
  return db(T).where({ stripe_payment_intent_id: paymentIntentId })
    .update({ status: 'revoked', revoked_at: db.raw('coalesce(revoked_at, ?)', [now]), revoked_reason: 'refunded', quota_remaining: 0 });
}

export async function recordRefund(db: Knex, row: { payment_intent_id: string; charge_id: string; refunded_at: number }): Promise<void> {
  await db('billing_refunds').insert(row).onConflict('payment_intent_id').ignore();
}

export async function isRefunded(db: Knex, paymentIntentId: string): Promise<boolean> {
  return (await db('billing_refunds').select('payment_intent_id').where({ payment_intent_id: paymentIntentId }).first()) !== undefined;
}

export async function findBillingCustomer(db: Knex, userId: string): Promise<string | undefined> {
  const row = await db('billing_customers').select('stripe_customer_id').where({ user_id: userId }).first();
  return row?.stripe_customer_id;
}

/** The first customer Stripe created for a user stays theirs (later ones are not recorded). */
export async function rememberBillingCustomer(db: Knex, userId: string, customerId: string, now: number): Promise<void> {
  await db('billing_customers').insert({ user_id: userId, stripe_customer_id: customerId, created_at: now }).onConflict().ignore();
}
