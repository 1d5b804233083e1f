import type { Audit } from '#shared/audit/index.js';
import type { AnswerAuditRule } from '../../../middleware/koa-audit.js';
import type { EntitlementChange } from '../stripe-events/types.js';

/**
 * webhook.*: every delivery's outcome, from the answer. A refused signature (400) is `denied`, a
 * processing failure Stripe will retry (5xx) a `failure`, a done event (200) a `success`; a body
 * over the limit (413) records nothing.
 */
export const webhookOutcome: AnswerAuditRule = ({ status, code }) => {
  if (status === 400) return { event: 'webhook.rejected', outcome: 'denied', properties: { provider: 'stripe', reason: code } };
  if (status >= 500) return { event: 'webhook.failed', outcome: 'failure', properties: { provider: 'stripe', errorCode: code } };
  if (status === 200) return { event: 'webhook.processed', outcome: 'success', properties: { provider: 'stripe' } };
  return undefined;
};

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
