import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from '#shared/config/dev-secrets.js';
import { startSystem, type System } from '../helpers/system.js';
import { HttpBrowser } from '../helpers/http-browser.js';
import { freePort, runNode, serviceProcesses, SOURCE_FLAGS, type Proc } from '../helpers/process.js';
import { insertListing } from '../helpers/listings.js';
import { signedEvent, startFakeStripe, stripeEvent, type FakeStripe } from '../helpers/fake-stripe.js';
import { createTempDatabase, PG_URL } from '../helpers/services.js';
import { PASSWORD, REDIRECT, discover, signedInTokens, tokenRequest } from '../authz-server/oidc.flow.js';

/**
 * Threat: secrets leaking through output (security page row "Secrets"; DESIGN.md: "production
 * refuses to start without required secrets and never logs values"). Both services and the
 * admin CLI run with a planted, recognisable value in every secret setting of
 * shared/config/settings.ts, at LOG_LEVEL=debug; the test drives sign-in, tokens, the API, a
 * failing Stripe call, webhooks, failing mail and PostHog deliveries, /metrics, config:check
 * and a production start that fails on a missing secret — checks that each failure really was
 * logged — then searches every byte the processes printed and every file they wrote for each
 * planted value.
 *
 * DATABASE_URL carries a planted password when DATABASE_URL is set for the suite (PostgreSQL
 * here trusts loopback, so any password connects); otherwise only the failing production
 * start sees it. REDIS_URL with a planted password appears only in that start as well.
 */
const P = {
  AUTH_SECRET: 'PLANTED-auth-secret-6c1f0e9a4b7d2e8f',
  COOKIE_KEY_1: 'PLANTED-cookie-key-one-9d3b7a1c5e2f',
  COOKIE_KEY_2: 'PLANTED-cookie-key-two-4e8a2c6b0d1f',
  STRIPE_SECRET_KEY: 'sk_test_PLANTEDstripe7f3a9c1e5b',
  STRIPE_WEBHOOK_SECRET: 'whsec_PLANTEDwebhook2b8d4f6a0c',
  POSTHOG_API_KEY: 'phc_PLANTEDposthog5a1c9e3b7d',
  METRICS_TOKEN: 'PLANTED-metrics-token-8b2e6d0a4c',
  SMTP_PASSWORD: 'PLANTEDsmtpPass3f7b1d9e',
  DB_PASSWORD: 'PLANTEDdbPass0c4e8a2f6b',
  REDIS_PASSWORD: 'PLANTEDredisPass1a5c9e3f',
};

