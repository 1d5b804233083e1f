/**
 * Error codes of checkout, the customer portal, entitlements and the Stripe webhook. A listing
 * that cannot be bought because it is not published answers the listings' LISTING_NOT_FOUND.
 */
export const BillingErrors = {
  BILLING_NOT_CONFIGURED: { status: 503, message: 'Billing is not configured on this server.', expose: true, expected: true },
  STRIPE_UNAVAILABLE: { status: 502, message: 'The payment provider did not answer. Try again later.', expose: true },
  INVALID_RETURN_URL: { status: 422, message: 'returnUrl is not an allowed return address.' },
  LISTING_NOT_PURCHASABLE: { status: 409, message: 'This listing cannot be bought through checkout.' },
  ALREADY_SUBSCRIBED: { status: 409, message: 'You already have an active subscription to this listing.' },
  NO_BILLING_ACCOUNT: { status: 404, message: 'You have no billing account yet: buy something first.' },
  NOT_ENTITLED: { status: 403, message: 'You have no active entitlement to this listing.' },
  WEBHOOK_SIGNATURE_INVALID: { status: 400, message: 'The Stripe-Signature header is missing or does not verify.' },
} as const;
