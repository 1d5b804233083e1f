import Router from '@koa/router';
import Stripe from 'stripe';
import { z } from 'zod';
import { appError, HttpErrors } from '#shared/errors/index.js';
import type { Audit } from '#shared/audit/index.js';
import { errorCodes, type SignedRouteDoc } from '../../../http/contract.js';
import { koaAnswerAudit } from '../../../middleware/koa-audit.js';
import { BillingErrors } from '../errors.js';
import { webhookOutcome } from './audit.js';
import { readRawBody } from './raw-body.js';
import type { StripeWebhookService } from './service.js';

/** Stripe's recommended tolerance for the signed timestamp (replay window). */
export const SIGNATURE_TOLERANCE_S = 300;
const DEFAULT_LIMIT_BYTES = 1024 * 1024;

/** The envelope of a Stripe event; the route verifies the raw bytes and lets the SDK parse them. */
const StripeEvent = z
  .looseObject({ id: z.string(), object: z.literal('event'), type: z.string(), created: z.number().int(), livemode: z.boolean(), data: z.looseObject({ object: z.looseObject({}) }) })
  .meta({ id: 'StripeEvent' });
const WebhookAck = z.object({ received: z.literal(true), outcome: z.enum(['queued', 'ignored', 'duplicate']) }).meta({ id: 'StripeWebhookAck' });

/** The webhook as /openapi.json describes it; it is called by Stripe, never by API clients. */
export const stripeWebhookDoc: SignedRouteDoc = {
  method: 'post', path: '/v1/webhooks/stripe', operationId: 'receiveStripeWebhook', tag: 'billing',
  summary: 'Stripe event delivery: verified, stored once per event id, applied by the worker',
  description:
    `Called by Stripe. The raw body must verify against \`Stripe-Signature\` (STRIPE_WEBHOOK_SECRET, signed within ${SIGNATURE_TOLERANCE_S} s, exactly one \`t=\`) before it is parsed. ` +
    'A 2xx means the event is durably stored; a worker applies it afterwards, exactly once and in order per Stripe customer. ' +
    'A repeated event id changes nothing. Stripe delivers again after any answer but a 2xx.',
  signature: { scheme: 'stripeSignature', header: 'Stripe-Signature', description: '`t=<unix seconds>,v1=<HMAC-SHA256 of "t.body", hex>` as Stripe sends it.' },
  body: StripeEvent, response: WebhookAck, status: 200,
  statusText: {
    200: 'Stored: `queued` (the worker applies it), `ignored` (no handler for this event type) or `duplicate` (this event id was already stored)',
    400: 'The signature header is missing, does not match the raw body, or its timestamp is outside the tolerance: nothing is stored',
    413: `The body is over ${DEFAULT_LIMIT_BYTES} bytes: nothing is stored`,
    500: 'An unexpected error: nothing is stored, the redelivery is received afresh',
    503: 'Billing is not configured (no STRIPE_WEBHOOK_SECRET; development only) or the database is unavailable: nothing is stored',
  },
  errorCodes: [...errorCodes(BillingErrors, 'WEBHOOK_SIGNATURE_INVALID', 'BILLING_NOT_CONFIGURED'), ...errorCodes(HttpErrors, 'PAYLOAD_TOO_LARGE')],
  audit: webhookOutcome,
};

export interface WebhookRouteDeps {
  /** STRIPE_WEBHOOK_SECRET. Unset (development only: production refuses to start): 503, nothing processed. */
  webhookSecret: string | undefined;
  webhooks: Pick<StripeWebhookService, 'receive'>;
  /** Largest accepted payload; Stripe events are far smaller. Default 1 MiB. */
  limitBytes?: number;
  /** Where each delivery's outcome is recorded (stripeWebhookDoc.audit); none without it. */
  audit?: Pick<Audit, 'record'>;
}

/**
 * POST /v1/webhooks/stripe: no auth (Stripe signs instead) and no JSON parser — the signature
 * covers the raw bytes, so the body is read here and verified with the SDK before anything else.
 */
export function stripeWebhookRoutes(deps: WebhookRouteDeps): Router {
  const limit = deps.limitBytes ?? DEFAULT_LIMIT_BYTES;
  const audited = deps.audit ? [koaAnswerAudit(deps.audit, stripeWebhookDoc.audit)] : [];
  return new Router().post(stripeWebhookDoc.path, ...audited, async (ctx) => {
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
    const outcome = await deps.webhooks.receive(event, payload);
    ctx.status = 200;
    ctx.body = { received: true, outcome } satisfies z.input<typeof WebhookAck>;
  });
}
