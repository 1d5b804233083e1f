import type { Knex } from 'knex';
import type Stripe from 'stripe';
import { withTransaction } from '#shared/db/index.js';
import { isAppError } from '#shared/errors/index.js';
import type { Logger } from '#shared/logging/logger.js';
import type { Audit } from '#shared/audit/index.js';
import type { ChangeBus } from '#shared/bus/index.js';
import type { StripeEventHandler } from '../stripe-events/index.js';
import type { EntitlementChange } from '../stripe-events/types.js';
import { recordAttempt, recordEntitlementChange } from './audit.js';
import { recordAttemptFailure, settleEvent, settleEvents, type ClaimedEvent } from './claims.js';
import type { AttemptResult, QueueMetrics } from './metrics.js';

export interface ApplyDeps {
  db: Knex;
  logger: Logger;
  handlers: Readonly<Record<string, StripeEventHandler>>;
  workerId: string;
  maxAttempts: number;
  retryBaseMs: number;
  now: () => number;
  audit?: Pick<Audit, 'record'>;
  bus?: Pick<ChangeBus, 'publish'>;
  metrics?: QueueMetrics;
}

/** Back-off never waits longer than this between two attempts. */
export const MAX_RETRY_DELAY_MS = 3_600_000;

/** retryBaseMs after the first failed attempt, doubling after each further one, at most an hour. */
export function retryDelayMs(baseMs: number, attempts: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
}

/**
 * What the log gets of a failure: its type, message and stack, of the driver's error under a
 * storage AppError — never pg's `detail`, which quotes the values of the row.
 */
function describe(err: unknown): { type: string; message: string; stack?: string } {
  const root = (isAppError(err) && err.cause instanceof Error ? err.cause : err) as Error;
  return { type: root?.name ?? typeof root, message: String(root?.message ?? root), ...(root?.stack ? { stack: root.stack } : {}) };
}

/** A stable code for the failure: the storage catalog's (DATABASE_UNAVAILABLE, UNIQUE_VIOLATION …) or HANDLER_FAILED. */
function failureCode(err: unknown): string {
  return isAppError(err) ? err.code : 'HANDLER_FAILED';
}

/**
 * One attempt at a claimed event: its handler's effects and the row marked processed commit in
 * one transaction (settleEvent), so a crash anywhere before the commit leaves neither and the
 * lease lets another worker try again; a repeat can never apply twice. After the commit: the
 * entitlement changes are audited and announced on the change bus (every API replica drops the
 * user's cached entitlements). A failure is rolled back, recorded with its code and retried
 * after the back-off, or dead after STRIPE_WEBHOOK_MAX_ATTEMPTS.
 */
export async function applyEvent(deps: ApplyDeps, row: ClaimedEvent): Promise<AttemptResult> {
  const started = deps.now();
  // Its previous attempt was the last one, and the worker making it died.
  if (row.attempts > deps.maxAttempts) return failed(deps, row, row.last_error ?? 'LEASE_EXPIRED', undefined);
  let event: Stripe.Event;
  try {
    event = JSON.parse(row.payload ?? '') as Stripe.Event;
  } catch (err) {
    return failed(deps, row, 'PAYLOAD_INVALID', err);
  }
  const handler = Object.hasOwn(deps.handlers, row.type) ? deps.handlers[row.type] : undefined;
  let changes: EntitlementChange[] = [];
  let result: AttemptResult;
  try {
    result = await withTransaction(deps.db, async (trx) => {
      changes = []; // a retried transaction starts over
      if (!(await settleEvent(trx, row.id, deps.workerId, handler ? 'processed' : 'ignored', started))) return 'lost';
      if (handler) await handler(trx, event, { now: started, changed: (c) => void changes.push(c) });
      return handler ? 'processed' : 'ignored';
    });
  } catch (err) {
    return failed(deps, row, failureCode(err), err);
  }
  deps.metrics?.attempt(result);
  if (result === 'processed') await applied(deps, [{ row, changes }], started);
  return result;
}

