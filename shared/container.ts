import type { Knex } from 'knex';
import type { Config } from './config/types.js';
import type { Logger } from './logging/logger.js';
import { createDb, pingDb, migrateLatest } from './db/index.js';
import { createCache, type Cache } from './cache/index.js';
import { createAuth, type Auth, type AuthDeps } from './auth/better-auth.js';
import { createMailer, type Mailer } from './mail/mailer.js';
import { createAudit, type Audit } from './audit/index.js';
import { createMetrics, type Metrics } from './metrics/index.js';
import { createChangeBus, type ChangeBus } from './bus/index.js';
import { createStorageFailures, type StorageFailures } from './db/storage-failures.js';

/**
 * Everything a service needs, built once at boot and passed down (no module singletons).
 * Tests build one with their own config to get real backends, or swap parts for fakes.
 */
export interface Container {
  config: Config;
  logger: Logger;
  db: Knex;
  cache: Cache;
  /** better-auth: users, sessions, roles. */
  auth: Auth;
  mailer: Mailer;
  /** Security audit trail: audit_log table always, PostHog when configured. */
  audit: Audit;
  /** Prometheus registry and the counters other parts increment. */
  metrics: Metrics;
  /** The change bus: what other replicas must learn at once (role, ban, revocations …). */
  changes: ChangeBus;
  /** Database outages better-auth saw (its hook notes them, the authz-server's edge reads them). */
  storageFailures: StorageFailures;
  /** Closes pools and connections; called last in graceful shutdown. */
  close(): Promise<void>;
}

export interface ContainerOptions {
  /** Label of this process in metrics. */
  service?: string;
  /** Service-specific better-auth callbacks (the authz-server sends mail and revokes grants). */
  authDeps?: (parts: { config: Config; logger: Logger; db: Knex; mailer: Mailer; audit: Audit; storageFailures: StorageFailures; changes: ChangeBus }) => AuthDeps;
}

export async function createContainer(config: Config, logger: Logger, opts: ContainerOptions = {}): Promise<Container> {
  const db = createDb(config.db, logger.child({ component: 'db' }));
  if (config.db.migrateOnStart) {
    await migrateLatest(db);
  }
  const cache = await createCache(config.cache, logger.child({ component: 'cache' }));
  const mailer = createMailer(config, logger);
  const audit = createAudit({ db, logger, secret: config.secrets.authSecret, ...(config.posthog ? { posthog: config.posthog } : {}) });
  const storageFailures = createStorageFailures();
  const changes = await createChangeBus(config, logger.child({ component: 'bus' }));
  const auth = createAuth(config, opts.authDeps?.({ config, logger, db, mailer, audit, storageFailures, changes }));
  const metrics = createMetrics(opts.service ?? 'portcullis', { db, audit });
  return {
    config,
    logger,
    db,
    cache,
    auth: auth.auth,
    mailer,
    audit,
    metrics,
    storageFailures,
    changes,
    async close() {
      // Pending audit events reach the table (and PostHog) before the pool closes.
      await audit.close().catch(() => undefined);
      // Changes still waiting for Redis get one last try before its connection closes.
      await changes.close().catch(() => undefined);
      await Promise.allSettled([db.destroy(), cache.close(), auth.close()]);
    },
  };
}

export function readinessChecks(c: Pick<Container, 'db' | 'cache'>) {
  return { db: () => pingDb(c.db), cache: () => c.cache.ping() };
}
