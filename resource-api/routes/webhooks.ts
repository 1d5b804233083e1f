import Router from '@koa/router';
import Stripe from 'stripe';
import { appError } from '#shared/errors/index.js';
import { BillingErrors } from '../errors/billing.js';
import { readRawBody } from '../billing/raw-body.js';
import type { StripeWebhookService } from '../billing/webhook.js';

/** Stripe's recommended tolerance for the signed timestamp (replay window). */
export const SIGNATURE_TOLERANCE_S = 300;

export interface WebhookRouteDeps {
  /** STRIPE_WEBHOOK_SECRET. Unset (development only: production refuses to start): 503, nothing processed. */
  webhookSecret: string | undefined;
  webhooks: StripeWebhookService;
  /** Largest accepted payload; Stripe events are far smaller. Default 1 MiB. */
  limitBytes?: number;
}

/**
 * POST /v1/webhooks/stripe: no auth (Stripe signs instead) and no JSON parser — the signature
 * covers the raw bytes, so the body is read here and verified with the SDK before anything else.
 */
export function stripeWebhookRoutes(deps: WebhookRouteDeps): Router {
  const limit = deps.limitBytes ?? 1024 * 1024;
  return new Router().post('/v1/webhooks/stripe', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const secret = deps.webhookSecret;
    if (!secret) throw appError(BillingErrors, 'BILLING_NOT_CONFIGURED');
    const header = ctx.get('Stripe-Signature');
    if (!header) throw appError(BillingErrors, 'WEBHOOK_SIGNATURE_INVALID');
    const payload = await readRawBody(ctx.req, limit);
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(payload, header, secret, SIGNATURE_TOLERANCE_S);
      // The SDK bounds only the signature's age; a timestamp far ahead would stretch the replay
      // window. Exactly one t= (the SDK reads the last one; an extra one must not hide it).
      const stamps = header.split(',').filter((part) => part.startsWith('t='));
      const signedAt = stamps.length === 1 ? Number(stamps[0]!.slice(2)) : NaN;
      if (!(signedAt <= Date.now() / 1000 + SIGNATURE_TOLERANCE_S)) throw new Error('signature timestamp missing, repeated or too far in the future');
    } catch (err) {
      throw appError(BillingErrors, 'WEBHOOK_SIGNATURE_INVALID', { cause: err });
    }
    const outcome = await deps.webhooks.process(event);
    ctx.status = 200;
    ctx.body = { received: true, outcome };
  });
}
