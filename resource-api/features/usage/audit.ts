import type { AuditFacts } from '../../middleware/koa-audit.js';

/** The refusals of a usage report that reach the audit trail: a quota used up, a clientReqId sent again with other parameters. */
export const usageAudit = {
  QUOTA_EXCEEDED: ({ body }: { body: { listingId: string } }): AuditFacts => ({ event: 'quota.exceeded', properties: { listingId: body.listingId } }),
  IDEMPOTENCY_KEY_REUSED: (): AuditFacts => ({ event: 'client_req_id.conflicted', properties: { route: '/v1/usage' } }),
};