/**
 * Several claimed events of different customers (heads of their queues, so their order among
 * themselves is free) applied in ONE transaction: one BEGIN, one UPDATE marking them processed
 * and one COMMIT for all, then each handler's statements — most of what an event costs is round
 * trips. All or nothing: when any handler fails, the whole transaction is rolled back and each
 * event is attempted on its own (applyEvent), so a failure is recorded on the event that failed
 * and costs the others nothing (their attempt was counted once, when they were claimed).
 */
export async function applyEvents(deps: ApplyDeps, rows: readonly ClaimedEvent[]): Promise<AttemptResult[]> {
  const parsed = new Map<string, Stripe.Event>();
  for (const row of rows) {
    if (row.attempts > deps.maxAttempts || !Object.hasOwn(deps.handlers, row.type)) continue;
    try {
      parsed.set(row.id, JSON.parse(row.payload ?? '') as Stripe.Event);
    } catch {
      // applyEvent records it as PAYLOAD_INVALID
    }
  }
  const batch = rows.filter((r) => parsed.has(r.id));
  const results = new Map<string, AttemptResult>();
  if (batch.length > 1) {
    const started = deps.now();
    let done: { row: ClaimedEvent; changes: EntitlementChange[] }[] = [];
    try {
      const settled = await withTransaction(deps.db, async (trx) => {
        done = [];
        const mine = await settleEvents(trx, batch.map((r) => r.id), deps.workerId, started);
        for (const row of batch.filter((r) => mine.has(r.id))) {
          const changes: EntitlementChange[] = [];
          await deps.handlers[row.type]!(trx, parsed.get(row.id)!, { now: started, changed: (c) => void changes.push(c) });
          done.push({ row, changes });
        }
        return mine;
      });
      for (const row of batch) results.set(row.id, settled.has(row.id) ? 'processed' : 'lost');
      for (const row of batch) deps.metrics?.attempt(results.get(row.id)!);
      await applied(deps, done, started);
    } catch {
      // Rolled back: each on its own below, where a failure is recorded against its event.
    }
  }
  for (const row of rows) if (!results.has(row.id)) results.set(row.id, await applyEvent(deps, row));
  return rows.map((r) => results.get(r.id)!);
}

/** After the commit: audit the entitlement changes, announce their users once, then webhook.processed. */
async function applied(deps: ApplyDeps, done: readonly { row: ClaimedEvent; changes: EntitlementChange[] }[], started: number): Promise<void> {
  if (deps.audit) for (const { row, changes } of done) for (const c of changes) recordEntitlementChange(deps.audit, c, row.id);
  // publish never rejects: a change Redis cannot take yet is retried in the background.
  for (const userId of new Set(done.flatMap((d) => d.changes.map((c) => c.userId)))) await deps.bus?.publish({ type: 'entitlements.changed', userId });
  // Last: webhook.processed means the event is applied and announced.
  if (deps.audit) for (const { row } of done) recordAttempt(deps.audit, row, { result: 'processed', durationMs: deps.now() - started });
}

async function failed(deps: ApplyDeps, row: ClaimedEvent, code: string, err: unknown): Promise<AttemptResult> {
  const now = deps.now();
  const dead = row.attempts >= deps.maxAttempts;
  const nextAttemptAt = now + retryDelayMs(deps.retryBaseMs, row.attempts);
  const log = { eventId: row.id, type: row.type, errorCode: code, attempts: row.attempts, ...(err ? { err: describe(err) } : {}) };
  let recorded = false;
  try {
    recorded = await recordAttemptFailure(deps.db, row.id, deps.workerId, { code, now, dead, nextAttemptAt });
  } catch (recordErr) {
    // The lease runs out and another attempt follows (this one was counted when it was claimed).
    deps.logger.warn({ ...log, recordError: failureCode(recordErr) }, 'stripe event failed and could not be marked so');
    deps.metrics?.attempt('retry');
    return 'retry';
  }
  if (!recorded) {
    deps.metrics?.attempt('lost');
    return 'lost';
  }
  const result = dead ? 'dead' : 'retry';
  if (dead) deps.logger.error(log, 'stripe event dead-lettered');
  else deps.logger.warn({ ...log, nextAttemptAt }, 'stripe event failed; retried later');
  deps.metrics?.attempt(result);
  if (deps.audit) recordAttempt(deps.audit, row, { result, errorCode: code, attempts: row.attempts });
  return result;
}
