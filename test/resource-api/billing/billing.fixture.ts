import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { expect } from 'chai';
import { createContainer, readinessChecks, type Container } from '#shared/container.js';
import { createDrain, createHttpApp, mountRouter } from '#shared/http/index.js';
import { migrateLatest, migrations, type Knex } from '#shared/db/index.js';
import type { Config } from '#shared/config/index.js';
import { createAccessTokenVerifier } from '#api/auth/access-token.js';
import { koaAuth } from '#api/middleware/koa-auth.js';
import { registerRoutes } from '#api/http/contract.js';
import { billingRoutes, billingWebhookRouter, startBillingWorker, stripeEventHandlers, stripeWebhookDoc, type StripeEventHandler } from '#api/features/billing/index.js';
import { usageFeature } from '#api/features/usage/index.js';
import { startSystem, type System, type Backend } from '../../helpers/system.js';
import { HttpBrowser } from '../../helpers/http-browser.js';
import { captureLogger } from '../../helpers/log-capture.js';
import { startFakeStripe, signedEvent, stripeEvent } from '../../helpers/fake-stripe.js';
import { PG_SKIP_REASON, PG_URL } from '../../helpers/services.js';
import { PASSWORD, REDIRECT, discover, signedInTokens } from '../../authz-server/oidc.flow.js';
import { checkAnswer, responseChecker } from '../responses.js';
import { eventSettled, type StoredEvent } from './webhook-queue.helpers.js';

export const WEBHOOK_SECRET = 'whsec_portcullis_test_secret';
export const FRONTEND = 'https://app.example.com';
export const BILLING_SCOPES = 'openid checkout:create usage:report usage:read';

export interface ListingSpec {
  priceType?: 'one_time' | 'recurring';
  interval?: 'month' | 'year' | null;
  amountMinor?: number;
  units?: number;
  period?: 'month' | 'year' | 'once';
  status?: 'draft' | 'published' | 'suspended' | 'deleted';
  currency?: string;
}

interface CallOptions { token?: string; json?: unknown; headers?: Record<string, string>; base?: 'main' | 'bare' }

/**
 * A real authz-server process (tokens) and, in this process, the API with the checkout and usage routes,
 * the Stripe webhook and its worker mounted as resource-api/app.ts mounts them, on a database migrated
 * with the registry. `bare` is a second app on the same database whose config has no Stripe at all
 * (development without STRIPE_* set). The real Stripe SDK talks to a fake Stripe on loopback. `settings`:
 * more environment (e.g. the worker's STRIPE_WEBHOOK_RETRY_BASE_MS).
 */
