import type Router from '@koa/router';
import type { Knex } from 'knex';
import type Stripe from 'stripe';
import type { Config } from '#shared/config/index.js';
import type { Logger } from '#shared/logging/logger.js';
import type { Audit } from '#shared/audit/index.js';
import type { ChangeBus } from '#shared/bus/index.js';
import type { Metrics } from '#shared/metrics/index.js';
import type { RouteContract } from '../../http/contract.js';
import type { ApiFeature } from '../feature.js';
import { checkoutRoutes } from './contracts.js';
import { BillingErrors } from './errors.js';
import { createCheckoutService } from './service.js';
import { createStripeClient } from './stripe-client.js';
import { stripeEventHandlers, type StripeEventHandler } from './stripe-events/index.js';
import { stripeWebhookDoc, stripeWebhookRoutes } from './webhook/route.js';
import { createStripeWebhookService } from './webhook/service.js';
import { registerQueueMetrics } from './webhook/metrics.js';
import { startStripeEventWorker, type StripeEventWorker } from './webhook/worker.js';

export interface BillingDeps {
  db: Knex;
  config: Pick<Config, 'stripe' | 'frontendOrigins' | 'isProduction'>;
  /** Defaults to the client built from config.stripe (undefined when no secret key: 503s). */
  stripe?: Stripe | undefined;
  /** returnUrl allow-list; defaults to the FRONTEND_URL origins. */
  returnUrlOrigins?: readonly string[];
  now?: () => number;
}

/** Checkout and the customer portal: contract routes (auth, RBAC, zod, OpenAPI). */
export function billingRoutes(deps: BillingDeps): RouteContract[] {
  const stripe = 'stripe' in deps ? deps.stripe : createStripeClient(deps.config);
  const checkout = createCheckoutService({
    db: deps.db,
    stripe,
    returnUrls: { allowedOrigins: deps.returnUrlOrigins ?? deps.config.frontendOrigins, allowHttpLocalhost: !deps.config.isProduction },
    ...(deps.now ? { now: deps.now } : {}),
  });
  return checkoutRoutes(checkout);
}

/** The Stripe webhook: a plain router (raw body, no auth, no contract body parser) that stores verified events. */
export function billingWebhookRouter(deps: {
  db: Knex;
  config: Pick<Config, 'stripe'>;
  /** Audits each delivery's outcome (stripeWebhookDoc.audit). */
  audit?: Pick<Audit, 'record'>;
  /** This process's Stripe event worker, woken when an event is stored. */
  worker?: Pick<StripeEventWorker, 'wake'> | undefined;
  handlers?: Readonly<Record<string, StripeEventHandler>>;
  now?: () => number;
}): Router {
  const webhooks = createStripeWebhookService({
    db: deps.db,
    ...(deps.worker ? { stored: () => deps.worker!.wake() } : {}),
    ...(deps.handlers ? { handlers: deps.handlers } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });
  return stripeWebhookRoutes({ webhookSecret: deps.config.stripe.webhookSecret, webhooks, ...(deps.audit ? { audit: deps.audit } : {}) });
}

/**
 * The worker that applies stored Stripe events (webhook/worker.ts), with its /metrics. Started in
 * each API process unless STRIPE_WEBHOOK_WORKER=false; without a webhook secret nothing is ever
 * stored, but events left by an earlier configuration are still applied.
 */
export function startBillingWorker(deps: {
  db: Knex;
  config: Pick<Config, 'webhooks'>;
  logger: Logger;
  metrics?: Pick<Metrics, 'registry'>;
  /** entitlement.granted / entitlement.revoked and webhook.processed / failed / dead_lettered. */
  audit?: Pick<Audit, 'record'>;
  /** Announces the entitlements an event changed (their caches at every API replica). */
  changes?: Pick<ChangeBus, 'publish'>;
  handlers?: Readonly<Record<string, StripeEventHandler>>;
  now?: () => number;
}): StripeEventWorker {
  const now = deps.now ?? Date.now;
  return startStripeEventWorker({
    db: deps.db,
    logger: deps.logger.child({ component: 'stripe-events' }),
    options: deps.config.webhooks,
    handlers: deps.handlers ?? stripeEventHandlers,
    now,
    ...(deps.metrics ? { metrics: registerQueueMetrics(deps.metrics.registry, deps.db, now) } : {}),
    ...(deps.audit ? { audit: deps.audit } : {}),
    ...(deps.changes ? { bus: deps.changes } : {}),
  });
}

/** /v1/checkout and the Stripe webhook that grants what was bought (entitlements), through its queue. */
export const billingFeature: ApiFeature = {
  name: 'billing',
  contracts: ({ db, config }) => billingRoutes({ db, config }),
  signedRoutes: [{ doc: stripeWebhookDoc, router: (c) => billingWebhookRouter(c) }],
  worker: (c) => (c.config.webhooks.worker ? startBillingWorker(c) : undefined),
  errors: { BillingErrors },
};

// What other features and the tests may use: entitlements (reviews require one, usage consumes
// their quota, /v1/me lists them), their NOT_ENTITLED, the quota periods, the event handlers.
export { BillingErrors } from './errors.js';
export { activeEntitlements, hasActiveEntitlement, type BillingEntitlementRow } from './queries.js';
export { periodContaining } from './periods.js';
export { validateReturnUrl, type ReturnUrlPolicy, type ReturnUrlVerdict } from './return-url.js';
export { createStripeClient } from './stripe-client.js';
export { stripeEventHandlers, type StripeEventHandler } from './stripe-events/index.js';
export { stripeWebhookDoc } from './webhook/route.js';
export type { StripeEventWorker } from './webhook/worker.js';
