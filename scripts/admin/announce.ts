import type { Config } from '#shared/config/index.js';
import { createChangeBus, type Change } from '#shared/bus/index.js';
import { createLogger } from '#shared/logging/logger.js';

/**
 * Announces what a command changed on the change bus, so every API replica applies it to its
 * next request (docs/operations.md). Without Redis (embedded mode) there is nobody to tell. When
 * Redis does not take it, the command fails after its change is saved: running it again
 * announces it again (every command that calls this is idempotent).
 */
export async function announce(config: Config, ...changes: Change[]): Promise<void> {
  const bus = await createChangeBus(config, createLogger({ level: 'silent', service: 'admin-cli' }));
  for (const change of changes) await bus.publish(change);
  const { unpublished } = await bus.close();
  if (unpublished === 0) return;
  throw new Error(
    'saved in the database, but the change bus (Redis) did not take it: API replicas apply it only when their cached entries expire ' +
      `(BUS_CACHE_MAX_AGE_S = ${config.bus.cacheMaxAgeMs / 1000} s) and refuse revoked tokens only when they read the database. Run the command again once Redis answers.`,
  );
}
