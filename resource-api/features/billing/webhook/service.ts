import type { Knex } from 'knex';
import type Stripe from 'stripe';
import { stripeEventHandlers, type StripeEventHandler } from '../stripe-events/index.js';
import { idOf } from '../stripe-events/types.js';
import { storeEvent } from './queries.js';

/** What a delivery's answer says: stored to be applied, stored as ignored, or already stored. */
export type DeliveryOutcome = 'queued' | 'ignored' | 'duplicate';

export interface StripeWebhookDeps {
  db: Knex;
  /** The event types that have a handler (the others are stored as `ignored`); defaults to stripeEventHandlers. */
  handlers?: Readonly<Record<string, StripeEventHandler>>;
  now?: () => number;
  /** Called once an event to apply is stored: wakes this process's worker. */
  stored?: () => void;
}

/**
 * The Stripe customer an event is about: its ordering key (the worker applies one customer's
 * events oldest first). A customer object is its own; other objects name theirs in `customer`.
 */
export function customerOf(object: { id?: unknown; object?: unknown; customer?: unknown } | undefined): string | null {
  if (!object) return null;
  if (object.object === 'customer' && typeof object.id === 'string') return object.id;
  const c = object.customer;
  return typeof c === 'string' || (typeof c === 'object' && c !== null && typeof (c as { id?: unknown }).id === 'string') ? idOf(c as string | { id: string }) : null;
}

/**
 * Receives a verified event: stored once per event id (a redelivery is a `duplicate`), with its
 * payload when there is something to apply. Nothing is applied here: the worker does that
 * (worker.ts), so the answer to Stripe waits for one INSERT only. A storage failure propagates
 * (503 when the database is unavailable): Stripe delivers again.
 */
export function createStripeWebhookService(deps: StripeWebhookDeps) {
  const handlers = deps.handlers ?? stripeEventHandlers;
  const now = deps.now ?? Date.now;
  return {
    async receive(event: Stripe.Event, payload: Buffer): Promise<DeliveryOutcome> {
      const handled = Object.hasOwn(handlers, event.type);
      const object = event.data?.object as { id?: unknown; object?: unknown; customer?: unknown } | undefined;
      const stored = await storeEvent(deps.db, {
        id: event.id, type: event.type, object_id: typeof object?.id === 'string' ? object.id : null, customer_id: customerOf(object),
        status: handled ? 'pending' : 'ignored', payload: handled ? payload.toString('utf8') : null,
        event_created_at: event.created * 1000, received_at: now(),
      });
      if (!stored) return 'duplicate';
      if (handled) deps.stored?.();
      return handled ? 'queued' : 'ignored';
    },
  };
}

export type StripeWebhookService = ReturnType<typeof createStripeWebhookService>;
