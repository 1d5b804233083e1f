import type { Knex } from 'knex';
import type Stripe from 'stripe';
import { withTransaction } from '#shared/db/index.js';
import type { Logger } from '#shared/logging/logger.js';
import type { Audit } from '#shared/audit/index.js';
import type { ChangeBus } from '#shared/bus/index.js';
import { stripeEventHandlers, type StripeEventHandler } from '../stripe-events/index.js';
import type { EntitlementChange } from '../stripe-events/types.js';
import { recordEntitlementChange } from './audit.js';
import { claimEvent, recordFailure } from './queries.js';

export type EventOutcome = 'processed' | 'ignored' | 'duplicate';

export interface StripeWebhookDeps {
  db: Knex;
  logger: Logger;
  /** Defaults to stripeEventHandlers; tests wrap them to inject failures. */
  handlers?: Readonly<Record<string, StripeEventHandler>>;
  now?: () => number;
  /** entitlement.granted / entitlement.revoked, recorded once the event's transaction commits. */
  audit?: Pick<Audit, 'record'>;
  /** The change bus: every API replica drops its cached entitlements of the users an event changed. */
  bus?: Pick<ChangeBus, 'publish'>;
}

/**
 * Processes one verified event exactly once: its stripe_events row and the handler's effects
 * commit together or not at all. A repeat of a processed id changes nothing. A failure rolls
 * everything back, marks the id `failed` (so the retry is taken over) and propagates: the
 * route answers 5xx and Stripe delivers again.
 */
export function createStripeWebhookService(deps: StripeWebhookDeps) {
  const handlers = deps.handlers ?? stripeEventHandlers;
  const now = deps.now ?? Date.now;

  return {
    async process(event: Stripe.Event): Promise<EventOutcome> {
      const handler = handlers[event.type];
      const at = now();
      const objectId = (event.data?.object as { id?: unknown } | undefined)?.id;
      const row = { id: event.id, type: event.type, object_id: typeof objectId === 'string' ? objectId : null, event_created_at: event.created * 1000, received_at: at };
      let changes: EntitlementChange[] = [];
      try {
        const outcome = await withTransaction(deps.db, async (trx): Promise<EventOutcome> => {
          changes = []; // a retried transaction starts over
          const claimed = await claimEvent(trx, { ...row, status: handler ? 'processed' : 'ignored', processed_at: at });
          if (!claimed) return 'duplicate';
          if (!handler) return 'ignored';
          await handler(trx, event, { now: at, changed: (c) => void changes.push(c) });
          return 'processed';
        });
        if (deps.audit) for (const c of changes) recordEntitlementChange(deps.audit, c, event.id);
        for (const userId of new Set(changes.map((c) => c.userId))) await deps.bus?.publish({ type: 'entitlements.changed', userId });
        return outcome;
      } catch (err) {
        try {
          await recordFailure(deps.db, row, now());
        } catch (recordErr) {
          deps.logger.warn({ eventId: event.id, type: event.type, err: { message: (recordErr as Error).message } }, 'could not mark stripe event failed');
        }
        throw err;
      }
    },
  };
}

export type StripeWebhookService = ReturnType<typeof createStripeWebhookService>;
