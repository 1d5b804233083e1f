import type Router from '@koa/router';
import type { Knex } from 'knex';
import type Stripe from 'stripe';
import type { Config } from '#shared/config/index.js';
import type { Logger } from '#shared/logging/logger.js';
import type { Audit } from '#shared/audit/index.js';
import type { RouteContract } from '../http/contract.js';
import { checkoutRoutes } from '../routes/checkout.js';
import { usageRoutes } from '../routes/usage.js';
import { stripeWebhookRoutes } from '../routes/webhooks.js';
import { createCheckoutService } from './checkout.js';
import { createStripeClient } from './stripe-client.js';
import { createUsageService } from './usage.js';
import { createStripeWebhookService } from './webhook.js';
import type { StripeEventHandler } from './stripe-events/index.js';

export { validateReturnUrl, type ReturnUrlPolicy, type ReturnUrlVerdict } from './return-url.js';
export { createStripeClient } from './stripe-client.js';
export { stripeEventHandlers, type StripeEventHandler } from './stripe-events/index.js';
export { billing as billingMigration } from '#shared/db/migrations/0006_billing.js';

export interface BillingDeps {
  db: Knex;
  config: Pick<Config, 'stripe' | 'frontendOrigins' | 'isProduction'>;
  /** Defaults to the client built from config.stripe (undefined when no secret key: 503s). */
  stripe?: Stripe | undefined;
  /** returnUrl allow-list; defaults to the FRONTEND_URL origins. */
  returnUrlOrigins?: readonly string[];
  now?: () => number;
}

/** Checkout, customer portal and usage: contract routes (auth, RBAC, zod, OpenAPI). */
export function billingRoutes(deps: BillingDeps): RouteContract[] {
  const stripe = 'stripe' in deps ? deps.stripe : createStripeClient(deps.config);
  const checkout = createCheckoutService({
    db: deps.db,
    stripe,
    returnUrls: { allowedOrigins: deps.returnUrlOrigins ?? deps.config.frontendOrigins, allowHttpLocalhost: !deps.config.isProduction },
    ...(deps.now ? { now: deps.now } : {}),
  });
  const usage = createUsageService({ db: deps.db, ...(deps.now ? { now: deps.now } : {}) });
  return [...checkoutRoutes(checkout), ...usageRoutes(usage)];
}

/** The Stripe webhook: a plain router (raw body, no auth, no contract body parser). */
export function billingWebhookRouter(deps: {
  db: Knex;
  config: Pick<Config, 'stripe'>;
  logger: Logger;
  /** Audits entitlement changes; the webhook's own outcome is audited at the edge (koa-audit). */
  audit?: Pick<Audit, 'record'>;
  handlers?: Readonly<Record<string, StripeEventHandler>>;
  now?: () => number;
}): Router {
  const webhooks = createStripeWebhookService({
    db: deps.db,
    logger: deps.logger.child({ component: 'stripe-webhook' }),
    ...(deps.audit ? { audit: deps.audit } : {}),
    ...(deps.handlers ? { handlers: deps.handlers } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });
  return stripeWebhookRoutes({ webhookSecret: deps.config.stripe.webhookSecret, webhooks });
}
