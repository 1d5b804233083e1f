import { chargeRefunded } from './charge-refunded.js';
import { failedCheckout, grantFromCheckout } from './checkout-session.js';
import { invoicePaid, invoicePaymentFailed } from './invoice.js';
import { subscriptionChanged } from './subscription-changed.js';
import type { StripeEventHandler } from './types.js';

export type { StripeEventHandler } from './types.js';

/** The event types we act on. Anything else is acknowledged and recorded as `ignored`. */
export const stripeEventHandlers: Readonly<Record<string, StripeEventHandler>> = {
  'checkout.session.completed': grantFromCheckout,
  'checkout.session.async_payment_succeeded': grantFromCheckout,
  'checkout.session.async_payment_failed': failedCheckout,
  'customer.subscription.created': subscriptionChanged,
  'customer.subscription.updated': subscriptionChanged,
  'customer.subscription.deleted': subscriptionChanged,
  'invoice.paid': invoicePaid,
  'invoice.payment_failed': invoicePaymentFailed,
  'charge.refunded': chargeRefunded,
};
