import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { createDrain, createHttpApp, koaBody } from '#shared/http/index.js';
import { AppError, HttpErrors, StorageErrors, appError } from '#shared/errors/index.js';
import { BillingErrors } from '#api/features/billing/index.js';
import type { Config } from '#shared/config/index.js';
import { testConfig } from '../../helpers/config.js';
import { captureLogger } from '../../helpers/log-capture.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
const json = (r: Response): Promise<any> => r.json();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PLANTED = 'planted-secret-7f3a9c';

describe('shared/http app base', () => {
  let config: Config;
  let cleanup: () => Promise<void>;
  let server: http.Server;
  let base: string;
  let logs: ReturnType<typeof captureLogger>;
  const checks = { db: async () => {}, cache: async () => {} };

  async function serve(overrides: Partial<Config['http']> = {}) {
    logs = captureLogger();
    const cfg = { ...config, http: { ...config.http, ...overrides } } as Config;
    const app = createHttpApp({ config: cfg, logger: logs.logger, publicUrl: 'http://localhost', readiness: { db: () => checks.db(), cache: () => checks.cache() }, drain: createDrain() });
    app.use(async (ctx, next) => {
      if (ctx.path === '/boom') throw new Error(`db at 10.0.0.5 said ${PLANTED}`);
      if (ctx.path === '/conflict') throw appError(StorageErrors, 'UNIQUE_VIOLATION', { data: { constraint: 'users_email_unique' } });
      if (ctx.path === '/unavailable') throw appError(StorageErrors, 'DATABASE_UNAVAILABLE', { cause: new Error(PLANTED) });
      if (ctx.path === '/hidden') throw new AppError(502, 'UPSTREAM', `upstream ${PLANTED}`);
      if (ctx.path === '/by-design') throw appError(HttpErrors, 'SHUTTING_DOWN');
      if (ctx.path === '/billing-off') throw appError(BillingErrors, 'BILLING_NOT_CONFIGURED');
      return next();
    });
    app.use(koaBody({ limitBytes: cfg.http.bodyLimitBytes }));
    app.use(async (ctx, next) => {
      if (ctx.path !== '/echo') return next();
      ctx.body = { got: (ctx.request as unknown as { body: unknown }).body };
    });
    server = http.createServer(app.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  before(async () => {
    ({ config, cleanup } = await testConfig());
  });
  afterEach(async () => {
    checks.db = async () => {};
    checks.cache = async () => {};
    await new Promise((r) => server.close(r));
  });
  after(() => cleanup());

  it('generates a request id, echoes it and puts it in error bodies', async () => {
    await serve();
    const res = await fetch(`${base}/nowhere`, { headers: { 'X-Request-Id': 'client-chosen-id' } });
    const id = res.headers.get('x-request-id')!;
    expect(id).to.match(UUID);
    expect(res.status).to.equal(404);
    expect(await json(res)).to.deep.equal({ error: { code: 'NOT_FOUND', message: 'No such resource.', requestId: id } });
  });

  it('keeps a trusted incoming request id only when it is plain and short', async () => {
    await serve({ trustRequestId: true });
    const ok = await fetch(`${base}/healthz`, { headers: { 'X-Request-Id': 'lb-1234.abc' } });
    expect(ok.headers.get('x-request-id')).to.equal('lb-1234.abc');
    const bad = await fetch(`${base}/healthz`, { headers: { 'X-Request-Id': 'x'.repeat(200) } });
    expect(bad.headers.get('x-request-id')).to.match(UUID);
    const injected = await fetch(`${base}/healthz`, { headers: { 'X-Request-Id': 'a b"c' } });
    expect(injected.headers.get('x-request-id')).to.match(UUID);
  });

  it('answers an unexpected error with a generic 500 that leaks nothing, and logs it server-side', async () => {
    await serve();
    const res = await fetch(`${base}/boom`);
    const text = await res.text();
    expect(res.status).to.equal(500);
    expect(JSON.parse(text)).to.deep.equal({ error: { code: 'INTERNAL_ERROR', message: 'Internal server error.', requestId: res.headers.get('x-request-id') } });
    expect(text).not.to.contain(PLANTED);
    expect(text).not.to.contain('10.0.0.5');
    expect(logs.text()).to.contain('unhandled error');
  });

  it('logs an answer given by design (expected 503) as a warning with its code, not an error with a stack', async () => {
    await serve();
    const res = await fetch(`${base}/by-design`);
    expect(res.status).to.equal(503);
    expect((await json(res)).error.code).to.equal('SHUTTING_DOWN');
    const line = logs.lines().find((l) => l.code === 'SHUTTING_DOWN')!;
    expect([line.level, line.msg, line.status]).to.deep.equal(['warn', 'answered by design', 503]);
    expect(logs.text()).not.to.contain('unhandled error');
    expect(logs.text()).not.to.contain('"stack"');
    // The case an operator reported: billing not configured is a state, not a fault.
    const billing = await fetch(`${base}/billing-off`);
    expect(billing.status).to.equal(503);
    const billingLine = logs.lines().find((l) => l.code === 'BILLING_NOT_CONFIGURED')!;
    expect([billingLine.level, billingLine.msg]).to.deep.equal(['warn', 'answered by design']);
    expect(logs.text()).not.to.contain('unhandled error');
  });

  it('never exposes the message of a non-503 5xx AppError', async () => {
    await serve();
    const res = await fetch(`${base}/hidden`);
    expect(res.status).to.equal(502);
    const body = await json(res);
    expect(body.error.code).to.equal('INTERNAL_ERROR');
    expect(JSON.stringify(body)).not.to.contain(PLANTED);
  });

  it('keeps the status, code and details of domain errors', async () => {
    await serve();
    const res = await fetch(`${base}/conflict`);
    expect(res.status).to.equal(409);
    const body = await json(res);
    expect(body.error).to.deep.include({ code: 'UNIQUE_VIOLATION', details: { constraint: 'users_email_unique' } });
  });

  it('answers 503 DATABASE_UNAVAILABLE with the fixed message, not the cause', async () => {
    await serve();
    const res = await fetch(`${base}/unavailable`);
    expect(res.status).to.equal(503);
    const body = await json(res);
    expect(body.error).to.deep.include({ code: 'DATABASE_UNAVAILABLE', message: 'The database is unavailable.' });
    expect(JSON.stringify(body)).not.to.contain(PLANTED);
  });

  it('limits body size (413 PAYLOAD_TOO_LARGE) and rejects malformed JSON (400 INVALID_JSON)', async () => {
    await serve({ bodyLimitBytes: 1024 });
    const big = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'x'.repeat(2000) }) });
    expect(big.status).to.equal(413);
    expect((await json(big)).error.code).to.equal('PAYLOAD_TOO_LARGE');
    const bad = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    expect(bad.status).to.equal(400);
    expect((await json(bad)).error.code).to.equal('INVALID_JSON');
    const ok = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await json(ok)).to.deep.equal({ got: { a: 1 } });
  });

  it('sets security headers that forbid framing and sniffing', async () => {
    await serve();
    const res = await fetch(`${base}/healthz`);
    expect(res.headers.get('content-security-policy')).to.contain("frame-ancestors 'none'");
    expect(res.headers.get('content-security-policy')).to.contain("default-src 'none'");
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(res.headers.get('referrer-policy')).to.equal('no-referrer');
    expect(res.headers.get('strict-transport-security')).to.equal(null); // http public URL: no HSTS
  });

  it('logs one line per request without credentials, cookies or query strings', async () => {
    await serve();
    await fetch(`${base}/healthz?login_hint=alice@example.com`, { headers: { authorization: `Bearer ${PLANTED}`, cookie: `sid=${PLANTED}` } });
    const line = logs.lines().find((l) => l.msg === 'request');
    expect(line).to.include({ method: 'GET', path: '/healthz', status: 200 });
    expect(logs.text()).not.to.contain(PLANTED);
    expect(logs.text()).not.to.contain('alice@example.com');
  });

  it('serves /healthz without touching dependencies and /readyz from every check', async () => {
    await serve();
    checks.db = async () => {
      throw new Error('down');
    };
    const live = await fetch(`${base}/healthz`);
    expect(live.status).to.equal(200);
    expect(await json(live)).to.deep.equal({ status: 'ok' });
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).to.equal(503);
    const body = await json(notReady);
    expect(body.error.code).to.equal('NOT_READY');
    expect(body.error.details).to.deep.equal({ checks: { db: 'unavailable', cache: 'ok' } });
    checks.db = async () => {};
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).to.equal(200);
    expect(await json(ready)).to.deep.equal({ status: 'ready', checks: { db: 'ok', cache: 'ok' } });
  });

  it('reports a readiness check that hangs as a timeout instead of hanging', async function () {
    this.timeout(5000);
    await serve();
    checks.cache = () => new Promise(() => undefined);
    const res = await fetch(`${base}/readyz`);
    expect(res.status).to.equal(503);
    expect((await json(res)).error.details.checks.cache).to.equal('timeout');
  });
});
