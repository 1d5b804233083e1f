import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Config } from '#shared/config/index.js';
import { applyEvent, type ApplyDeps } from './apply.js';
import { claimEvents, claimNextOfCustomer, type ClaimedEvent, type Lease } from './claims.js';

export interface StripeEventWorker {
  /** Host, process id and a random part: what `locked_by` says while it holds an event. */
  readonly id: string;
  /** An event was stored in this process: claim now rather than at the next poll. */
  wake(): void;
  /** Claims nothing more, waits for the events in hand. */
  stop(): Promise<void>;
}

export type WorkerDeps = Omit<ApplyDeps, 'workerId' | 'maxAttempts' | 'retryBaseMs'> & { options: Config['webhooks'] };

/** A claim that found fewer events than it could take is not repeated sooner than this, however many wake-ups arrive. */
const CLAIM_GAP_MS = 20;

/**
 * The Stripe event worker of one process (docs/operations.md, "The Stripe event queue").
 * `concurrency` lanes, each applying one customer's events in order: a lane takes the head of
 * a customer's queue from a claim, applies it, then claims that customer's next event itself
 * (an indexed read, so one customer's backlog drains without scanning the queue each time). A
 * claim runs when an event is stored here (wake), when a lane ends, and every `pollMs` (events
 * stored by other processes, retries that came due, leases that ran out). Errors never escape:
 * the database being away shows as claims failing until it is back.
 */
export function startStripeEventWorker(deps: WorkerDeps): StripeEventWorker {
  const id = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const { concurrency, pollMs, leaseMs, maxAttempts, retryBaseMs } = deps.options;
  const lease: Lease = { workerId: id, leaseMs };
  const apply: ApplyDeps = { ...deps, workerId: id, maxAttempts, retryBaseMs };
  const lanes = new Set<Promise<void>>();
  let stopped = false;
  let due = true;
  let lastShortClaim = 0;
  let waiter: (() => void) | undefined;
  const signal = () => {
    const w = waiter;
    waiter = undefined;
    w?.();
  };
  // A worker whose database handle was closed under it (a container closed without stopping it) stops too.
  const poolGone = () => (deps.db.client as { pool?: unknown }).pool === undefined;

  function runLane(first: ClaimedEvent): void {
    const lane = (async () => {
      let row: ClaimedEvent | undefined = first;
      while (row) {
        const result = await applyEvent(apply, row);
        if (stopped || !row.customer_id || (result !== 'processed' && result !== 'ignored')) return;
        row = await claimNextOfCustomer(deps.db, lease, row.customer_id, deps.now()).catch(() => undefined);
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
    const wait = lastShortClaim + CLAIM_GAP_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const free = concurrency - lanes.size;
    due = false;
    let claimed: ClaimedEvent[] = [];
    try {
      claimed = await claimEvents(deps.db, lease, free, deps.now());
    } catch (err) {
      if (poolGone()) stopped = true;
      else deps.logger.warn({ err: { message: (err as Error)?.message } }, 'stripe event worker: claim failed; trying again at the next poll');
    }
    if (claimed.length < free) lastShortClaim = Date.now();
    else due = true; // a full claim: there may be more
    // Even when stopping: a claimed event is applied now rather than after its lease runs out.
    for (const row of claimed) runLane(row);
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
