import type { AuditFacts } from '../../middleware/koa-audit.js';

/** What reaches the audit trail from listings: a publication and an administrator's suspension. */
export const listingAudit = {
  published: (id: string): AuditFacts => ({ event: 'listing.published', subject: { type: 'listing', id }, properties: { status: 'published' } }),
  suspended: (id: string): AuditFacts => ({ event: 'listing.suspended', subject: { type: 'listing', id }, properties: { reason: 'admin' } }),
};
