import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import { findListing } from '../../listings/index.js';
import { activeEntitlementsWhere, findUserById, insertEntitlementOnce, isRefunded, rememberBillingCustomer, revokeWhere } from '../queries.js';
import { firstPeriod } from '../periods.js';
import { ensureSubscriptionEntitlement, revoked } from './subscription-entitlement.js';
import { idOf, type StripeEventHandler } from './types.js';

/**
 * checkout.session.completed and checkout.session.async_payment_succeeded. A paid one-time
 * purchase grants one entitlement per Checkout Session (its id is a unique key, so both events
 * and every redelivery grant once). A subscription only gets its row here: the paid invoice
 * opens the quota period. An unpaid session (delayed payment method) waits for the async event.
 */
export const grantFromCheckout: StripeEventHandler = async (trx, event, { now, changed }) => {
  const session = event.data.object as Stripe.Checkout.Session;
  const userId = session.metadata?.user_id ?? session.client_reference_id;
  const listingId = session.metadata?.listing_id;
  if (!userId || !listingId) return; // not created by our checkout route
  const customerId = idOf(session.customer);
  if (session.mode === 'subscription') {
    const subscriptionId = idOf(session.subscription);
    if (subscriptionId) await ensureSubscriptionEntitlement(trx, { subscriptionId, userId, listingId, customerId }, now);
    return;
  }
  if (session.payment_status !== 'paid') return;
  const listing = await findListing(trx, listingId);
  if (!listing || listing.id !== listingId || !(await findUserById(trx, userId))) return;
  if (customerId) await rememberBillingCustomer(trx, userId, customerId, now);
  const paymentIntentId = idOf(session.payment_intent);
  if (paymentIntentId && (await isRefunded(trx, paymentIntentId))) return; // refunded before we heard of the purchase
  const period = firstPeriod(now, listing.quota_period);
  const id = randomUUID();
  const inserted = await insertEntitlementOnce(trx, {
    id, user_id: userId, listing_id: listing.id, status: 'active', granted_at: now,
    quota_units: Number(listing.quota_units), quota_period: listing.quota_period, quota_remaining: Number(listing.quota_units),
    period_start: period.start, period_end: period.end,
    stripe_customer_id: customerId, stripe_checkout_session_id: session.id, stripe_payment_intent_id: paymentIntentId,
  }, 'stripe_checkout_session_id');
  if (inserted) changed({ kind: 'granted', userId, listingId: listing.id, entitlementId: id, plan: 'one_time', why: 'checkout' });
};

/** checkout.session.async_payment_failed: nothing was granted; anything granted for it is revoked. */
export const failedCheckout: StripeEventHandler = async (trx, event, { now, changed }) => {
  const session = event.data.object as Stripe.Checkout.Session;
  const active = await activeEntitlementsWhere(trx, { stripe_checkout_session_id: session.id });
  await revokeWhere(trx, { stripe_checkout_session_id: session.id }, 'payment_failed', now);
  for (const row of active) changed(revoked(row, 'payment_failed'));
};
