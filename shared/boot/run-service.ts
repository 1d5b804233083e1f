import type Koa from 'koa';
import { loadConfig, ConfigError, type Config, type Env } from '../config/index.js';
import type { DestinationStream } from 'pino';
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

export interface LaunchOptions {
  /** Where the log lines go (stdout when absent): tests that run a service in their own process capture them. */
  destination?: DestinationStream;
  /** SIGTERM/SIGINT end the process after a graceful shutdown (default true; false for a service hosted by a test). */
  signals?: boolean;
  /** Logs a failed start; `runService` passes its own so it can flush before exiting. */
  bootLogger?: Logger;
}

/**
 * Boot sequence shared by both services: config (fails with the key name, exit 1), logger,
 * container (db, migrations in development, cache), HTTP app, listen, signal handlers.
 */
export async function runService(def: ServiceDefinition, env: Env = process.env): Promise<RunningServer> {
  const bootLogger = createLogger({ level: 'info', service: def.name, pretty: prettyLogs(env.NODE_ENV) });
  try {
    return await launchService(def, env, { bootLogger });
  } catch {
    bootLogger.flush(() => process.exit(1));
    return new Promise(() => undefined);
  }
}

/**
 * The boot itself, without deciding the process's fate: a failed start is logged (fatal, with the
 * setting's name for a configuration error) and thrown, after closing whatever it had opened.
 * `runService` exits on it; a test hosting the service in its own process sees the error.
 */
/** A started service: its server, and the container a hosting test may watch (its database's `query` events). */
export interface RunningService extends RunningServer {
  container: Container;
}

export async function launchService(def: ServiceDefinition, env: Env, opts: LaunchOptions = {}): Promise<RunningService> {
  const pretty = opts.destination ? false : prettyLogs(env.NODE_ENV);
  const bootLogger = opts.bootLogger ?? createLogger({ level: 'info', service: def.name, pretty, destination: opts.destination });
  try {
    const loaded = await loadConfig(env);
    const config: Config = loaded.config;
    const logger = createLogger({ level: config.logLevel, service: def.name, pretty: opts.destination ? false : prettyLogs(config.env), destination: opts.destination });
    for (const notice of loaded.notices) logger.warn(notice);
    return await start(def, config, logger, opts.signals ?? true);
  } catch (err) {
    if (err instanceof ConfigError) bootLogger.fatal(err.message);
    else bootLogger.fatal({ err: { type: (err as Error)?.name, message: (err as Error)?.message } }, 'start-up failed');
    throw err;
  }
}

async function start(def: ServiceDefinition, config: Config, logger: Logger, signals: boolean): Promise<RunningService> {
  const container = await createContainer(config, logger, { authDeps: def.authDeps, service: def.name });
  let mounted: Mounted | void = undefined;
  let running: RunningServer;
  let purge: { stop(): void } | undefined;
  try {
    const drain: Drain = createDrain();
    const app = createHttpApp({ config, logger, publicUrl: def.publicUrl(config), readiness: readinessChecks(container), degradable: DEGRADABLE, drain });
    app.use(koaMetricsEndpoint(container.metrics, { token: config.metricsToken, production: config.isProduction }));
    app.use(koaMetrics(container.metrics));
    mounted = await def.mount(app, container);
    purge = startAuditPurgeJob({ audit: container.audit, logger, retentionMs: config.audit.retentionDays * 86_400_000 });
    running = await startServer(app, {
      host: config.host,
      port: def.port(config),
      logger,
      drain,
      shutdownTimeoutMs: config.http.shutdownTimeoutMs,
      onClose: async () => {
        purge?.stop();
        await mounted?.close();
        await container.close();
      },
    });
  } catch (err) {
    // Nothing opened by a failed start stays open (a hosting test process lives on).
    purge?.stop();
    await Promise.resolve(mounted?.close()).catch(() => undefined);
    await container.close().catch(() => undefined);
    throw err;
  }
  if (signals) installSignalHandlers(running.shutdown, logger);
  logger.info({ url: running.url, publicUrl: def.publicUrl(config), db: config.db.client, cache: config.cache.backend }, `${def.name} listening`);
  return { ...running, container };
}
