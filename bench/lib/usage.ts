import { randomUUID } from 'node:crypto';
import type { Stack } from './stack.js';

/**
 * The usage case's workload, shared by bench/run.ts and bench/usage-ab.ts: ten one-time purchases
 * with a large quota (as checkout.session.completed grants them), and a generator of reports, each
 * with a fresh clientReqId, the ten listings in turn.
 */
export async function usageWorkload(stack: Stack) {
  const grantedAt = Date.now();
  await stack.db('entitlements').insert(stack.quotaListingIds.map((listingId) => ({
    id: randomUUID(), user_id: stack.userId, listing_id: listingId, status: 'active', granted_at: grantedAt, stripe_checkout_session_id: `cs_usage_${randomUUID()}`,
    quota_units: 1_000_000_000, quota_period: 'once', quota_remaining: 1_000_000_000, period_start: grantedAt, period_end: null,
  })));
  let q = 0;
  return (extra: Record<string, string> = {}) => () => ({ body: JSON.stringify({ ...extra, clientReqId: randomUUID(), listingId: stack.quotaListingIds[q++ % stack.quotaListingIds.length], units: 1 }) });
}
