import type { Knex } from 'knex';
import type Stripe from 'stripe';

/** One event type's effect, run inside the transaction that records the event in stripe_events. */
export type StripeEventHandler = (trx: Knex, event: Stripe.Event, ctx: { now: number }) => Promise<void>;

/** Stripe expands some references into objects; handlers only ever need the id. */
export function idOf(ref: string | { id: string } | null | undefined): string | null {
  if (!ref) return null;
  return typeof ref === 'string' ? ref : ref.id;
}
