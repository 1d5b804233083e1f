import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { appError } from '#shared/errors/index.js';
import { withTransaction } from '#shared/db/index.js';
import { BillingErrors, periodContaining, type BillingEntitlementRow } from '../billing/index.js';
import { listingExists } from '../listings/index.js';
import { UsageErrors } from './errors.js';
import { claimUsage, consumeQuota, entitlementsOf, findUsage, rollOverPeriod, storeUsageResult, usableEntitlements } from './queries.js';

export interface UsageReport {
  clientReqId: string;
  listingId: string;
  units: number;
}

export interface UsageResult {
  id: string;
  clientReqId: string;
  listingId: string;
  units: number;
  entitlementId: string;
  remaining: number;
  periodEnd: string | null;
  createdAt: string;
  replayed: boolean;
}

export interface QuotaView {
  entitlementId: string;
  listingId: string;
  status: 'active' | 'pending';
  kind: 'subscription' | 'one_time' | 'manual';
  quota: { units: number; period: 'month' | 'year' | 'once' | null; remaining: number; used: number };
  periodStart: string | null;
  periodEnd: string | null;
}

const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

/** A one-time purchase with a monthly or yearly quota whose period has ended: the period now due. */
function duePeriod(e: BillingEntitlementRow, now: number): { start: number; end: number } | undefined {
  if (e.stripe_subscription_id || e.period_end === null || Number(e.period_end) > now) return undefined;
  if (e.quota_period !== 'month' && e.quota_period !== 'year') return undefined;
  return periodContaining(Number(e.granted_at), e.quota_period, now);
}

/**
 * Usage against quotas. One transaction per report: claim `(user, clientReqId)` by its unique key,
 * consume with a conditional UPDATE, store the answer. Any refusal throws, rolling the claim back,
 * so only a successful consumption is remembered (a refused clientReqId may be sent again).
 */
export function createUsageService(deps: { db: Knex; now?: () => number }) {
  const { db } = deps;
  const now = deps.now ?? Date.now;

  return {
    async report(userId: string, input: UsageReport): Promise<UsageResult> {
      const at = now();
      // An unknown listing answers what a hidden draft answers, decided before any insert (the
      // foreign key's 409 would tell a random id from a hidden draft): a used key is still a
      // reused key, anything else has no entitlement. Outside the transaction, which must begin
      // with its write: SQLite cannot upgrade a read transaction while another replica writes.
      if (!(await listingExists(db, input.listingId))) {
        if (await findUsage(db, userId, input.clientReqId)) throw appError(UsageErrors, 'IDEMPOTENCY_KEY_REUSED');
        throw appError(BillingErrors, 'NOT_ENTITLED');
      }
      return withTransaction(db, async (trx) => {
        const id = randomUUID();
        const claimed = await claimUsage(trx, { id, user_id: userId, client_req_id: input.clientReqId, listing_id: input.listingId, units: input.units, created_at: at });
        if (!claimed) {
          const prior = await findUsage(trx, userId, input.clientReqId);
          if (!prior?.result || prior.listing_id !== input.listingId || Number(prior.units) !== input.units) throw appError(UsageErrors, 'IDEMPOTENCY_KEY_REUSED');
          return { ...(JSON.parse(prior.result) as UsageResult), replayed: true };
        }
        const candidates = await usableEntitlements(trx, userId, input.listingId);
        if (candidates.length === 0) throw appError(BillingErrors, 'NOT_ENTITLED');
        for (const e of candidates) {
          const due = duePeriod(e, at);
          if (due) await rollOverPeriod(trx, e.id, Number(e.period_end), due);
          const remaining = await consumeQuota(trx, e.id, input.units, at);
          if (remaining === undefined) continue;
          const result: UsageResult = {
            id, clientReqId: input.clientReqId, listingId: input.listingId, units: input.units, entitlementId: e.id, remaining,
            periodEnd: iso(due ? due.end : e.period_end), createdAt: new Date(at).toISOString(), replayed: false,
          };
          await storeUsageResult(trx, id, e.id, JSON.stringify(result));
          return result;
        }
        throw appError(UsageErrors, 'QUOTA_EXCEEDED');
      });
    },

    /** Remaining quota per active (or pending) entitlement, as it stands now (a due roll-over shown applied). */
    async quotas(userId: string, listingId?: string): Promise<QuotaView[]> {
      const at = now();
      return (await entitlementsOf(db, userId, listingId)).map((e) => {
        const due = duePeriod(e, at);
        const units = e.quota_units ?? 0;
        const remaining = due ? units : e.quota_remaining;
        return {
          entitlementId: e.id,
          listingId: e.listing_id,
          status: e.status as 'active' | 'pending',
          kind: e.stripe_subscription_id ? 'subscription' : e.stripe_checkout_session_id ? 'one_time' : 'manual',
          quota: { units, period: e.quota_period, remaining, used: Math.max(0, units - remaining) },
          periodStart: iso(due ? due.start : e.period_start),
          periodEnd: iso(due ? due.end : e.period_end),
        };
      });
    },
  };
}

export type UsageService = ReturnType<typeof createUsageService>;
