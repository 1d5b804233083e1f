import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { HttpErrors, appError } from '../errors/index.js';
import type { Metrics } from './metrics.js';

/** Counts and times every request under its route pattern (`unmatched` when no route matched). */
export function koaMetrics(metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const end = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? (ctx.path.startsWith('/.well-known/') || ['/healthz', '/readyz', '/metrics'].includes(ctx.path) ? ctx.path : 'unmatched');
      const seconds = Number(process.hrtime.bigint() - end) / 1e9;
      metrics.requests.inc({ method: ctx.method, route, status: String(ctx.status) });
      metrics.duration.observe({ method: ctx.method, route }, seconds);
      if (ctx.path === '/v1/webhooks/stripe' && ctx.method === 'POST') metrics.webhooks.inc({ status: String(ctx.status) });
    }
  };
}

/**
 * GET /metrics in the Prometheus text format. With METRICS_TOKEN set it needs
 * `Authorization: Bearer <token>`; without one it is served in development only, and a
 * production service answers 404 (metrics reveal traffic shape: fail closed).
 */
export function koaMetricsEndpoint(metrics: Metrics, opts: { token: string | undefined; production: boolean }): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== '/metrics' || ctx.method !== 'GET') return next();
    if (!opts.token && opts.production) throw appError(HttpErrors, 'NOT_FOUND');
    if (opts.token && !sameSecret(ctx.get('Authorization'), `Bearer ${opts.token}`)) throw appError(HttpErrors, 'NOT_FOUND');
    ctx.set('Content-Type', metrics.registry.contentType);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await metrics.registry.metrics();
  };
}

/** Constant-time comparison of two strings (digests first, so lengths never leak). */
function sameSecret(a: string, b: string): boolean {
  const d = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(d(a), d(b));
}
