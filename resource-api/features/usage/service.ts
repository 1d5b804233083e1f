import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { appError } from '#shared/errors/index.js';
import { BillingErrors } from '../billing/index.js';
import { UsageErrors } from './errors.js';
import { entitlementsOf, rollOverPeriod } from './queries.js';
import { reportInOneStatement } from './report-statement.js';
import { reportInTransaction } from './report-transaction.js';
import { duePeriod, iso, type Claim, type ReportOutcome, type UsageReport, type UsageResult } from './rules.js';

export type { UsageReport, UsageResult } from './rules.js';

export interface QuotaView {
  entitlementId: string;
  listingId: string;
  status: 'active' | 'pending';
  kind: 'subscription' | 'one_time' | 'manual';
  quota: { units: number; period: 'month' | 'year' | 'once' | null; remaining: number; used: number };
  periodStart: string | null;
  periodEnd: string | null;
}

/**
 * Attempts per report (PostgreSQL). Each attempt answers, or makes progress that the next one
 * sees: a roll-over (once per due entitlement), a concurrent claim of the same clientReqId (the
 * next attempt finds it), an entitlement used up by concurrent reports (the next attempt passes
 * it by). So a report needs at most two attempts more than the user holds entitlements to the
 * listing; running out means a bug, answered 500.
 */
const MAX_ATTEMPTS = 16;

/**
 * Usage against quotas. A report claims `(user, clientReqId)` by its unique key and consumes with
 * a conditional UPDATE, atomically: on PostgreSQL in one statement (report-statement.ts), on
 * SQLite in one transaction (report-transaction.ts). Only a successful consumption is remembered:
 * a refused clientReqId may be sent again; a used one replays its first answer.
 */
export function createUsageService(deps: { db: Knex; now?: () => number }) {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const attempt: (db: Knex, claim: Claim) => Promise<ReportOutcome> = db.client.config.client === 'pg' ? reportInOneStatement : reportInTransaction;

  return {
    async report(userId: string, input: UsageReport): Promise<UsageResult> {
      const claim: Claim = { id: randomUUID(), userId, clientReqId: input.clientReqId, listingId: input.listingId, units: input.units, at: now() };
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const outcome = await attempt(db, claim);
        switch (outcome.kind) {
          case 'stored':
            return JSON.parse(outcome.result) as UsageResult;
          case 'prior':
            if (!outcome.result || outcome.listingId !== input.listingId || outcome.units !== input.units) throw appError(UsageErrors, 'IDEMPOTENCY_KEY_REUSED');
            return { ...(JSON.parse(outcome.result) as UsageResult), replayed: true };
          case 'refused':
            // An unknown listing answers what a listing without an entitlement answers (a hidden draft).
            throw outcome.entitled ? appError(UsageErrors, 'QUOTA_EXCEEDED') : appError(BillingErrors, 'NOT_ENTITLED');
          case 'due': {
            const e = outcome.entitlement;
            const next = duePeriod(e, claim.at);
            if (!next) throw new Error('usage: the statement and duePeriod disagree on a roll-over');
            await rollOverPeriod(db, e.id, Number(e.period_end), next);
            break;
          }
          case 'raced':
            break;
        }
      }
      throw new Error(`usage report unsettled after ${MAX_ATTEMPTS} attempts`);
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
