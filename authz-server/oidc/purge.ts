import type { Container } from '#shared/container.js';
import { purgeExpired } from '../queries/oidc-models.js';
import { purgeExpiredBindings } from '../queries/session-bindings.js';

const EVERY_MS = 10 * 60 * 1000;

/** Deletes expired provider rows every 10 minutes; harmless when several replicas run it. */
export function startPurge(c: Pick<Container, 'db' | 'logger'>): { stop(): void; runOnce(): Promise<number> } {
  const runOnce = async () => {
    const now = Date.now();
    const removed = (await purgeExpired(c.db, now)) + (await purgeExpiredBindings(c.db, now));
    if (removed > 0) c.logger.info({ removed }, 'purged expired oidc rows');
    return removed;
  };
  const timer = setInterval(() => void runOnce().catch((err: Error) => c.logger.warn({ err: { type: err.name, message: err.message } }, 'purge failed')), EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}
