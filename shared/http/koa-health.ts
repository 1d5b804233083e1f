import type { Middleware } from 'koa';
import { HttpErrors, appError } from '../errors/index.js';

export type ReadinessCheck = () => Promise<void>;

export interface HealthOptions {
  /** Named dependencies that must answer for the service to take traffic (db, cache, …). */
  checks: Record<string, ReadinessCheck>;
  timeoutMs: number;
  /**
   * Checks the service can run without, in a degraded mode (the cache: rate limits fall back to
   * per-process buckets). Their failure answers 200 `degraded`, so a load balancer does not take
   * every replica out at once for a dependency none of them strictly needs.
   */
  degradable?: readonly string[];
}

/**
 * `/healthz`: the process is up (liveness; never touches dependencies, so a database outage
 * does not get every replica restarted). `/readyz`: every dependency answered within the
 * timeout (readiness; the load balancer stops routing here), or only a degradable one did not. While draining, koaDrain answers
 * 503 before this runs.
 */
export function koaHealth(opts: HealthOptions): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/healthz') {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path !== '/readyz') return next();
    ctx.set('Cache-Control', 'no-store');
    const results = await Promise.all(
      Object.entries(opts.checks).map(async ([name, check]) => [name, await probe(check, opts.timeoutMs)] as const),
    );
    const checks = Object.fromEntries(results);
    const failed = results.filter(([, r]) => r !== 'ok').map(([name]) => name);
    if (failed.some((name) => !opts.degradable?.includes(name))) throw appError(HttpErrors, 'NOT_READY', { data: { checks } });
    ctx.body = { status: failed.length > 0 ? 'degraded' : 'ready', checks };
  };
}

async function probe(check: ReadinessCheck, timeoutMs: number): Promise<'ok' | 'unavailable' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    return await Promise.race([check().then(() => 'ok' as const), timeout]);
  } catch {
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}
