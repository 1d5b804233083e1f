/**
 * `npm run bench`: every case measured against a baseline in the same run, printed as tables.
 * Needs PostgreSQL and Redis (DATABASE_URL / REDIS_URL, default the local ones); creates and
 * drops its own database and Redis key prefix. Loopback only, bounded, stops by itself.
 * Knobs: BENCH_DURATION_S (per timed case, default 5), BENCH_REFRESH_REQUESTS (refresh grants
 * per case, default 1500), BENCH_REFRESH_WARM (unmeasured ones before, default 1000), BENCH_DPOP_REQUESTS (DPoP-bound reads, default 5000), BENCH_FILLER_TOKENS (stored tokens for the history case, default
 * 1000000), BENCH_ONLY=jwt (only the in-process verification bench), BENCH_ONLY=refresh (only the
 * refresh-grant cases: token endpoint with ES256 and RS256 API tokens, and the history case; a
 * comma-separated list of read, token, usage, write, history, revoke selects phases; write includes usage), BENCH_REVOCATIONS
 * (revocations timed across two API replicas, default 200), BENCH_LOG_LEVEL (services, default
 * info as in production).
 */
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import Stripe from 'stripe';
import { jwtVerifyBench } from './jwt-verify.js';
import { load, type LoadOptions, type LoadResult } from './lib/cannon.js';
import { createStack, freePort, startService, WEBHOOK_SECRET, type Service } from './lib/stack.js';
import { dpopKey, dpopRefresh, proofPool } from './lib/dpop.js';
import { waitPastBusStart } from './lib/bus.js';
import { usageWorkload } from './lib/usage.js';
import { quantile, revocationLatency } from './revocation.js';

const DURATION = Number(process.env.BENCH_DURATION_S ?? 5);
const REFRESH_N = Number(process.env.BENCH_REFRESH_REQUESTS ?? 1500);
const DPOP_N = Number(process.env.BENCH_DPOP_REQUESTS ?? 5000);
const WARM_N = 200;
/**
 * Unmeasured refresh grants before each refresh case: a fresh authz-server process (Koa, knex,
 * pg, oidc-provider) keeps getting faster for a thousand or more requests, the bare provider far
 * sooner; 200 measured the JIT more than the grant.
 */
const REFRESH_WARM_N = Number(process.env.BENCH_REFRESH_WARM ?? 1000);
/** Pool items beyond warm-up + measured requests: autocannon prepares requests ahead on every connection. */
const SLACK = 100;
const FILLER = Number(process.env.BENCH_FILLER_TOKENS ?? 1_000_000);
const BASE_DB = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const out = (s = '') => process.stdout.write(s + '\n');
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

out(`# npm run bench — ${new Date().toISOString()}`);
out(`Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`);
out();

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 3000);
out(`## Access-token verification and signing (in process, ${ITERATIONS} each)`);
out('| case | operations/s | ratio to raw jose verify (same alg) |');
out('|---|---:|---:|');
const rawVerify: Record<string, number> = {};
for (const alg of ['RS256', 'ES256'] as const) {
  const jwt = await jwtVerifyBench(ITERATIONS, alg);
  rawVerify[alg] = jwt[0]!.opsPerSec;
  for (const r of jwt) out(`| ${r.name} | ${fmt(r.opsPerSec)} | ${(r.opsPerSec / jwt[0]!.opsPerSec).toFixed(2)}× |`);
}
out();
const only = new Set((process.env.BENCH_ONLY ?? '').split(',').filter(Boolean));
type Phase = 'read' | 'token' | 'usage' | 'write' | 'history' | 'revoke';
// `refresh`: the refresh-grant cases of the token and history phases, nothing else. `write`: usage and webhooks.
const want = (phase: Phase) => only.size === 0 || only.has(phase) || (only.has('refresh') && (phase === 'token' || phase === 'history')) || (phase === 'usage' && only.has('write'));
const refreshOnly = only.size > 0 && !only.has('token');
if (!['read', 'token', 'usage', 'write', 'history', 'revoke'].some((p) => want(p as Phase))) process.exit(0);

