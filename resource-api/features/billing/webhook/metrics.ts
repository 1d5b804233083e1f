import { Counter, Gauge, type Registry } from 'prom-client';
import type { Knex } from 'knex';
import { queueStats, type QueueStats } from './queries.js';

/** How an attempt at an event ended (webhook_event_attempts_total{result}). */
export type AttemptResult = 'processed' | 'ignored' | 'retry' | 'dead' | 'lost';

export interface QueueMetrics {
  attempt(result: AttemptResult): void;
}

/**
 * The Stripe event queue in /metrics (docs/operations.md). From the database at each scrape, the
 * same at every replica (aggregate with max, not sum): `webhook_queue_events{status}` pending
 * and dead, `webhook_queue_oldest_pending_seconds`. This process's own work:
 * `webhook_event_attempts_total{result}` — processed, ignored, retry (failed, tried again later),
 * dead (failed for the last time), lost (another worker had taken it over).
 */
export function registerQueueMetrics(registry: Registry, db: Knex, now: () => number = Date.now): QueueMetrics {
  const existing = registry.getSingleMetric('webhook_event_attempts_total') as Counter<'result'> | undefined;
  const attempts = existing ?? new Counter({ name: 'webhook_event_attempts_total', help: 'Attempts at applying a stored Stripe event, by result', labelNames: ['result'], registers: [registry] });
  if (existing) return { attempt: (result) => attempts.inc({ result }) };

  // One read per scrape for both gauges; a failed read leaves the last values (the database
  // being down shows in db_pool_connections and /readyz, and /metrics must still answer).
  let last: QueueStats = { pending: 0, dead: 0, oldestPendingAt: null };
  let read: Promise<QueueStats> | undefined;
  const stats = () => (read ??= queueStats(db).then((s) => (last = s), () => last).finally(() => setImmediate(() => (read = undefined))));
  new Gauge({
    name: 'webhook_queue_events', help: 'Stored Stripe events still to be applied (pending) and dead-lettered (dead), in the whole database', labelNames: ['status'], registers: [registry],
    async collect() {
      const s = await stats();
      this.set({ status: 'pending' }, s.pending);
      this.set({ status: 'dead' }, s.dead);
    },
  });
  new Gauge({
    name: 'webhook_queue_oldest_pending_seconds', help: 'How long the oldest pending Stripe event has waited since it was received (0 when none)', registers: [registry],
    async collect() {
      const s = await stats();
      this.set(s.oldestPendingAt === null ? 0 : Math.max(0, (now() - s.oldestPendingAt) / 1000));
    },
  });
  for (const result of ['processed', 'ignored', 'retry', 'dead', 'lost'] as const) attempts.inc({ result }, 0);
  return { attempt: (result) => attempts.inc({ result }) };
}
