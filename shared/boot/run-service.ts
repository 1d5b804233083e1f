import type Koa from 'koa';
import { loadConfig, ConfigError, type Config, type Env } from '../config/index.js';
import { createLogger, prettyLogs, type Logger } from '../logging/logger.js';
import { createContainer, readinessChecks, type Container, type ContainerOptions } from '../container.js';
import { startAuditPurgeJob } from '../audit/index.js';
import { koaMetrics, koaMetricsEndpoint } from '../metrics/index.js';
import { createDrain, createHttpApp, installSignalHandlers, startServer, type Drain, type RunningServer } from '../http/index.js';

export interface Mounted {
  close(): void | Promise<void>;
}

export interface ServiceDefinition {
  name: 'authz-server' | 'resource-api';
  port: (config: Config) => number;
  publicUrl: (config: Config) => string;
  /** Adds the service's own routes to the shared base app; may return what to stop on shutdown. */
  mount: (app: Koa, container: Container) => Promise<Mounted | void> | Mounted | void;
  authDeps?: ContainerOptions['authDeps'];
}

/**
 * Only rate limits live in the cache, and they fall back to per-process buckets: a Redis outage
 * leaves every replica serving (readiness 200 `degraded`), measured in test/reliability.
 */
const DEGRADABLE = ['cache'] as const;

/**
 * Boot sequence shared by both services: config (fails with the key name, exit 1), logger,
 * container (db, migrations in development, cache), HTTP app, listen, signal handlers.
 */
export async function runService(def: ServiceDefinition, env: Env = process.env): Promise<RunningServer> {
  const bootLogger = createLogger({ level: 'info', service: def.name, pretty: prettyLogs(env.NODE_ENV) });
  let config: Config;
  try {
    const loaded = await loadConfig(env);
    config = loaded.config;
    const logger = createLogger({ level: config.logLevel, service: def.name, pretty: prettyLogs(config.env) });
    for (const notice of loaded.notices) logger.warn(notice);
    return await start(def, config, logger);
  } catch (err) {
    if (err instanceof ConfigError) bootLogger.fatal(err.message);
    else bootLogger.fatal({ err: { type: (err as Error)?.name, message: (err as Error)?.message } }, 'start-up failed');
    bootLogger.flush(() => process.exit(1));
    return new Promise(() => undefined);
  }
}

async function start(def: ServiceDefinition, config: Config, logger: Logger): Promise<RunningServer> {
  const container = await createContainer(config, logger, { authDeps: def.authDeps, service: def.name });
  const drain: Drain = createDrain();
  const app = createHttpApp({ config, logger, publicUrl: def.publicUrl(config), readiness: readinessChecks(container), degradable: DEGRADABLE, drain });
  app.use(koaMetricsEndpoint(container.metrics, { token: config.metricsToken, production: config.isProduction }));
  app.use(koaMetrics(container.metrics));
  const mounted = await def.mount(app, container);
  const purge = startAuditPurgeJob({ audit: container.audit, logger, retentionMs: config.audit.retentionDays * 86_400_000 });
  const running = await startServer(app, {
    host: config.host,
    port: def.port(config),
    logger,
    drain,
    shutdownTimeoutMs: config.http.shutdownTimeoutMs,
    onClose: async () => {
      purge.stop();
      await mounted?.close();
      await container.close();
    },
  });
  installSignalHandlers(running.shutdown, logger);
  logger.info({ url: running.url, publicUrl: def.publicUrl(config), db: config.db.client, cache: config.cache.backend }, `${def.name} listening`);
  return running;
}
