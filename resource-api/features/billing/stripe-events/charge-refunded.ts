import type Stripe from 'stripe';
import { activeEntitlementsWhere, markRefunded, recordRefund } from '../queries.js';
import { revoked } from './subscription-entitlement.js';
import { idOf, type StripeEventHandler } from './types.js';

/**
 * charge.refunded: a full refund revokes what the payment bought, for good. The refund is kept
 * by payment intent so a purchase or invoice event delivered after it grants nothing.
 * A partial refund (`refunded` false) leaves the entitlement alone.
 */
export const chargeRefunded: StripeEventHandler = async (trx, event, { now, changed }) => {
  const charge = event.data.object as Stripe.Charge;
  const paymentIntentId = idOf(charge.payment_intent);
  if (!charge.refunded || !paymentIntentId) return;
  await recordRefund(trx, { payment_intent_id: paymentIntentId, charge_id: charge.id, refunded_at: now });
  const active = await activeEntitlementsWhere(trx, { stripe_payment_intent_id: paymentIntentId });
  await markRefunded(trx, paymentIntentId, now);
  for (const row of active) changed(revoked(row, 'refunded'));
};