await new pg.Client({ connectionString: BASE_DB }).connect().then((c) => c.end()).catch((err: Error) => {
  out(`PostgreSQL is needed for the HTTP benchmarks (${err.message}); set DATABASE_URL.`);
  process.exit(1);
});

const stack = await createStack({ baseDbUrl: BASE_DB, redisUrl: REDIS, logLevel: process.env.BENCH_LOG_LEVEL ?? 'info' });
const services: Service[] = [];
const logDir = stack.dataDir;
const rows: { group: string; r: LoadResult; baseline?: LoadResult; extra?: string }[] = [];
/** CPU time (user + system, ms) a process has used so far, from /proc (Linux). */
const cpuMs = async (pid: number | undefined): Promise<number | undefined> => {
  if (!pid) return undefined;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!stat) return undefined;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
};
const CLK_TCK = 100; // USER_HZ: fixed at 100 by the Linux ABI for /proc tick counts
/** BENCH_THREADS=1: CPU ms per thread name of the server during the measured run (diagnosis). */
const threadCpu = async (pid: number | undefined): Promise<Map<string, number>> => {
  const m = new Map<string, number>();
  if (!pid || !process.env.BENCH_THREADS) return m;
  const { readdir } = await import('node:fs/promises');
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const [comm, stat] = await Promise.all([readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8').catch(() => '?'), readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '')]);
    if (!stat) continue;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const name = tid === String(pid) ? 'main' : comm.trim();
    m.set(name, (m.get(name) ?? 0) + ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK);
  }
  return m;
};
const cpuPerReq = new Map<LoadResult, number>();
const measure = async (name: string, o: LoadOptions, warm: Partial<LoadOptions> = { duration: 2 }, server?: Service) => {
  // One request first: a case whose answer is wrong measures nothing.
  const n = o.next?.();
  const probe = await fetch(o.url, { method: o.method ?? 'GET', headers: { ...o.headers, ...n?.headers }, body: n?.body ?? o.body });
  if (probe.status !== (o.expectStatus ?? 200)) throw new Error(`${name}: answered ${probe.status} ${await probe.text()}`);
  await probe.arrayBuffer().catch(() => undefined);
  await load(`${name} (warm-up)`, { ...o, ...warm });
  const cpu0 = await cpuMs(server?.child.pid);
  const th0 = await threadCpu(server?.child.pid);
  const r = await load(name, o);
  const cpu1 = await cpuMs(server?.child.pid);
  const th1 = await threadCpu(server?.child.pid);
  if (th1.size) out(`    threads (ms): ${[...th1].map(([k, v]) => `${k} ${Math.round(v - (th0.get(k) ?? 0))}`).join(', ')}`);
  if (cpu0 !== undefined && cpu1 !== undefined) cpuPerReq.set(r, ((cpu1 - cpu0) * 1000) / r.total);
  out(`  ${name}: ${fmt(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms${cpuPerReq.has(r) ? `, ${fmt(cpuPerReq.get(r)!)} µs server CPU/request` : ''}${r.bad ? `, ${r.bad} unexpected answers (${JSON.stringify(r.statuses)})` : ''}`);
  return r;
};
/** A one-shot pool consumed by `next` (refresh tokens): warm-up and measured run take distinct items. */
const pooled = <T>(items: T[]) => {
  let i = 0;
  return () => {
    // autocannon builds each connection's next request ahead: a few items go unused at the end.
    if (i >= items.length) throw new Error('request pool exhausted');
    return items[i++]!;
  };
};
const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const start = async (name: string, script: string, env: Record<string, string>, port: number, ready = '/healthz') => {
  const s = await startService(name, script, env, port, logDir, ready);
  services.push(s);
  return s;
};

try {
  const bareKoaPort = await freePort();
  const bareKoa = await start('bare-koa', 'bench/servers/bare-koa.ts', { BENCH_PORT: String(bareKoaPort), DATABASE_URL: stack.dbUrl }, bareKoaPort, '/json');
  const authz = await start('authz-server', 'authz-server/main.ts', stack.env, Number(stack.env.AUTHZ_PORT));
  const api = await start('resource-api', 'resource-api/main.ts', stack.env, Number(stack.env.API_PORT));
  const tokenUrl = `${authz.url}/token`;
  // As in a long-running deployment: tokens minted from here on are judged from the bus's memory.
  await waitPastBusStart(REDIS, stack.env.REDIS_KEY_PREFIX!);

  // Access tokens as an agent gets them: refresh grants at the real token endpoint.
  const refresh = async (rt: string) => {
    const res = await fetch(tokenUrl, { method: 'POST', headers: FORM, body: form({ grant_type: 'refresh_token', refresh_token: rt, client_id: 'bench-agent' }) });
    if (res.status !== 200) throw new Error(`refresh grant answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const accessTokens: string[] = [];
  if (want('read') || want('usage') || want('write')) for (const rt of await stack.seedTokens(100)) accessTokens.push(await refresh(rt));
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  // The read cases' tokens are signed with the stack's API_TOKEN_SIGNING_ALG.
  const rawJose = rawVerify[stack.config.tokens.apiTokenSigningAlg]!;
  let rr = 0;
  const rotating = () => ({ headers: bearer(accessTokens[rr++ % accessTokens.length]!) });

  if (want('read')) {
  out('## Authenticated reads (resource API, JWT bearer)');
  // The first seconds of a fresh process run unoptimised code: warm every route once, unmeasured.
  for (const p of ['/v1/me', '/v1/listings']) await load('warm-up', { url: api.url + p, headers: bearer(accessTokens[0]!), duration: 3 });
  const koa = await measure('bare Koa JSON handler', { url: `${bareKoa.url}/json`, duration: DURATION }, undefined, bareKoa);
  const koaPg = await measure('bare Koa + one primary-key SELECT (pg)', { url: `${bareKoa.url}/user/${stack.userId}`, duration: DURATION }, undefined, bareKoa);
  const koaMe = await measure('bare Koa + the two SELECTs of /v1/me (pg)', { url: `${bareKoa.url}/me/${stack.userId}`, duration: DURATION }, undefined, bareKoa);
  for (const p of ['/v1/me', '/v1/listings'] as const) {
    const one = await measure(`GET ${p}, one repeated token`, { url: api.url + p, headers: bearer(accessTokens[0]!), duration: DURATION }, undefined, api);
    rows.push({ group: 'read', r: one, baseline: koa, extra: `${(one.rps / rawJose).toFixed(2)}×` });
    rows.push({ group: 'read', r: one, baseline: p === '/v1/me' ? koaMe : koaPg });
    if (p === '/v1/me') {
      // RFC 9449: the same read with a DPoP-bound token, a fresh proof (jti kept in Redis) per request.
      const key = await dpopKey();
      const bound = await dpopRefresh(tokenUrl, (await stack.seedTokens(1))[0]!, 'bench-agent', key);
      const proofs = pooled(await proofPool(key, DPOP_N + WARM_N + SLACK, { htm: 'GET', htu: `${stack.config.api.audience}/v1/me`, accessToken: bound }));
      const dpop = await measure('GET /v1/me, one repeated DPoP-bound token, a fresh proof per request', {
        url: api.url + p, headers: { authorization: `DPoP ${bound}` }, next: () => ({ headers: { dpop: proofs() } }), amount: DPOP_N,
      }, { amount: WARM_N }, api);
      rows.push({ group: 'read', r: dpop, baseline: one });
      rows.push({ group: 'read', r: dpop, baseline: koaMe });
    }
    const many = await measure(`GET ${p}, 100 distinct tokens (each verified once, then cached)`, { url: api.url + p, next: rotating, duration: DURATION }, undefined, api);
    rows.push({ group: 'read', r: many, baseline: koa, extra: `${(many.rps / rawJose).toFixed(2)}×` });
    rows.push({ group: 'read', r: many, baseline: p === '/v1/me' ? koaMe : koaPg });
  }
  out();
  }

  const refreshCase = async (name: string, url: string, tokens: string[], server: Service) => {
    const next = pooled(tokens);
    const o: LoadOptions = { url, method: 'POST', headers: FORM, next: () => ({ body: form({ grant_type: 'refresh_token', refresh_token: next(), client_id: 'bench-agent' }) }), amount: REFRESH_N };
    return measure(name, o, { amount: REFRESH_WARM_N }, server);
  };
  if (want('token')) {
  out('## Token endpoint (PostgreSQL + Redis vs oidc-provider in memory)');
  const seedCount = String(REFRESH_N + REFRESH_WARM_N + SLACK);
  /** oidc-provider alone (bench/servers/bare-provider.ts), in memory or on our PostgreSQL adapter. */
  const bare = async (name: string, env: Record<string, string>) => {
    const port = await freePort();
    const tokensFile = path.join(logDir, `${name}-tokens.json`);
    const server = await start(name, 'bench/servers/bare-provider.ts', {
      ...stack.env, BENCH_PORT: String(port), BENCH_ACCOUNT_ID: stack.userId, BENCH_SEED: seedCount, BENCH_TOKENS_FILE: tokensFile, ...env,
    }, port, '/.well-known/openid-configuration');
    return { server, tokens: await stack.readTokens(tokensFile) };
  };
  const inMemory = { BENCH_CLIENTS: JSON.stringify(stack.clientMetadata), DATABASE_URL: '' };
  const bareMem = await bare('bare-provider', inMemory);
  const bareRefresh = await refreshCase('refresh grant, oidc-provider in memory (ES256 API token)', `${bareMem.server.url}/token`, bareMem.tokens, bareMem.server);
  const basic = { ...FORM, authorization: `Basic ${Buffer.from(`${stack.serviceClient.id}:${stack.serviceClient.secret}`).toString('base64')}` };
  const ccBody = form({ grant_type: 'client_credentials', scope: 'listings:read' });
  const bareCc = refreshOnly ? undefined : await measure('client_credentials, oidc-provider in memory', { url: `${bareMem.server.url}/token`, method: 'POST', headers: basic, body: ccBody, duration: DURATION }, undefined, bareMem.server);
  await bareMem.server.stop();
  // The same with RS256 API tokens: the signature's share of the cost, on the baseline's side.
  const bareMemRs = await bare('bare-provider-rs256', { ...inMemory, API_TOKEN_SIGNING_ALG: 'RS256' });
  const bareRefreshRs = await refreshCase('refresh grant, oidc-provider in memory (RS256 API token)', `${bareMemRs.server.url}/token`, bareMemRs.tokens, bareMemRs.server);
  rows.push({ group: 'token', r: bareRefresh, baseline: bareRefreshRs });
  await bareMemRs.server.stop();
  // The same bare provider on our PostgreSQL storage: what storage costs, without our middleware.
  const barePg = await bare('bare-provider-pg', { BENCH_CLIENTS: '[]', BENCH_STORAGE: 'pg' });
  const barePgRefresh = await refreshCase('refresh grant, oidc-provider on our PostgreSQL adapter (no Portcullis middleware)', `${barePg.server.url}/token`, barePg.tokens, barePg.server);
  rows.push({ group: 'token', r: barePgRefresh, baseline: bareRefresh });
  await barePg.server.stop();
  const storedBefore = await stack.db('oidc_models').count({ n: '*' }).then(([r]) => Number(r!.n));
  const seeded = await stack.seedTokens(REFRESH_N + REFRESH_WARM_N + SLACK);
  const storedSmall = storedBefore + seeded.length * 2;
  const ourRefresh = await refreshCase(`refresh grant, Portcullis on PostgreSQL (${fmt(storedSmall)} stored rows, ES256 API token)`, tokenUrl, seeded, authz);
  rows.push({ group: 'token', r: ourRefresh, baseline: bareRefresh });
  rows.push({ group: 'token', r: ourRefresh, baseline: barePgRefresh });
  // API_TOKEN_SIGNING_ALG=RS256 on a second authz-server process of the same stack.
  const rsPort = await freePort();
  const authzRs = await start('authz-server-rs256', 'authz-server/main.ts', { ...stack.env, AUTHZ_PORT: String(rsPort), API_TOKEN_SIGNING_ALG: 'RS256' }, rsPort);
  const ourRefreshRs = await refreshCase('refresh grant, Portcullis on PostgreSQL (RS256 API token)', `${authzRs.url}/token`, await stack.seedTokens(REFRESH_N + REFRESH_WARM_N + SLACK), authzRs);
  await authzRs.stop();
  rows.push({ group: 'token', r: ourRefreshRs, baseline: bareRefreshRs });
  rows.push({ group: 'token', r: ourRefresh, baseline: ourRefreshRs });
  if (bareCc) {
    const ourCc = await measure('client_credentials, Portcullis on PostgreSQL', { url: tokenUrl, method: 'POST', headers: basic, body: ccBody, duration: DURATION }, undefined, authz);
    rows.push({ group: 'token', r: ourCc, baseline: bareCc });
    // The same on a second authz-server process of the stack whose bus-invalidated caches are off
    // (BUS_CACHE_MAX_AGE_S=0, authz-server/oidc/caches.ts): every request reads the client.
    const offPort = await freePort();
    const authzOff = await start('authz-server-no-cache', 'authz-server/main.ts', { ...stack.env, AUTHZ_PORT: String(offPort), BUS_CACHE_MAX_AGE_S: '0' }, offPort);
    const ourCcOff = await measure('client_credentials, Portcullis on PostgreSQL, caches off (BUS_CACHE_MAX_AGE_S=0)', { url: `${authzOff.url}/token`, method: 'POST', headers: basic, body: ccBody, duration: DURATION }, undefined, authzOff);
    await authzOff.stop();
    rows.push({ group: 'token', r: ourCcOff, baseline: bareCc });
    rows.push({ group: 'token', r: ourCc, baseline: ourCcOff });
  }
  out();
  }

  /** One INSERT through a bare Koa handler: the floor of any write that must be durable before the answer. */
  let insertFloor: LoadResult | undefined;
  const bareInsert = async () => (insertFloor ??= await measure('bare Koa + one INSERT (pg)', { url: `${bareKoa.url}/insert`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ units: 1 }), duration: DURATION, expectStatus: 201 }, undefined, bareKoa));

  if (want('usage')) {
  out('## Usage metering on PostgreSQL (POST /v1/usage)');
  const reports = await usageWorkload(stack);
  const asJson = { 'content-type': 'application/json' };
  const bareInsertRun = await bareInsert();
  // The floors: the same statement from a bare handler (the database's share), and our stack answering without a database (ours).
  const bareStatement = await measure('bare Koa + the one statement of a usage report (pg)', { url: `${bareKoa.url}/usage`, method: 'POST', headers: asJson, next: reports({ userId: stack.userId }), duration: DURATION, expectStatus: 201 }, undefined, bareKoa);
  const floorPort = await freePort();
  const floor = await start('usage-floor', 'bench/servers/usage-floor.ts', { ...stack.env, API_PORT: String(floorPort), DB_MIGRATE_ON_START: 'false' }, floorPort);
  const stackFloor = await measure('POST /v1/usage through our stack, answered without a database', { url: `${floor.url}/v1/usage`, method: 'POST', headers: { ...bearer(accessTokens[0]!), ...asJson }, next: reports(), duration: DURATION, expectStatus: 201 }, undefined, floor);
  await floor.stop();
  const usage = await measure('POST /v1/usage, distinct clientReqIds over 10 entitlements', {
    url: `${api.url}/v1/usage`, method: 'POST', headers: { ...bearer(accessTokens[0]!), ...asJson }, next: reports(), duration: DURATION, expectStatus: 201,
  }, undefined, api);
  // Exact: every unit taken from the ten entitlements (by the route and the bare statement) is one stored report.
  const usageGrants = stack.db('entitlements').where('stripe_checkout_session_id', 'like', 'cs_usage_%');
  const [taken] = await usageGrants.clone().select(stack.db.raw('sum(quota_units - quota_remaining) as n'));
  const [kept] = await stack.db('usage_records').whereIn('entitlement_id', usageGrants.clone().select('id')).select(stack.db.raw('count(*) as n, sum(units) as units'));
  const exact = Number(taken.n) === Number(kept.n) && Number(kept.n) === Number(kept.units);
  out(`  ${exact ? 'exact' : 'NOT EXACT'}: ${fmt(Number(taken.n))} units consumed, ${fmt(Number(kept.n))} reports stored (${fmt(Number(kept.units))} units)`);
  rows.push({ group: 'usage', r: usage, baseline: bareInsertRun });
  rows.push({ group: 'usage', r: usage, baseline: bareStatement });
  rows.push({ group: 'usage', r: usage, baseline: stackFloor });
  rows.push({ group: 'usage', r: bareStatement, baseline: bareInsertRun });
  out();
  }

  if (want('write')) {
  out('## Writes on PostgreSQL (Stripe webhook ingestion)');
  const signed = (event: Record<string, unknown>) => {
    const payload = JSON.stringify(event);
    return { body: payload, headers: { 'content-type': 'application/json', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }) } };
  };
  const checkoutEvent = (listingId: string, customer: string) => ({
    id: `evt_bench_${randomUUID()}`, object: 'event', api_version: Stripe.API_VERSION, created: Math.floor(Date.now() / 1000), livemode: false,
    pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: 'checkout.session.completed',
    data: { object: { id: `cs_bench_${randomUUID()}`, object: 'checkout.session', mode: 'payment', payment_status: 'paid', customer, payment_intent: `pi_bench_${randomUUID()}`, client_reference_id: stack.userId, metadata: { user_id: stack.userId, listing_id: listingId } } },
  });
  const baselineInsert = await bareInsert();
  const WEBHOOKS = Number(process.env.BENCH_WEBHOOKS ?? 2000);
  // Paid purchases of BENCH_WEBHOOK_CUSTOMERS Stripe customers in turn: the worker applies one
  // customer's events one after another, different customers' side by side.
  const CUSTOMERS = Number(process.env.BENCH_WEBHOOK_CUSTOMERS ?? 100);
  /**
   * One case: distinct signed events sent to `target` (the answer means stored), then a bounded
   * wait until the worker(s) applied every one, checked: each event of the case processed and its
   * one entitlement granted. Events/s acknowledged is the load's; applied, from the first stored
   * event to the last applied one (both in stripe_events).
   */
  const webhookCase = async (name: string, target: Service, tag: string, warm = WARM_N) => {
    const events = Array.from({ length: WEBHOOKS + warm + SLACK }, (_, i) => {
      const e = checkoutEvent(stack.quotaListingIds[i % stack.quotaListingIds.length]!, `cus_bench_${i % CUSTOMERS}`);
      return signed({ ...e, id: `evt_bench_${tag}_${randomUUID()}` });
    });
    const webhook = await measure(name, { url: `${target.url}/v1/webhooks/stripe`, method: 'POST', next: pooled(events), amount: WEBHOOKS }, { amount: warm }, target);
    rows.push({ group: 'write', r: webhook, baseline: baselineInsert });
    const ackedAt = Date.now();
    const ofCase = () => stack.db('stripe_events').where('id', 'like', `evt_bench_${tag}_%`);
    const waiting = async () => Number((await ofCase().whereNot('status', 'processed').count({ n: '*' }))[0]!.n);
    while ((await waiting()) > 0 && Date.now() - ackedAt < 300_000) await new Promise((r) => setTimeout(r, 50));
    const drainedMs = Date.now() - ackedAt;
    const [sums] = await ofCase().select(stack.db.raw('count(*) as stored'), stack.db.raw("sum(case when status = 'processed' then 1 else 0 end) as processed"),
      stack.db.raw("sum(case when attempts = 1 then 1 else 0 end) as first_attempt"), stack.db.raw('min(received_at) as first'), stack.db.raw('max(processed_at) as last'));
    const stored = Number(sums.stored);
    const processed = Number(sums.processed);
    const granted = Number((await stack.db('entitlements').whereIn('stripe_checkout_session_id', ofCase().select('object_id')).count({ n: '*' }))[0]!.n);
    const spanS = (Number(sums.last) - Number(sums.first)) / 1000;
    out(`    all applied? ${processed === stored && granted === stored ? 'yes' : 'NO'}: ${fmt(processed)} of ${fmt(stored)} stored events processed (${fmt(Number(sums.first_attempt))} at the first attempt), ${fmt(granted)} entitlements granted; ` +
      `the queue was empty ${fmt(drainedMs)} ms after the last answer; first stored → last applied ${spanS.toFixed(1)} s = ${fmt(stored / spanS)} events/s applied`);
    if (processed !== stored || granted !== stored) out(`    NOT ALL APPLIED: ${fmt(stored - processed)} not processed, ${fmt(stored - granted)} without their entitlement — the numbers above are not valid.`);
  };
  // The default deployment: the process that answers also runs the worker (on the same core).
  await webhookCase(`POST /v1/webhooks/stripe, distinct signed events of ${fmt(CUSTOMERS)} customers, acknowledged (stored) by a replica that also applies them`, api, 'a');
  // A replica with STRIPE_WEBHOOK_WORKER=false answers; the first one's worker (another process) applies.
  // It is a fresh process: 2000 unmeasured deliveries first, as the first replica had the phases before.
  const ingestPort = await freePort();
  const ingest = await start('resource-api-no-worker', 'resource-api/main.ts', { ...stack.env, API_PORT: String(ingestPort), STRIPE_WEBHOOK_WORKER: 'false' }, ingestPort);
  await webhookCase(`POST /v1/webhooks/stripe, the same to a replica without a worker (another process applies them)`, ingest, 'b', 2000);
  await ingest.stop();
  out();
  }

  if (want('history')) {
  out(`## Token endpoint with history: ${fmt(FILLER)} more stored token rows`);
  // The small-history case again, right before the filler, so both sides run on an equally warm process.
  const storedNow = await stack.db('oidc_models').count({ n: '*' }).then(([r]) => Number(r!.n));
  const seededSmall = await stack.seedTokens(REFRESH_N + REFRESH_WARM_N + SLACK);
  const smallAgain = await refreshCase(`refresh grant, Portcullis on PostgreSQL (${fmt(storedNow + seededSmall.length * 2)} stored rows)`, tokenUrl, seededSmall, authz);
  const t0 = Date.now();
  const chunk = 100_000;
  // Its own connection, without the services' DB_STATEMENT_TIMEOUT_MS: on a busy machine one
  // chunk or the VACUUM can take longer than a request ever may.
  const seeder = new pg.Client({ connectionString: stack.dbUrl });
  await seeder.connect();
  try {
    for (let from = 1; from <= FILLER; from += chunk) {
      const to = Math.min(FILLER, from + chunk - 1);
      await seeder.query(
        `INSERT INTO oidc_models (model, id, payload, grant_id, expires_at, consumed_at)
         SELECT CASE g % 4 WHEN 0 THEN 'Grant' WHEN 1 THEN 'AuthorizationCode' ELSE 'RefreshToken' END,
                md5(g::text || $1) || md5(g::text),
                json_build_object('accountId', md5(g::text), 'clientId', 'bench-agent', 'grantId', 'filler-' || (g / 2), 'scope', 'openid offline_access listings:read usage:report usage:read', 'iat', 1790000000 + g, 'exp', 1890000000 + g, 'kind', 'RefreshToken', 'jti', md5(g::text || 'j'))::text,
                'filler-' || (g / 2), $2::bigint + g, CASE WHEN g % 4 = 1 THEN $3::bigint ELSE NULL END
         FROM generate_series($4::bigint, $5::bigint) AS g`,
        [stack.dbUrl, Date.now() + 86_400_000, Date.now(), from, to],
      );
    }
    // Settle the table as a long-running database would be (visibility map, statistics) rather
    // than measuring autovacuum catching up with a million fresh rows.
    await seeder.query('VACUUM ANALYZE oidc_models');
  } finally {
    await seeder.end();
  }
  const storedLarge = await stack.db('oidc_models').count({ n: '*' }).then(([r]) => Number(r!.n));
  out(`  seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s; oidc_models now holds ${fmt(storedLarge)} rows`);
  const seededLarge = await stack.seedTokens(REFRESH_N + REFRESH_WARM_N + SLACK);
  const ourRefreshLarge = await refreshCase(`refresh grant, Portcullis on PostgreSQL (${fmt(storedLarge + seededLarge.length * 2)} stored rows)`, tokenUrl, seededLarge, authz);
  rows.push({ group: 'history', r: ourRefreshLarge, baseline: smallAgain });
  out();
  }

  if (want('revoke')) {
    const n = Number(process.env.BENCH_REVOCATIONS ?? 200);
    out(`## Revocation reaching every API replica (RFC 7009 → 401 at 2 resource-api processes, ${n} revocations one after another)`);
    const api2Port = await freePort();
    const api2 = await start('resource-api-2', 'resource-api/main.ts', { ...stack.env, API_PORT: String(api2Port) }, api2Port);
    const metadata = (await (await fetch(`${authz.url}/.well-known/openid-configuration`)).json()) as { revocation_endpoint: string };
    const r = await revocationLatency({ tokenUrl, revocationUrl: metadata.revocation_endpoint, clientId: 'bench-agent', apis: [api.url, api2.url], refreshTokens: await stack.seedTokens(n) });
    const ms = (v: number) => fmt(v, 1);
    out('| measure | p50 ms | p99 ms | max ms |');
    out('|---|---:|---:|---:|');
    out(`| revocation sent → refused at both replicas | ${ms(quantile(r.latencies, 0.5))} | ${ms(quantile(r.latencies, 0.99))} | ${ms(Math.max(...r.latencies))} |`);
    out(`| the revocation request alone (it announces the change before it answers) | ${ms(quantile(r.revokeMs, 0.5))} | ${ms(quantile(r.revokeMs, 0.99))} | ${ms(Math.max(...r.revokeMs))} |`);
    out(`\nRefused by the first request each replica got after the revocation answered: ${r.refusedAtOnce} of ${n}.`);
    out();
    await api2.stop();
  }

  out('## Summary (ratio = req/s ÷ baseline req/s, same run)');
  out('CPU ratio = baseline server CPU per request ÷ ours (insensitive to other load on the machine).');
  out('| case | req/s | p50 ms | p99 ms | server CPU µs/req | unexpected | baseline | baseline req/s | ratio | CPU ratio | vs raw jose verify/s (API alg) |');
  out('|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|');
  for (const { r, baseline, extra } of rows) {
    const c = cpuPerReq.get(r);
    const bc = baseline ? cpuPerReq.get(baseline) : undefined;
    out(`| ${r.name} | ${fmt(r.rps)} | ${r.p50} | ${r.p99} | ${c === undefined ? '' : fmt(c)} | ${r.bad} | ${baseline?.name ?? ''} | ${baseline ? fmt(baseline.rps) : ''} | ${baseline ? `${(r.rps / baseline.rps).toFixed(2)}×` : ''} | ${c && bc ? `${(bc / c).toFixed(2)}×` : ''} | ${extra ?? ''} |`);
  }
  const bad = rows.reduce((n, x) => n + x.r.bad + (x.baseline?.bad ?? 0), 0);
  if (bad) out(`\n${bad} requests got an unexpected answer: the numbers above are not valid (see the service logs in ${logDir}).`);
} finally {
  for (const s of services.reverse()) await s.stop();
  if (!process.env.BENCH_KEEP) await stack.close();
}
