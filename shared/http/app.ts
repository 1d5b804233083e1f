import Koa from 'koa';
import type { Config } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import { koaRequestId } from './koa-request-id.js';
import { koaAccessLog } from './koa-access-log.js';
import { koaErrorHandler } from './koa-error-handler.js';
import { koaSecurityHeaders } from './koa-security-headers.js';
import { koaHealth, type ReadinessCheck } from './koa-health.js';
import { koaDrain, type Drain } from './koa-drain.js';

export interface HttpAppOptions {
  config: Config;
  logger: Logger;
  /** Public URL of this service: decides HSTS. */
  publicUrl: string;
  readiness: Record<string, ReadinessCheck>;
  /** Readiness checks whose failure only degrades the service (200 `degraded`, see koa-health). */
  degradable?: readonly string[];
  drain: Drain;
}

/**
 * The Koa base both services share. Order matters: request id first (every later line and
 * error carries it), then the access log, the error handler (so it sees every failure),
 * draining, security headers and health. Routes are added by the caller after this.
 */
export function createHttpApp(opts: HttpAppOptions): Koa {
  // Behind TRUST_PROXY, the client address is the last X-Forwarded-For hop (the one our proxy
  // appended): entries to its left are whatever the client sent.
  const app = new Koa({ proxy: opts.config.http.trustProxy, maxIpsCount: 1, keys: [...opts.config.secrets.cookieKeys] });
  app.silent = true; // errors are logged once, by koaErrorHandler
  app.use(koaRequestId({ trustIncoming: opts.config.http.trustRequestId }));
  app.use(koaAccessLog(opts.logger));
  app.use(koaErrorHandler(opts.logger));
  app.use(koaDrain(opts.drain));
  app.use(koaSecurityHeaders({ https: opts.publicUrl.startsWith('https:') }));
  app.use(koaHealth({ checks: opts.readiness, timeoutMs: 2000, ...(opts.degradable ? { degradable: opts.degradable } : {}) }));
  return app;
}
