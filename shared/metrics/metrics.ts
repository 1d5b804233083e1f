import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Knex } from 'knex';
import type { Audit } from '../audit/index.js';

/**
 * One Prometheus registry per process (prom-client). Labels are bounded: routes are the
 * router's patterns (`/v1/listings/:id`), never raw paths, so cardinality stays fixed.
 */
export function createMetrics(service: string, deps: { db: Knex; audit: Audit }) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const m = {
    registry,
    requests: new Counter({ name: 'http_requests_total', help: 'HTTP requests by route pattern and status', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    duration: new Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request latency by route pattern', labelNames: ['method', 'route'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    tokens: new Counter({ name: 'oauth_tokens_issued_total', help: 'Successful token endpoint responses by grant type', labelNames: ['grant_type'], registers: [registry] }),
    reuse: new Counter({ name: 'oauth_reuse_detected_total', help: 'Authorization code or refresh token reuse (grant revoked)', labelNames: ['kind'], registers: [registry] }),
    rateLimited: new Counter({ name: 'rate_limit_hits_total', help: 'Requests refused by a rate limit', labelNames: ['bucket'], registers: [registry] }),
    webhooks: new Counter({ name: 'webhook_deliveries_total', help: 'Stripe webhook deliveries by HTTP outcome', labelNames: ['status'], registers: [registry] }),
  };
  new Gauge({
    name: 'audit_events', help: 'Audit sink counters (written, failed, dropped, posthogSent, posthogErrors, posthogLost) and posthogQueued', labelNames: ['counter'], registers: [registry],
    collect() {
      const s = deps.audit.stats();
      for (const k of ['written', 'failed', 'dropped', 'posthogSent', 'posthogErrors', 'posthogLost', 'posthogQueued'] as const) this.set({ counter: k }, s[k] ?? 0);
    },
  });
  new Gauge({
    name: 'db_pool_connections', help: 'Database pool connections by state', labelNames: ['state'], registers: [registry],
    collect() {
      const pool = (deps.db.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
      if (!pool) return;
      this.set({ state: 'used' }, pool.numUsed());
      this.set({ state: 'free' }, pool.numFree());
      this.set({ state: 'pending' }, pool.numPendingAcquires());
    },
  });
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
