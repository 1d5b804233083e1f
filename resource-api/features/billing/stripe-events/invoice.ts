import type Stripe from 'stripe';
import { applySubscriptionState, isRefunded, markRefunded, renewSubscriptionPeriod } from '../queries.js';
import { ensureSubscriptionEntitlement, orderKey, trackAccess } from './subscription-entitlement.js';
import { idOf, type StripeEventHandler } from './types.js';

/**
 * invoice.paid: the subscription is active and the period the invoice bills (its line's period,
 * not the invoice's own period_start/end, which cover the previous one) gets the full quota.
 * Renewal is conditional on the period being newer than the current one: idempotent and
 * order-safe. One-off invoices (no subscription) are not ours to act on.
 */
export const invoicePaid: StripeEventHandler = async (trx, event, ctx) => {
  const { now } = ctx;
  const invoice = event.data.object as Stripe.Invoice;
  const details = invoice.parent?.subscription_details;
  const subscriptionId = idOf(details?.subscription);
  if (!subscriptionId) return;
  const customerId = idOf(invoice.customer);
  await trackAccess(trx, subscriptionId, ctx, 'invoice', async () => {
    const ours = await ensureSubscriptionEntitlement(trx, { subscriptionId, userId: details?.metadata?.user_id, listingId: details?.metadata?.listing_id, customerId }, now);
    if (!ours) return;
    await applySubscriptionState(trx, subscriptionId, { status: 'active', subscriptionStatus: 'active', orderKey: orderKey(event.created, 'active'), customerId, now });
    const period = invoice.lines?.data?.[0]?.period ?? { start: invoice.period_start, end: invoice.period_end };
    const payment = invoice.payments?.data?.find((p) => p.payment?.payment_intent)?.payment.payment_intent;
    const paymentIntentId = idOf(payment);
    await renewSubscriptionPeriod(trx, subscriptionId, { start: period.start * 1000, end: period.end * 1000 }, paymentIntentId);
    // The refund of this very payment may have been delivered first.
    if (paymentIntentId && (await isRefunded(trx, paymentIntentId))) await markRefunded(trx, paymentIntentId, now);
  });
};

/**
 * invoice.payment_failed: deliberately no change. The quota is simply not renewed; Stripe's
 * retries and the subscription's status (past_due → unpaid/canceled, via subscription events)
 * decide about access. Recorded in stripe_events like every event.
 */
export const invoicePaymentFailed: StripeEventHandler = async () => {};
