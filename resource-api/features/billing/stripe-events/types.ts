import type { Knex } from 'knex';
import type Stripe from 'stripe';

/** An entitlement that started or stopped giving access, for the audit trail (recorded after commit). */
export interface EntitlementChange {
  kind: 'granted' | 'revoked';
  userId: string;
  listingId: string;
  entitlementId: string;
  /** `one_time` or `subscription`. */
  plan: 'one_time' | 'subscription';
  /** granted: what opened it (`checkout`, `invoice`, `subscription`); revoked: revoked_reason. */
  why: string;
}

export interface StripeEventContext {
  now: number;
  /** Reports an access change; the webhook service audits it only if the transaction commits. */
  changed(change: EntitlementChange): void;
}

/** One event type's effect, run inside the transaction that records the event in stripe_events. */
export type StripeEventHandler = (trx: Knex, event: Stripe.Event, ctx: StripeEventContext) => Promise<void>;

/** Stripe expands some references into objects; handlers only ever need the id. */
export function idOf(ref: string | { id: string } | null | undefined): string | null {
  if (!ref) return null;
  return typeof ref === 'string' ? ref : ref.id;
}
