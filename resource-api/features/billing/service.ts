import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type Stripe from 'stripe';
import { appError } from '#shared/errors/index.js';
import type { Principal } from '../../auth/principal.js';
import { findListing, ListingErrors } from '../listings/index.js';
import { BillingErrors } from './errors.js';
import { activeSubscriptionExists, findBillingCustomer } from './queries.js';
import { validateReturnUrl, type ReturnUrlPolicy } from './return-url.js';

export interface CheckoutDeps {
  db: Knex;
  /** Undefined when STRIPE_SECRET_KEY is unset: every call answers 503 BILLING_NOT_CONFIGURED. */
  stripe: Stripe | undefined;
  returnUrls: ReturnUrlPolicy;
  now?: () => number;
}

/** Repeated clicks within this window (without a clientReqId) get the same Checkout Session. */
const IDEMPOTENCY_WINDOW_MS = 10 * 60_000;

/** `url` plus query parameters, the fragment kept last. `{CHECKOUT_SESSION_ID}` must stay unencoded for Stripe. */
export function withQuery(url: URL, query: string): string {
  const u = new URL(url.href);
  const hash = u.hash;
  u.hash = '';
  const sep = u.search ? '&' : u.href.endsWith('?') ? '' : '?';
  return `${u.href}${sep}${query}${hash}`;
}

function idempotencyKey(parts: (string | number | null)[]): string {
  return `checkout_${createHash('sha256').update(parts.map(String).join('\n')).digest('hex').slice(0, 48)}`;
}

async function callStripe<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw appError(BillingErrors, 'STRIPE_UNAVAILABLE', { cause: err });
  }
}

/** Stripe Checkout (card data never touches us: PCI scope stays with Stripe) and the customer portal. */
export function createCheckoutService(deps: CheckoutDeps) {
  const { db } = deps;
  const now = deps.now ?? Date.now;

  function requireStripe(): Stripe {
    if (!deps.stripe) throw appError(BillingErrors, 'BILLING_NOT_CONFIGURED');
    return deps.stripe;
  }

  function returnUrl(input: string): URL {
    const verdict = validateReturnUrl(input, deps.returnUrls);
    if (!verdict.ok) throw appError(BillingErrors, 'INVALID_RETURN_URL', { data: { reason: verdict.reason } });
    return verdict.url;
  }

  return {
    async createSession(p: Principal, input: { listingId: string; returnUrl: string; clientReqId?: string }): Promise<{ id: string; url: string }> {
      const stripe = requireStripe();
      const back = returnUrl(input.returnUrl);
      const listing = await findListing(db, input.listingId);
      if (!listing || listing.id !== input.listingId || listing.status !== 'published') throw appError(ListingErrors, 'LISTING_NOT_FOUND');
      if (Number(listing.amount_minor) <= 0) throw appError(BillingErrors, 'LISTING_NOT_PURCHASABLE');
      const recurring = listing.price_type === 'recurring';
      if (recurring && (await activeSubscriptionExists(db, p.userId, listing.id))) throw appError(BillingErrors, 'ALREADY_SUBSCRIBED');
      const customer = await findBillingCustomer(db, p.userId);
      const metadata = { user_id: p.userId, listing_id: listing.id };
      const successUrl = withQuery(back, 'checkout=success&session_id={CHECKOUT_SESSION_ID}');
      const params: Stripe.Checkout.SessionCreateParams = {
        mode: recurring ? 'subscription' : 'payment',
        client_reference_id: p.userId,
        metadata,
        line_items: [{
          quantity: 1,
          price_data: {
            currency: listing.currency.toLowerCase(),
            unit_amount: Number(listing.amount_minor),
            product_data: { name: listing.title, metadata: { listing_id: listing.id } },
            ...(recurring ? { recurring: { interval: listing.price_interval ?? 'month' } } : {}),
          },
        }],
        success_url: successUrl,
        cancel_url: withQuery(back, 'checkout=cancel'),
        ...(customer ? { customer } : { customer_email: p.email }),
        // The metadata travels to the objects later webhooks are about, so each can be attributed.
        ...(recurring ? { subscription_data: { metadata } } : { payment_intent_data: { metadata }, ...(customer ? {} : { customer_creation: 'always' as const }) }),
      };
      const key = idempotencyKey([p.userId, listing.id, listing.price_type, listing.currency, Number(listing.amount_minor), listing.price_interval, successUrl, customer ?? null,
        input.clientReqId ?? Math.floor(now() / IDEMPOTENCY_WINDOW_MS)]);
      const session = await callStripe(() => stripe.checkout.sessions.create(params, { idempotencyKey: key }));
      if (!session.url) throw appError(BillingErrors, 'STRIPE_UNAVAILABLE');
      return { id: session.id, url: session.url };
    },

    async createPortalSession(p: Principal, input: { returnUrl: string }): Promise<{ url: string }> {
      const stripe = requireStripe();
      const back = returnUrl(input.returnUrl);
      const customer = await findBillingCustomer(db, p.userId);
      if (!customer) throw appError(BillingErrors, 'NO_BILLING_ACCOUNT');
      const session = await callStripe(() => stripe.billingPortal.sessions.create({ customer, return_url: back.href }));
      return { url: session.url };
    },
  };
}

export type CheckoutService = ReturnType<typeof createCheckoutService>;