export async function startBillingApi(backend: Backend, pgUrl?: string, settings: Record<string, string> = {}) {
  const stripe = await startFakeStripe();
  const env: System = await startSystem({
    backend,
    ...(pgUrl ? { pgUrl } : {}),
    authz: 0,
    env: { FRONTEND_URL: `${FRONTEND},http://localhost:3000`, STRIPE_SECRET_KEY: 'sk_test_portcullis', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_URL: stripe.url, ...settings },
  });
  const authz = await env.startAuthz();
  await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'listings:read', 'checkout:create', 'usage:report', 'usage:read'] });
  const oidcConfig = await discover(authz.issuer, 'agent');

  const logs = captureLogger('resource-api');
  const container: Container = await createContainer(env.config, logs.logger);
  const { db } = container;
  await migrateLatest(db, migrations);

  let failuresLeft = 0;
  const handlers: Record<string, StripeEventHandler> = Object.fromEntries(
    Object.entries(stripeEventHandlers).map(([type, handler]) => [type, (async (trx, event, ctx) => {
      await handler(trx, event, ctx);
      // After the effects, so the test proves they are rolled back with the failure.
      if (failuresLeft > 0) {
        failuresLeft--;
        throw new Error('injected handler failure');
      }
    }) satisfies StripeEventHandler]),
  );

  // The worker as app.ts starts it, with the handlers above (failures injected in this process only).
  const startWorker = () => startBillingWorker({ db, config: env.config, logger: logs.logger, metrics: container.metrics, audit: container.audit, changes: container.changes, handlers });
  let worker: ReturnType<typeof startWorker> | undefined = startWorker();
  const wake = { wake: () => worker?.wake() };
  const contractsFor = (config: Config) => [...billingRoutes({ db, config }), ...usageFeature.contracts({ db, config })];
  // Every answer is checked against its route's contract (response schema, documented errors).
  const responses = responseChecker(contractsFor(env.config), [stripeWebhookDoc]);

  async function serve(config: Config): Promise<{ url: string; server: http.Server }> {
    const app: Koa = createHttpApp({ config, logger: logs.logger, publicUrl: config.api.audience, readiness: readinessChecks(container), drain: createDrain() });
    const authDeps = { db, auth: container.auth, config, verifyToken: createAccessTokenVerifier(config, { jwksCooldownMs: 0 }) };
    mountRouter(app, billingWebhookRouter({ db, config, audit: container.audit, handlers, worker: wake }));
    mountRouter(app, registerRoutes(contractsFor(config), { auth: koaAuth(authDeps), optionalAuth: koaAuth(authDeps, { optional: true }), bodyLimitBytes: config.http.bodyLimitBytes, audit: container.audit }));
    const server = http.createServer(app.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
  }
  const main = await serve(env.config);
  const bare = await serve({ ...env.config, stripe: { secretKey: undefined, webhookSecret: undefined, apiUrl: undefined } });
  const publisherId = await env.createUser({ email: 'pat@example.com', password: PASSWORD, name: 'Pat', role: 'publisher' });
  const tokens = new Map<string, string>();

  const api = {
    url: main.url,
    db: db as Knex,
    stripe,
    logs,
    env,
    /** The worker's id (`locked_by` while it holds an event); undefined while stopped. */
    workerId: () => worker?.id,
    /** Stops the worker: deliveries are stored, nothing is applied until startWorker(). */
    async stopWorker() {
      await worker?.stop();
      worker = undefined;
    },
    startWorker() {
      worker ??= startWorker();
    },
    /** This process's /metrics text (the worker's counters, the queue's gauges). */
    metrics: () => container.metrics.registry.metrics(),
    /** The next `count` handler runs throw after doing their work (so the transaction must roll back). */
    failHandlers(count = 1) {
      failuresLeft = count;
    },
    user: (email: string, role = 'user') => env.createUser({ email, password: PASSWORD, role }),
    async token(email: string, scope = BILLING_SCOPES): Promise<string> {
      const key = `${email} ${scope}`;
      if (!tokens.has(key)) tokens.set(key, (await signedInTokens(oidcConfig, new HttpBrowser(), { email, scope })).access_token);
      return tokens.get(key)!;
    },
    async listing(spec: ListingSpec = {}): Promise<string> {
      const id = randomUUID();
      const now = Date.now();
      const status = spec.status ?? 'published';
      const priceType = spec.priceType ?? 'one_time';
      await db('listings').insert({
        id, slug: `agent-${id}`, publisher_id: publisherId, title: 'Research agent', summary: 'Finds things', description: 'Finds things well.',
        status, price_type: priceType, price_interval: priceType === 'recurring' ? (spec.interval ?? 'month') : null, currency: spec.currency ?? 'EUR',
        amount_minor: spec.amountMinor ?? 900, quota_units: spec.units ?? 100, quota_period: spec.period ?? (priceType === 'recurring' ? 'month' : 'once'),
        search_text: 'research agent', created_at: now, updated_at: now, published_at: status === 'published' ? now : null,
      });
      return id;
    },
    async call(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      if (opts.json !== undefined) headers['content-type'] ??= 'application/json';
      const body = opts.json === undefined ? undefined : typeof opts.json === 'string' ? opts.json : JSON.stringify(opts.json);
      const res = await fetch(`${opts.base === 'bare' ? bare.url : main.url}${path}`, { method, headers, body });
      await checkAnswer(responses, method, path, res);
      return res;
    },
    /**
     * Delivers an event as Stripe does: raw JSON body, signed (unless a signature is given). When the
     * answer says `queued`, waits until the worker has made its first attempt at it (eventSettled),
     * so what follows sees the event applied, or failed once; `wait: false` returns at once.
     */
    async deliver(event: Record<string, unknown>, opts: { secret?: string; timestamp?: number; signature?: string | null; base?: 'main' | 'bare'; wait?: boolean } = {}): Promise<Response> {
      const signed = signedEvent(opts.secret ?? WEBHOOK_SECRET, event, opts.timestamp === undefined ? {} : { timestamp: opts.timestamp });
      const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' };
      const signature = opts.signature === undefined ? signed.signature : opts.signature;
      if (signature !== null) headers['stripe-signature'] = signature;
      const res = await fetch(`${opts.base === 'bare' ? bare.url : main.url}${stripeWebhookDoc.path}`, { method: 'POST', headers, body: signed.payload });
      await checkAnswer(responses, 'POST', stripeWebhookDoc.path, res);
      if (opts.wait !== false && res.status === 200 && ((await res.clone().json()) as { outcome?: string }).outcome === 'queued') await eventSettled(db, event.id as string);
      return res;
    },
    /** The stored event once the worker has made an attempt at it (or it is ignored). */
    settled: (id: string, timeoutMs?: number): Promise<StoredEvent> => eventSettled(db, id, timeoutMs),
    async entitlements(where: Record<string, unknown>): Promise<Record<string, unknown>[]> {
      const rows: Record<string, unknown>[] = await db('entitlements').where(where).orderBy('granted_at');
      return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) && k !== 'id' ? Number(v) : v])));
    },
    async events(where: Record<string, unknown> = {}): Promise<Record<string, unknown>[]> {
      return db('stripe_events').where(where).orderBy('received_at');
    },
    /** audit_log rows (after the in-memory queue is written), oldest first. */
    async auditRows(where: Record<string, unknown> = {}): Promise<Record<string, unknown>[]> {
      await container.audit.flush();
      return db('audit_log').where(where).orderBy([{ column: 'created_at', order: 'asc' }, { column: 'id', order: 'asc' }]);
    },
    async count(table: string, where: Record<string, unknown> = {}): Promise<number> {
      const [row] = await db(table).where(where).count({ n: '*' });
      return Number(row!.n);
    },
    async close() {
      await Promise.all([main, bare].map(({ server }) => new Promise((r) => server.close(r))));
      await worker?.stop();
      await container.close();
      await env.close();
      await stripe.close();
    },
  };
  return api;
}

