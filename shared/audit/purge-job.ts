import type { Logger } from '../logging/logger.js';
import type { Audit } from './audit.js';

export interface PurgeJobOptions {
  audit: Pick<Audit, 'purge'>;
  logger: Logger;
  retentionMs: number;
  /** Default hourly. */
  intervalMs?: number;
}

/**
 * Deletes audit rows older than the retention setting, once at start and then on an interval.
 * The timer is unref'd so it never holds the process open; stop() on graceful shutdown.
 */
export function startAuditPurgeJob({ audit, logger, retentionMs, intervalMs = 3_600_000 }: PurgeJobOptions): { stop(): void; runOnce(): Promise<number> } {
  const log = logger.child({ component: 'audit-purge' });
  async function runOnce(): Promise<number> {
    try {
      const deleted = await audit.purge(retentionMs);
      if (deleted > 0) log.info({ deleted, retentionMs }, 'audit rows purged');
      return deleted;
    } catch (err) {
      log.error({ code: (err as { code?: unknown })?.code }, 'audit purge failed');
      return 0;
    }
  }
  void runOnce();
  const timer = setInterval(() => void runOnce(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}
