import type { Knex } from 'knex';
import type { Logger } from '../logging/logger.js';

export interface AuditRow {
  id: string;
  event: string;
  outcome: string;
  actor_user_id: string | null;
  actor_client_id: string | null;
  subject_type: string | null;
  subject_id: string | null;
  request_id: string | null;
  ip_prefix: string | null;
  user_agent: string | null;
  properties: string;
  /** Epoch ms; PostgreSQL returns bigint columns as strings. */
  created_at: number | string;
}

export interface TableSinkOptions {
  db: Knex;
  logger: Logger;
  /** Rows waiting for insert beyond this are dropped (counted, logged): memory stays bounded. */
  maxPending?: number;
  batchSize?: number;
}

/**
 * Inserts audit rows off the request path: `push` only queues and schedules a drain on the
 * next turn of the event loop. A failed insert is never retried (the database is likely down
 * and retrying would grow memory) but every lost row is counted, and each burst of failures
 * is logged once, with the count when it ends.
 */
export function createTableSink({ db, logger, maxPending = 10_000, batchSize = 100 }: TableSinkOptions) {
  const queue: AuditRow[] = [];
  const counts = { written: 0, failed: 0, dropped: 0 };
  let draining: Promise<void> | undefined;
  let failingSince: number | undefined;

  function push(row: AuditRow): void {
    if (queue.length >= maxPending) {
      counts.dropped++;
      if (counts.dropped === 1 || counts.dropped % 1000 === 0) {
        logger.error({ dropped: counts.dropped, maxPending }, 'audit queue full: events dropped');
      }
      return;
    }
    queue.push(row);
    schedule();
  }

  function schedule(): void {
    draining ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(drain)
      .finally(() => {
        draining = undefined;
        // A row pushed between the loop's last check and here would otherwise wait.
        if (queue.length > 0) schedule();
      });
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, batchSize);
      try {
        await db('audit_log').insert(batch);
        counts.written += batch.length;
        if (failingSince !== undefined) {
          logger.warn({ failedInBurst: counts.failed - failingSince }, 'audit table writes recovered');
          failingSince = undefined;
        }
      } catch (err) {
        if (failingSince === undefined) {
          failingSince = counts.failed;
          // Names only: the driver message may quote SQL, and the rows are not to be logged.
          const e = err as { code?: unknown; name?: unknown };
          logger.error({ code: e.code, errName: e.name, rows: batch.length }, 'audit table write failed');
        }
        counts.failed += batch.length;
      }
    }
  }

  /** Resolves once every row queued before the call has been written or counted as failed. */
  async function flush(): Promise<void> {
    while (draining) await draining;
  }

  return { push, flush, stats: () => ({ ...counts, pending: queue.length }) };
}

export type TableSink = ReturnType<typeof createTableSink>;
