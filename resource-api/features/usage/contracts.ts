import { z } from 'zod';
import { defineRoute, errorCodes, type RouteContract } from '../../http/contract.js';
import { canonicalUuid } from '../../http/fields.js';
import { BillingErrors } from '../billing/index.js';
import { usageAudit } from './audit.js';
import { UsageErrors } from './errors.js';
import type { UsageService } from './service.js';

const TAG = 'usage';
// The idempotency key is compared in canonical form only: upper-case must not be a second key.
const ReportBody = z.strictObject({ clientReqId: canonicalUuid(), listingId: canonicalUuid(), units: z.number().int().min(1).max(1_000_000) });
const UsageResult = z.object({
  id: z.uuid(),
  clientReqId: z.uuid(),
  listingId: z.uuid(),
  units: z.number().int(),
  entitlementId: z.string(),
  remaining: z.number().int(),
  periodEnd: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
  replayed: z.boolean(),
});
const Quota = z.object({
  entitlementId: z.string(),
  listingId: z.uuid(),
  status: z.enum(['active', 'pending']),
  kind: z.enum(['subscription', 'one_time', 'manual']),
  quota: z.object({ units: z.number().int(), period: z.enum(['month', 'year', 'once']).nullable(), remaining: z.number().int(), used: z.number().int() }),
  periodStart: z.iso.datetime().nullable(),
  periodEnd: z.iso.datetime().nullable(),
});

/** /v1/usage: report usage against a quota (idempotent per clientReqId) and read what is left. */
export function usageRoutes(usage: UsageService): RouteContract[] {
  return [
    defineRoute({
      method: 'post', path: '/v1/usage', operationId: 'reportUsage', tag: TAG, access: { permission: { usage: ['report'] } },
      summary: 'Consume quota; a repeated clientReqId replays the first answer',
      body: ReportBody, response: UsageResult, status: 201, errors: [400, 401, 402, 403, 409, 413, 415, 503],
      errorCodes: [...errorCodes(BillingErrors, 'NOT_ENTITLED'), ...errorCodes(UsageErrors, 'QUOTA_EXCEEDED', 'IDEMPOTENCY_KEY_REUSED')],
      audit: { refused: usageAudit },
      handler: async (_ctx, { body, principal }) => usage.report(principal!.userId, body),
    }),
    defineRoute({
      method: 'get', path: '/v1/usage', operationId: 'listQuotas', tag: TAG, access: { permission: { usage: ['read'] } },
      summary: 'Remaining quota per entitlement and period',
      query: z.strictObject({ listingId: canonicalUuid().optional() }), response: z.object({ items: z.array(Quota) }), status: 200, errors: [400, 401, 403, 503],
      handler: async (_ctx, { query, principal }) => ({ items: await usage.quotas(principal!.userId, query.listingId) }),
    }),
  ];
}
