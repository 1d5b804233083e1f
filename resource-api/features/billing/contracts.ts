import { z } from 'zod';
import { defineRoute, errorCodes, type RouteContract } from '../../http/contract.js';
import { canonicalUuid } from '../../http/fields.js';
import { ListingErrors } from '../listings/index.js';
import { checkoutAudit } from './audit.js';
import { BillingErrors } from './errors.js';
import type { CheckoutService } from './service.js';

const TAG = 'billing';
// A plain string: the allow-list check (422 INVALID_RETURN_URL) is the one judge of URLs.
const ReturnUrl = z.string().min(1).max(2048);
// clientReqId becomes Stripe's idempotency key: one canonical spelling per key.
const SessionBody = z.strictObject({ listingId: canonicalUuid(), returnUrl: ReturnUrl, clientReqId: canonicalUuid().optional() });
const PortalBody = z.strictObject({ returnUrl: ReturnUrl });

/** /v1/checkout: Stripe-hosted payment pages and the customer portal. */
export function checkoutRoutes(checkout: CheckoutService): RouteContract[] {
  return [
    defineRoute({
      method: 'post', path: '/v1/checkout/sessions', operationId: 'createCheckoutSession', tag: TAG, access: { permission: { checkout: ['create'] } },
      summary: 'Start a Stripe Checkout for a listing; answers the Checkout URL to send the user to',
      body: SessionBody, response: z.object({ id: z.string(), url: z.url() }), status: 201,
      errors: [400, 401, 403, 404, 409, 413, 415, 422, 502, 503],
      errorCodes: [
        ...errorCodes(BillingErrors, 'BILLING_NOT_CONFIGURED', 'INVALID_RETURN_URL', 'LISTING_NOT_PURCHASABLE', 'ALREADY_SUBSCRIBED', 'STRIPE_UNAVAILABLE'),
        ...errorCodes(ListingErrors, 'LISTING_NOT_FOUND'),
      ],
      audit: { success: ({ body }) => checkoutAudit.created(body.listingId), refused: checkoutAudit.returnUrlRejected },
      handler: async (_ctx, { body, principal }) => checkout.createSession(principal!, body),
    }),
    defineRoute({
      method: 'post', path: '/v1/checkout/portal-sessions', operationId: 'createPortalSession', tag: TAG, access: { permission: { checkout: ['create'] } },
      summary: 'Open the Stripe customer portal (manage or cancel subscriptions)',
      body: PortalBody, response: z.object({ url: z.url() }), status: 201,
      errors: [400, 401, 403, 404, 413, 415, 422, 502, 503],
      errorCodes: errorCodes(BillingErrors, 'BILLING_NOT_CONFIGURED', 'INVALID_RETURN_URL', 'NO_BILLING_ACCOUNT', 'STRIPE_UNAVAILABLE'),
      audit: { refused: checkoutAudit.returnUrlRejected },
      handler: async (_ctx, { body, principal }) => checkout.createPortalSession(principal!, body),
    }),
  ];
}
