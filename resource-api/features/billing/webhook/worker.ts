import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Config } from '#shared/config/index.js';
import { applyEvents, type ApplyDeps } from './apply.js';
import { claimEvents, claimNextOfCustomers, type ClaimedEvent, type Lease } from './claims.js';

export interface StripeEventWorker {
  /** Host, process id and a random part: what `locked_by` says while it holds an event. */
  readonly id: string;
  /** An event was stored in this process: claim now rather than at the next poll. */
  wake(): void;
  /** Claims nothing more, waits for the events in hand. */
  stop(): Promise<void>;
}

export type WorkerDeps = Omit<ApplyDeps, 'workerId' | 'maxAttempts' | 'retryBaseMs'> & { options: Config['webhooks'] };

/**
 * A claim that found fewer events than it could take is not repeated sooner than this, however
 * many wake-ups arrive — nor sooner than ten times what it took: with a backlog whose heads are
 * all in hand, a claim reads the whole pending queue to find nothing.
 */
const CLAIM_GAP_MS = 20;
const MAX_CLAIM_GAP_MS = 10_000;
/** Events (of as many customers) a lane applies in one transaction. */
export const BATCH = 16;

/**
 * The Stripe event worker of one process (docs/operations.md, "The Stripe event queue").
 * `concurrency` lanes; a lane takes the heads of up to BATCH customers' queues from a claim,
 * applies them in one transaction (applyEvents), then claims those customers' next events
 * itself (an indexed read, so a backlog drains without scanning the queue each time), until they
 * have none ready. A claim runs when an event is stored here (wake), when a lane ends, and every
 * `pollMs` (events stored by other processes, retries that came due, leases that ran out).
 * Errors never escape: the database being away shows as claims failing until it is back.
 */
export function startStripeEventWorker(deps: WorkerDeps): StripeEventWorker {
  const id = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const { concurrency, pollMs, leaseMs, maxAttempts, retryBaseMs } = deps.options;
  const lease: Lease = { workerId: id, leaseMs };
  const apply: ApplyDeps = { ...deps, workerId: id, maxAttempts, retryBaseMs };
  const lanes = new Set<Promise<void>>();
  let stopped = false;
  let due = true;
  let nextClaimAt = 0;
  let waiter: (() => void) | undefined;
  const signal = () => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  // A worker whose database handle was closed under it (a container closed without stopping it) stops too.
  const poolGone = () => (deps.db.client as { pool?: unknown }).pool === undefined;

  function runLane(first: ClaimedEvent[]): void {
    const lane = (async () => {
      let rows = first;
      while (rows.length > 0) {
        const results = await applyEvents(apply, rows);
        if (stopped) return;
        // Customers whose event went through: their next one is theirs to claim now.
        const next = rows.filter((r, i) => r.customer_id && (results[i] === 'processed' || results[i] === 'ignored')).map((r) => r.customer_id!);
        rows = await claimNextOfCustomers(deps.db, lease, next, deps.now()).catch(() => []);
      }
    })().catch((err: unknown) => deps.logger.error({ err }, 'stripe event worker: lane failed'))
      .finally(() => {
        lanes.delete(lane);
        due = true;
        signal();
      });
    lanes.add(lane);
  }

  async function claim(): Promise<void> {
    const wait = nextClaimAt - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (stopped) return;
    const began = Date.now();
    due = false;
    let claimed: ClaimedEvent[] = [];
    try {
      claimed = await claimEvents(deps.db, lease, BATCH, deps.now());
    } catch (err) {
      if (poolGone()) stopped = true;
      else deps.logger.warn({ err: { message: (err as Error)?.message } }, 'stripe event worker: claim failed; trying again at the next poll');
    }
    if (claimed.length < BATCH) nextClaimAt = Date.now() + Math.min(MAX_CLAIM_GAP_MS, Math.max(CLAIM_GAP_MS, 10 * (Date.now() - began)));
    else due = true; // a full claim: there may be more, for another lane
    // Even when stopping: claimed events are applied now rather than after their lease runs out.
    if (claimed.length > 0) runLane(claimed);
  }

  const loop = (async () => {
    while (!stopped) {
      if (poolGone()) break;
      if (due && lanes.size < concurrency) {
        await claim();
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        waiter = resolve;
        timer = setTimeout(() => {
          due = true;
          signal();
        }, pollMs);
        timer.unref();
      });
      clearTimeout(timer);
    }
  })();

  return {
    id,
    wake() {
      due = true;
      signal();
    },
    async stop() {
      stopped = true;
      signal();
      await loop;
      await Promise.allSettled([...lanes]);
    },
  };
}