describe('security: secrets are never printed', function () {
  this.timeout(120_000);
  let env: System;
  let api: Proc;
  let stripe: FakeStripe;
  let posthog: http.Server;
  let dropDb: (() => Promise<void>) | undefined;
  const runs: Proc[] = [];
  const procs = serviceProcesses();
  let signingKeys: string;
  let planted: string[];

  before(async () => {
    stripe = await startFakeStripe();
    // PostHog that refuses every batch, so the audit sink has errors to (not) print. 401 is not
    // retried by posthog-node (a 5xx would be, 3 × 3 s, past the shutdown flush): the batch
    // flushed at SIGTERM fails at once and the sink logs its warning before the process exits.
    posthog = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid project key"}'));
    });
    await new Promise<void>((r) => posthog.listen(0, '127.0.0.1', r));
    signingKeys = await generate('SIGNING_KEYS');
    const privateParts = (JSON.parse(signingKeys) as { keys: Record<string, string>[] }).keys.flatMap((k) => ['d', 'p', 'q', 'dp', 'dq', 'qi'].map((m) => k[m]).filter((v): v is string => Boolean(v)));
    planted = [...Object.values(P), ...privateParts];

    const extra: Record<string, string> = {
      AUTH_SECRET: P.AUTH_SECRET,
      COOKIE_KEYS: `${P.COOKIE_KEY_1},${P.COOKIE_KEY_2}`,
      SIGNING_KEYS: signingKeys,
      STRIPE_SECRET_KEY: P.STRIPE_SECRET_KEY,
      STRIPE_WEBHOOK_SECRET: P.STRIPE_WEBHOOK_SECRET,
      STRIPE_API_URL: stripe.url,
      POSTHOG_API_KEY: P.POSTHOG_API_KEY,
      POSTHOG_HOST: `http://127.0.0.1:${(posthog.address() as AddressInfo).port}`,
      METRICS_TOKEN: P.METRICS_TOKEN,
      SMTP_URL: `smtp://mailer:${P.SMTP_PASSWORD}@127.0.0.1:${await freePort()}`,
      LOG_LEVEL: 'debug',
    };
    if (PG_URL) {
      const db = await createTempDatabase(PG_URL);
      dropDb = db.drop;
      const url = new URL(db.url);
      url.password = P.DB_PASSWORD;
      extra.DATABASE_URL = url.toString();
    }
    env = await startSystem({ backend: 'sqlite', env: extra, authz: 0, hosting: 'process' });
    const authz = await env.startAuthz({ LOG_LEVEL: 'debug' });
    runs.push(authz.proc);
    const apiPort = await freePort();
    api = await procs.start('resource-api', { ...env.env, API_PORT: String(apiPort), AUTHZ_INTERNAL_URL: authz.issuer, DB_MIGRATE_ON_START: 'false' }, 30_000);
    runs.push(api);
    await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access', 'checkout:create', 'usage:report'] });
    const buyer = await env.createUser({ email: 'secret-user@example.com', password: PASSWORD });
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const issuer = authz.issuer;

    // Sign-in (page, JSON, wrong password), tokens, userinfo; refresh and a refresh replay come after the API calls.
    const client = await discover(issuer, 'agent');
    const tokens = await signedInTokens(client, new HttpBrowser(), { email: 'secret-user@example.com', scope: 'openid offline_access checkout:create usage:report' });
    await fetch(`${issuer}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: issuer }, body: JSON.stringify({ email: 'secret-user@example.com', password: 'wrong password 1234' }) });
    // Sign-up mails go to an SMTP server that is not there: the failure is logged.
    await fetch(`${issuer}/account/sign-up`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'New', email: 'secret-new@example.com', password: PASSWORD }) });

    // The API: bearer calls, a Stripe call that fails, webhooks good and bad, malformed input.
    const bearer = { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' };
    expect((await fetch(`${apiUrl}/v1/me`, { headers: bearer })).status).to.equal(200);
    const listing = await insertListing(env.db, { publisherId: buyer, title: 'T', quotaUnits: 5 });
    stripe.fail(401, 10, { type: 'invalid_request_error', message: 'Invalid API Key provided' });
    expect((await fetch(`${apiUrl}/v1/checkout/sessions`, { method: 'POST', headers: bearer, body: JSON.stringify({ listingId: listing, returnUrl: 'http://localhost:3000/done' }) })).status).to.equal(502);
    const event = stripeEvent('checkout.session.completed', { id: 'cs_test_secret', object: 'checkout.session', mode: 'payment', payment_status: 'paid', client_reference_id: buyer, metadata: { user_id: buyer, listing_id: listing }, payment_intent: 'pi_secret', customer: 'cus_secret' });
    const good = signedEvent(P.STRIPE_WEBHOOK_SECRET, event);
    expect((await fetch(`${apiUrl}/v1/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': good.signature }, body: good.payload })).status).to.equal(200);
    const bad = signedEvent('whsec_not_the_secret', event);
    expect((await fetch(`${apiUrl}/v1/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': bad.signature }, body: bad.payload })).status).to.equal(400);
    await fetch(`${apiUrl}/v1/usage`, { method: 'POST', headers: bearer, body: '{"clientReqId":' });
    // A refresh, its successor used, then a replay of the first token: reuse even inside
    // REFRESH_RETRY_WINDOW_S. It revokes the grant, and with it the bearer token above (last).
    const rotated = await tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'agent' });
    expect(rotated.status).to.equal(200);
    expect((await tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: String(rotated.body.refresh_token), client_id: 'agent' })).status).to.equal(200);
    expect((await tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'agent' })).status).to.equal(400);
    for (const base of [issuer, apiUrl]) {
      expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer not-the-metrics-token' } })).status).to.equal(404);
      expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${P.METRICS_TOKEN}` } })).status).to.equal(200);
    }

    // The operator CLI with the same environment, and production with every secret planted but
    // one missing (it must fail, naming it, printing no value): both at once.
    const check = runNode([...SOURCE_FLAGS, 'scripts/admin.ts', 'config:check'], env.env);
    const prod = runNode([...SOURCE_FLAGS, 'authz-server/main.ts'], {
      ...env.env, NODE_ENV: 'production', COOKIE_KEYS: undefined, ISSUER_URL: 'https://login.portcullis.test', API_AUDIENCE: 'https://api.portcullis.test', AUTHZ_PORT: String(await freePort()),
      DATABASE_URL: `postgres://portcullis:${P.DB_PASSWORD}@127.0.0.1:1/portcullis`, REDIS_URL: `redis://:${P.REDIS_PASSWORD}@127.0.0.1:1`,
    });
    runs.push(check, prod);
    expect(await check.exited, check.output()).to.equal(0);
    expect(await prod.exited).to.equal(1);
    expect(prod.output()).to.contain('COOKIE_KEYS: is required in production');

    // Let off-request-path work (mail, audit sink, PostHog) fail and log, then stop cleanly.
    await new Promise((r) => setTimeout(r, 1000));
    await api.stop(5000);
    await authz.stop();
  });

  after(async function () {
    this.timeout(30_000);
    // Whatever is still running if the before hook failed part-way (the CLI and the production
    // start included): SIGTERM, SIGKILL after 2 s.
    await Promise.all(runs.map((p) => p.stop(2000)));
    await procs.stopAll(2000);
    await env?.close();
    await stripe?.close();
    await new Promise((r) => posthog?.close(r));
    await dropDb?.();
  });

  /** Every planted value, as is and in the encodings a logger or URL might apply. */
  function leaks(text: string): string[] {
    const found: string[] = [];
    for (const value of planted) {
      for (const form of new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64'), JSON.stringify(value).slice(1, -1)])) {
        if (text.includes(form)) found.push(value.slice(0, 24));
      }
    }
    return found;
  }

  it('the processes really ran into the failure paths the check relies on (mail, Stripe, PostHog, config)', () => {
    const out = runs.map((p) => p.output()).join('\n');
    expect(out).to.match(/mail failed/);
    // The refused Stripe call: the error handler's line for the 502 STRIPE_UNAVAILABLE (its catalogue
    // message, resource-api/features/billing/errors.ts), with the message of Stripe's error as the cause.
    expect(api.output()).to.match(/"level":"error"[^\n]*"message":"The payment provider did not answer\. Try again later\.: Invalid API Key provided"[^\n]*"msg":"unhandled error"/);
    // PostHog refused a batch, at the latest the one flushed at SIGTERM (shared/audit/posthog-sink.ts).
    expect(api.output()).to.match(/"status":401[^\n]*"msg":"PostHog delivery failed; audit events stay queued \(bounded\)"/);
    expect(out).to.contain('configuration valid');
    expect(out).to.match(/"path":"\/v1\/checkout\/sessions","status":502/); // the access log ran
  });

  it('no planted secret appears in anything a process printed (stdout and stderr)', () => {
    for (const p of runs) expect(leaks(p.output()), p.child.spawnargs.slice(-2).join(' ')).to.deep.equal([]);
  });

  it('no planted secret appears in any file the services wrote (data folder: database, outbox, logs)', async () => {
    const dir = env.env.DATA_DIR!;
    const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((f) => f.isFile()).map((f) => path.join(f.parentPath, f.name));
    if (!PG_URL) expect(files.map((f) => path.basename(f))).to.include('portcullis.sqlite');
    for (const file of files) expect(leaks((await readFile(file)).toString('latin1')), file).to.deep.equal([]);
  });
});
