import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

export interface StripeCall {
  method: string;
  path: string;
  /** The form body as Stripe's SDK encodes it, flat: `line_items[0][price_data][currency]` → `eur`. */
  params: Record<string, string>;
  idempotencyKey: string | undefined;
  authorization: string | undefined;
}

/**
 * A small Stripe-API-compatible server on loopback, enough for the real SDK to create Checkout
 * and billing-portal sessions. It records every request and replays the stored answer for a
 * repeated Idempotency-Key, as Stripe does.
 */
export async function startFakeStripe() {
  const calls: StripeCall[] = [];
  const byKey = new Map<string, { status: number; body: unknown }>();
  let failures: { status: number; body: unknown }[] = [];
  let n = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      const call: StripeCall = { method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, params, idempotencyKey: req.headers['idempotency-key'] as string | undefined, authorization: req.headers.authorization };
      calls.push(call);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${++n}` });
        res.end(JSON.stringify(body));
      };
      const failure = failures.shift();
      if (failure) return send(failure.status, failure.body);
      const replay = call.idempotencyKey ? byKey.get(call.idempotencyKey) : undefined;
      if (replay) return send(replay.status, replay.body);
      const answer = respond(call, ++n);
      if (call.idempotencyKey) byKey.set(call.idempotencyKey, answer);
      send(answer.status, answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    calls,
    /** The next `count` requests answer this error (Stripe's error body shape). */
    fail(status: number, count = 1, error: Record<string, unknown> = { type: 'api_error', message: 'boom' }) {
      failures = Array.from({ length: count }, () => ({ status, body: { error } }));
    },
    reset() {
      calls.length = 0;
      failures = [];
    },
    async close() {
      await new Promise((r) => server.close(r));
    },
  };
}

export type FakeStripe = Awaited<ReturnType<typeof startFakeStripe>>;

function respond(call: StripeCall, n: number): { status: number; body: unknown } {
  const created = Math.floor(Date.now() / 1000);
  if (call.method === 'POST' && call.path === '/v1/checkout/sessions') {
    const id = `cs_test_${n}`;
    return {
      status: 200,
      body: {
        id, object: 'checkout.session', mode: call.params.mode, status: 'open', payment_status: 'unpaid', created,
        client_reference_id: call.params.client_reference_id ?? null, success_url: call.params.success_url, cancel_url: call.params.cancel_url,
        metadata: { user_id: call.params['metadata[user_id]'], listing_id: call.params['metadata[listing_id]'] },
        url: `https://checkout.stripe.com/c/pay/${id}`,
      },
    };
  }
  if (call.method === 'POST' && call.path === '/v1/billing_portal/sessions') {
    const id = `bps_test_${n}`;
    return { status: 200, body: { id, object: 'billing_portal.session', customer: call.params.customer, return_url: call.params.return_url, created, url: `https://billing.stripe.com/p/session/${id}` } };
  }
  return { status: 404, body: { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${call.method}: ${call.path})` } } };
}

/** A signed webhook delivery: the JSON payload and its Stripe-Signature header. */
export function signedEvent(secret: string, event: Record<string, unknown>, opts: { timestamp?: number } = {}): { payload: string; signature: string } {
  const payload = JSON.stringify(event);
  const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(opts.timestamp === undefined ? {} : { timestamp: opts.timestamp }) });
  return { payload, signature };
}

let seq = 0;
/** A Stripe event envelope around `object`. `created` is in seconds, as Stripe sends it. */
export function stripeEvent(type: string, object: Record<string, unknown>, opts: { id?: string; created?: number } = {}): Record<string, unknown> {
  return {
    id: opts.id ?? `evt_test_${Date.now().toString(36)}_${++seq}`,
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: opts.created ?? Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  };
}
