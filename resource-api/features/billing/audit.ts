import type { AuditFacts } from '../../middleware/koa-audit.js';

/** What reaches the audit trail from checkout and the customer portal. */
export const checkoutAudit = {
  created: (listingId: string): AuditFacts => ({ event: 'checkout.created', properties: { listingId } }),
  // The address itself is not recorded: it is whatever the caller sent.
  returnUrlRejected: { INVALID_RETURN_URL: (): AuditFacts => ({ event: 'return_url.rejected', properties: { reason: 'not_allowed' } }) },
};
