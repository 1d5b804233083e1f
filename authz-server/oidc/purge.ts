import type { Container } from '#shared/container.js';
import { purgeExpired, tombstoneTtlS } from '../queries/oidc-models.js';
import { purgeExpiredBindings } from '../queries/session-bindings.js';
import { deleteClientAndGrants, unusedDynamicClients } from '../queries/clients.js';

const EVERY_MS = 10 * 60 * 1000;
const DAY_MS = 86_400_000;

/**
 * Every 10 minutes: deletes expired provider rows, and the self-registered clients nobody used
 * for DYNAMIC_CLIENT_UNUSED_DAYS (last authorization or token grant, else registration), with
 * their grants and registration access tokens; one client.purged event per run that deleted
 * some. Operators' clients are never purged. Harmless when several replicas run it.
 */
export function startPurge(c: Pick<Container, 'db' | 'logger' | 'config' | 'audit'> & Partial<Pick<Container, 'changes'>>): { stop(): void; runOnce(): Promise<number> } {
  const runOnce = async () => {
    const now = Date.now();
    const removed = (await purgeExpired(c.db, now)) + (await purgeExpiredBindings(c.db, now));
    if (removed > 0) c.logger.info({ removed }, 'purged expired oidc rows');
    return removed + (await purgeUnusedClients(c, now));
  };
  const timer = setInterval(() => void runOnce().catch((err: Error) => c.logger.warn({ err: { type: err.name, message: err.message } }, 'purge failed')), EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}

async function purgeUnusedClients(c: Pick<Container, 'db' | 'logger' | 'config' | 'audit'> & Partial<Pick<Container, 'changes'>>, now: number): Promise<number> {
  const { unusedDays } = c.config.agents.registration;
  const tombstoneExpiresAt = now + tombstoneTtlS(c.config.tokens) * 1000;
  let count = 0;
  for (const clientId of await unusedDynamicClients(c.db, now - unusedDays * DAY_MS)) {
    if (!(await deleteClientAndGrants(c.db, clientId, tombstoneExpiresAt))) continue;
    count++;
    await c.changes?.publish({ type: 'client.deleted', clientId, at: Date.now() }); // its tokens die at the API too
  }
  if (count === 0) return 0;
  c.logger.info({ count, unusedDays }, 'purged unused dynamic clients');
  c.audit.record('client.purged', { outcome: 'success', properties: { count, unusedDays } });
  return count;
}
