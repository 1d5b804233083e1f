import type { Audit } from '#shared/audit/index.js';
import type { AnswerAuditRule } from '../../../middleware/koa-audit.js';
import type { EntitlementChange } from '../stripe-events/types.js';

/**
 * webhook.* of a delivery, from the route's answer: a refused signature (400) is `denied`, an
 * event not stored (5xx: Stripe delivers it again) a `failure`, a stored or repeated event (200)
 * `webhook.received`. A body over the limit (413) records nothing. Applying the event is the
 * worker's, audited by `recordAttempt`.
 */
export const webhookOutcome: AnswerAuditRule = ({ status, code }) => {
  if (status === 400) return { event: 'webhook.rejected', outcome: 'denied', properties: { provider: 'stripe', reason: code } };
  if (status >= 500) return { event: 'webhook.failed', outcome: 'failure', properties: { provider: 'stripe', errorCode: code } };
  if (status === 200) return { event: 'webhook.received', outcome: 'success', properties: { provider: 'stripe' } };
  return undefined;
};

/**
 * One attempt of the worker at a stored event: `webhook.processed` once it is applied,
 * `webhook.failed` for a failure that will be retried, `webhook.dead_lettered` for the last one.
 */
export function recordAttempt(
  audit: Pick<Audit, 'record'>, event: { id: string; type: string },
  a: { result: 'processed' } & { durationMs: number } | { result: 'retry' | 'dead'; errorCode: string; attempts: number },
): void {
  const properties = { provider: 'stripe', eventType: event.type, eventId: event.id };
  const subject = { type: 'stripe_event', id: event.id };
  if (a.result === 'processed') audit.record('webhook.processed', { outcome: 'success', subject, properties: { ...properties, durationMs: a.durationMs } });
  else if (a.result === 'retry') audit.record('webhook.failed', { outcome: 'failure', subject, properties: { ...properties, errorCode: a.errorCode, attempts: a.attempts } });
  else audit.record('webhook.dead_lettered', { outcome: 'failure', subject, properties: { ...properties, errorCode: a.errorCode, attempts: a.attempts } });
}

/** entitlement.granted / entitlement.revoked: the entitled user is the actor, the Stripe event the cause. */
export function recordEntitlementChange(audit: Pick<Audit, 'record'>, c: EntitlementChange, eventId: string): void {
  const why = c.kind === 'granted' ? { source: c.why } : { reason: c.why };
  audit.record(`entitlement.${c.kind}`, {
    outcome: 'success',
    actor: { userId: c.userId },
    subject: { type: 'entitlement', id: c.entitlementId },
    properties: { listingId: c.listingId, plan: c.plan, eventId, ...why },
  });
}