export type BillingApi = Awaited<ReturnType<typeof startBillingApi>>;

export async function expectError(res: Response, status: number, code: string): Promise<Record<string, unknown>> {
  const text = await res.text();
  expect(res.status, text).to.equal(status);
  const body = JSON.parse(text) as { error: { code: string } & Record<string, unknown> };
  expect(body.error.code, text).to.equal(code);
  return body.error;
}

/** Objects as Stripe sends them in events: only the fields our handlers read, plus identity. */
export const objects = {
  checkoutSession(o: { id?: string; userId: string; listingId: string; mode?: 'payment' | 'subscription'; paymentStatus?: string; subscription?: string | null; paymentIntent?: string | null; customer?: string }) {
    const id = o.id ?? `cs_test_${randomUUID().replaceAll('-', '')}`;
    return {
      id, object: 'checkout.session', mode: o.mode ?? 'payment', status: 'complete', payment_status: o.paymentStatus ?? 'paid', created: Math.floor(Date.now() / 1000),
      client_reference_id: o.userId, metadata: { user_id: o.userId, listing_id: o.listingId }, customer: o.customer ?? 'cus_test_1',
      subscription: o.subscription ?? null, payment_intent: o.mode === 'subscription' ? null : (o.paymentIntent === undefined ? `pi_${id}` : o.paymentIntent),
      customer_details: { email: 'someone@example.com' }, url: null,
    };
  },
  subscription(o: { id: string; userId: string; listingId: string; status: string; customer?: string }) {
    return { id: o.id, object: 'subscription', status: o.status, customer: o.customer ?? 'cus_test_1', metadata: { user_id: o.userId, listing_id: o.listingId }, items: { object: 'list', data: [] } };
  },
  invoice(o: { id?: string; subscription: string; userId: string; listingId: string; start: number; end: number; paymentIntent?: string; customer?: string }) {
    return {
      id: o.id ?? `in_${randomUUID().replaceAll('-', '')}`, object: 'invoice', status: 'paid', customer: o.customer ?? 'cus_test_1', period_start: o.start - 1, period_end: o.start,
      parent: { type: 'subscription_details', subscription_details: { subscription: o.subscription, metadata: { user_id: o.userId, listing_id: o.listingId } } },
      lines: { object: 'list', data: [{ id: 'il_1', object: 'line_item', period: { start: o.start, end: o.end } }] },
      payments: { object: 'list', data: o.paymentIntent ? [{ id: 'inpay_1', object: 'invoice_payment', payment: { type: 'payment_intent', payment_intent: o.paymentIntent } }] : [] },
    };
  },
  charge(o: { paymentIntent: string; refunded?: boolean }) {
    return { id: `ch_${randomUUID().replaceAll('-', '')}`, object: 'charge', payment_intent: o.paymentIntent, refunded: o.refunded ?? true, amount: 900, amount_refunded: o.refunded === false ? 100 : 900 };
  },
};

export { stripeEvent };

/** Runs `body` against SQLite, and PostgreSQL when DATABASE_URL is set, each with its own servers. */
export function billingSuites(title: string, body: (api: () => BillingApi) => void, settings: Record<string, string> = {}): void {
  const run = (backend: Backend) =>
    describe(`${title} (${backend})`, function () {
      this.timeout(120_000);
      let api: BillingApi;
      before(async () => {
        api = await startBillingApi(backend, PG_URL, settings);
      });
      after(async () => {
        await api?.close();
      });
      body(() => api);
    });
  run('sqlite');
  if (PG_URL) run('pg');
  else describe.skip(`${title} (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
}
