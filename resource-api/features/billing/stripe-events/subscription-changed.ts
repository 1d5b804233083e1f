import type Stripe from 'stripe';
import { applySubscriptionState } from '../queries.js';
import { ensureSubscriptionEntitlement, entitlementStatusFor, orderKey, trackAccess } from './subscription-entitlement.js';
import { idOf, type StripeEventHandler } from './types.js';

/**
 * customer.subscription.created / updated / deleted: the entitlement follows the subscription's
 * status. Applied only when not older than the state already applied (see orderKey); a
 * canceled subscription is final, so a late `updated` can never bring it back.
 */
export const subscriptionChanged: StripeEventHandler = async (trx, event, ctx) => {
  const { now } = ctx;
  const sub = event.data.object as Stripe.Subscription;
  const customerId = idOf(sub.customer);
  await trackAccess(trx, sub.id, ctx, 'subscription', async () => {
    const ours = await ensureSubscriptionEntitlement(trx, { subscriptionId: sub.id, userId: sub.metadata?.user_id, listingId: sub.metadata?.listing_id, customerId }, now);
    if (!ours) return;
    const status = event.type === 'customer.subscription.deleted' ? 'canceled' : sub.status;
    await applySubscriptionState(trx, sub.id, { status: entitlementStatusFor(status), subscriptionStatus: status, orderKey: orderKey(event.created, status), customerId, now });
  });
};
