import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { errors as oidcErrors } from 'oidc-provider';
import { BASE_ERROR_CODES } from 'better-auth';
import { admin, twoFactor } from 'better-auth/plugins';
import { HttpErrors, StorageErrors } from '#shared/errors/index.js';
import { RateLimitErrors } from '#shared/rate-limit/index.js';
import { AuthErrors } from '#api/auth/errors.js';
import { BillingErrors } from '#api/features/billing/index.js';
import { ListingErrors } from '#api/features/listings/index.js';
import { ReviewErrors } from '#api/features/reviews/index.js';
import { UsageErrors } from '#api/features/usage/index.js';
import { ClientErrors } from '#authz/clients/errors.js';
import { startSystem, PASSWORD, REDIRECT, type System } from '../helpers/system.js';
import { startFakeStripe, type FakeStripe } from '../helpers/fake-stripe.js';
import { PG_URL } from '../helpers/services.js';
import { body, headers, mulberry32, pick, pickHostile, query, segment, type Body, type Rand } from './fuzz/corpus.js';
import { BUSINESS_TABLES, checksum } from './fuzz/checksum.js';

/**
 * Hostile input to every route of both services: the resource API's routes from its contracts
 * (/openapi.json) plus its other routes, the authz-server's endpoints from discovery plus the
 * interaction, account and better-auth routes. A seeded corpus (FUZZ_SEED, printed) of malformed
 * JSON and forms, wrong content types, huge bodies and headers, deep nesting, invalid UTF-8,
 * prototype-pollution keys, SQL-ish and traversal strings and wrong types, with and without
 * valid credentials. Pass: no 5xx, every JSON error carries a documented code, and the business
 * tables (fuzz/checksum.ts) are unchanged. SQLite by default, PostgreSQL with DATABASE_URL.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const PER_ROUTE = Number(process.env.FUZZ_PER_ROUTE ?? 40);
const CONCURRENCY = 8;

const catalogCodes = [HttpErrors, StorageErrors, RateLimitErrors, AuthErrors, BillingErrors, ListingErrors, ReviewErrors, UsageErrors, ClientErrors].flatMap((c) => Object.keys(c));
const oauthCodes = Object.values(oidcErrors).flatMap((E) => {
  try {
    const e = new (E as new (d: string) => { error?: unknown })('x');
    return typeof e.error === 'string' && /^[a-z_]+$/.test(e.error) ? [e.error] : [];
  } catch {
    return [];
  }
});
const betterAuthCodes = [BASE_ERROR_CODES, admin().$ERROR_CODES, twoFactor().$ERROR_CODES].flatMap((c) => Object.keys(c ?? {}));
/** Every code a 4xx JSON body may carry. better-auth's own 4xx use its catalogs (plus VALIDATION_ERROR). */
const DOCUMENTED = new Set([...catalogCodes, ...oauthCodes, ...betterAuthCodes, 'VALIDATION_ERROR']);

type Auth = 'none' | 'bearer' | 'session' | 'garbage';
interface Target {
  service: 'api' | 'authz';
  method: string;
  /** With `:name` placeholders. */
  path: string;
  params: string[];
  query: string[];
  fields: string[];
  /** Credentials this route may be sent with (valid ones only where they cannot destroy the fuzzer's own state). */
  auths: Auth[];
}
interface Result { target: string; method: string; url: string; label: string; status: number; code?: string; contentType: string; body: string; request?: string }

describe(`hostile input to every route of both services (${PG_URL ? 'pg' : 'sqlite'}), seed ${SEED}`, function () {
  this.timeout(120_000);
  let r: System;
  let stripe: FakeStripe;
  let bearer: string;
  let sessionCookie: string;
  let listingId: string;
  let interaction: { uid: string; cookie: string };

  before(async () => {
    stripe = await startFakeStripe();
    r = await startSystem({
      hosting: 'process',
      logLevel: 'warn',
      backend: PG_URL ? 'pg' : 'sqlite', ...(PG_URL ? { pgUrl: PG_URL } : {}), authz: 1, api: 1,
      env: { STRIPE_SECRET_KEY: 'sk_test_fuzz', STRIPE_WEBHOOK_SECRET: 'whsec_fuzz', STRIPE_API_URL: stripe.url },
    });
    await r.seedClient('agent', ['openid', 'offline_access', 'listings:read', 'listings:write', 'reviews:write', 'checkout:create', 'usage:report', 'usage:read']);
    const user = await r.seedUser('fuzz@example.com');
    ({ listingId } = await r.seedEntitlement(user.id, 10));
    bearer = (await r.tokens(user.email, 'openid offline_access listings:read listings:write reviews:write checkout:create usage:report usage:read')).access_token;
    const signIn = await fetch(`${r.issuer}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: r.issuer }, body: JSON.stringify({ email: user.email, password: PASSWORD }) });
    sessionCookie = signIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    interaction = await startInteraction(r.issuer);
  });
  after(async () => {
    await r?.close();
    await stripe?.close();
  });

  it('answers no 5xx, only documented error codes, and leaves the business tables unchanged', async () => {
    const targets = [...(await apiTargets(r.api[0]!.url)), ...(await authzTargets(r.issuer))];
    const rand = mulberry32(SEED);
    const requests = targets.flatMap((t) => Array.from({ length: PER_ROUTE }, () => build(rand, t)));
    console.log(`      FUZZ_SEED=${SEED}: ${requests.length} requests to ${targets.length} routes (${new Set(targets.map((t) => `${t.service} ${t.path}`)).size} paths)`);
    const before = await checksum(r.db);

    const results: Result[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests.length) results.push(await send(requests[next++]!));
    }));

    const after = await checksum(r.db);
    const byStatus: Record<string, number> = {};
    for (const x of results) byStatus[x.status] = (byStatus[x.status] ?? 0) + 1;
    console.log(`      statuses: ${JSON.stringify(byStatus)}`);

    const show = (x: Result) => `${x.method} ${x.url.slice(0, 140)} [${x.label}] → ${x.status} ${x.code ?? ''} ${x.body.slice(0, 160)}`;
    const failures = (list: Result[]) => `${list.length} of them, e.g.:\n${[...new Map(list.map((x) => [`${x.target} ${x.status} ${x.code}`, x])).values()].slice(0, 25).map(show).join('\n')}`;
    const broken = results.filter((x) => x.status >= 500 || (x.status === 0 && !/oversized|huge|many/.test(x.label)));
    expect(broken, `no 5xx, no dropped connection: ${failures(broken)}\nto reproduce:\n${broken.slice(0, 5).map((x) => `${x.method} ${x.url.slice(0, 3000)}\n  ${x.request}`).join('\n')}`).to.have.length(0);
    const undocumented = results.filter((x) => x.status >= 400 && x.status < 500 && !documented(x));
    expect(undocumented, `every 4xx documented: ${failures(undocumented)}`).to.have.length(0);
    const accepted = results.filter((x) => x.status < 300 && x.status > 0 && !['GET', 'HEAD', 'OPTIONS'].includes(x.method));
    const changed = BUSINESS_TABLES.filter((t) => before[t] !== after[t]);
    expect(changed, `business tables changed; mutating requests answered 2xx:\n${accepted.map(show).join('\n')}`).to.deep.equal([]);
  });

  it('keeps a kept-alive connection usable after answering without reading the request body', async () => {
    // The body is over /api/auth's 16 KiB limit: 413 after reading only that much. The rest must
    // not stall the next request on the connection.
    const u = new URL(r.issuer);
    const big = `name=${'x'.repeat(200_000)}`;
    const socket = net.createConnection({ host: u.hostname, port: Number(u.port) });
    let out = '';
    socket.on('data', (d) => (out += d.toString('latin1')));
    socket.write(`POST /api/auth/update-user HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/x-www-form-urlencoded\r\nOrigin: ${r.issuer}\r\nContent-Length: ${big.length}\r\n\r\n${big}`);
    socket.write(`GET /healthz HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
    const deadline = Date.now() + 10_000;
    while (!/"status":"ok"/.test(out) && Date.now() < deadline && !socket.destroyed) await new Promise((res) => setTimeout(res, 50));
    socket.destroy();
    expect(out).to.match(/^HTTP\/1\.1 413/);
    expect(out, 'the second request on the connection was answered').to.match(/HTTP\/1\.1 200 OK[\s\S]*"status":"ok"/);
  });

  function credentials(rand: Rand, auth: Auth): Record<string, string> {
    if (auth === 'bearer') return { authorization: `Bearer ${bearer}` };
    if (auth === 'session') return { cookie: sessionCookie };
    if (auth === 'garbage') {
      return pick<Record<string, string>>(rand, [
        { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' },
        { authorization: `Bearer ${pickHostile(rand).replace(/[^\x20-\x7e]/g, '')}` },
        { authorization: 'Basic Og==' },
        { authorization: `Basic ${Buffer.from(`${pickHostile(rand)}:x`).toString('base64')}` },
        { cookie: 'portcullis.session_token=garbage.garbage' },
        { authorization: `Bearer ${bearer}`, cookie: sessionCookie },
      ]);
    }
    return {};
  }

  function build(rand: Rand, t: Target) {
    const method = rand() < 0.85 ? t.method : pick(rand, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'PROPFIND']);
    const path = t.path.replace(/:(\w+)/g, (_, name: string) => {
      if (name === 'uid' && rand() < 0.5) return interaction.uid;
      const v = rand();
      return v < 0.5 ? segment(rand) : v < 0.8 ? randomUUID() : listingId;
    });
    const b: Body | undefined = method === 'GET' || method === 'HEAD' ? undefined : body(rand, t.fields);
    const h = headers(rand);
    const auth = pick(rand, t.auths);
    const base = t.service === 'api' ? r.api[0]!.url : r.issuer;
    const extra: Record<string, string> = t.path.startsWith('/interaction/') && path.includes(interaction.uid) ? { cookie: interaction.cookie } : {};
    // A browser sends its origin with every cookie-authenticated write: the requests reach the
    // handlers (the authz pages still want their form token, the fuzz never has one).
    if (auth === 'session') extra.origin = t.service === 'api' ? 'http://localhost:3000' : r.issuer;
    return {
      target: `${t.service} ${t.method} ${t.path}`,
      method,
      url: `${base}${path}${query(rand, method === 'GET' ? [...t.query, ...t.fields] : t.query)}`,
      label: `${b?.label ?? 'no body'}, ${h.label}, ${auth}`,
      headers: { ...h.headers, ...(b?.contentType ? { 'content-type': b.contentType } : {}), ...extra, ...credentials(rand, auth) },
      body: b?.body,
    };
  }
});

/**
 * Over node:http rather than fetch: arbitrary methods, and a request the server cuts short (413
 * while the body is still being sent) gets a connection of its own, so one refused upload cannot
 * leave the client's pool in a state that stalls the requests after it.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
function send(req: { target: string; method: string; url: string; label: string; headers: Record<string, string>; body?: string | Uint8Array }): Promise<Result> {
  const request = `headers ${JSON.stringify(Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, v.slice(0, 200)])))} body ${req.body === undefined ? '-' : JSON.stringify(Buffer.from(req.body).toString('latin1').slice(0, 600))}`;
  const done = (status: number, contentType: string, text: string): Result => ({ target: req.target, method: req.method, url: req.url, label: req.label, status, contentType, body: text, request, ...(status ? codeOf(contentType, text) : {}) });
  const oversized = /oversized|huge|many/.test(req.label);
  return new Promise((resolve) => {
    const u = new URL(req.url);
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body !== undefined) headers['content-length'] = Buffer.byteLength(req.body);
    const r = http.request({ host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: req.method, headers, agent: oversized ? false : agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve(done(res.statusCode ?? 0, String(res.headers['content-type'] ?? ''), Buffer.concat(chunks).toString('utf8'))));
      res.on('error', (e) => resolve(done(0, '', `response ${e.message}`)));
    });
    r.on('timeout', () => r.destroy(new Error('no answer within 10 s')));
    r.on('error', (e: NodeJS.ErrnoException) => resolve(done(0, '', `${e.code ?? ''} ${e.message}`)));
    r.end(req.body);
  });
}

function codeOf(contentType: string, text: string): { code?: string } {
  if (!contentType.includes('json')) return {};
  try {
    const b = JSON.parse(text) as { error?: unknown; code?: unknown };
    if (typeof b.error === 'string') return { code: b.error };
    if (b.error && typeof b.error === 'object' && typeof (b.error as { code?: unknown }).code === 'string') return { code: (b.error as { code: string }).code };
    if (typeof b.code === 'string') return { code: b.code };
  } catch {
    return { code: '(unparseable json)' };
  }
  return { code: '(no code)' };
}

/** better-call's status-named codes, which better-auth's endpoints answer besides their catalogs. */
const BETTER_CALL = new Set(['BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'METHOD_NOT_ALLOWED', 'UNSUPPORTED_MEDIA_TYPE', 'UNPROCESSABLE_ENTITY', 'TOO_MANY_REQUESTS']);

/**
 * A 4xx is documented when its JSON carries a catalogued code (ours, OAuth's), or it is an HTML
 * page, or it has no body where none is possible (HEAD, 431 from the HTTP parser, 413). Under
 * /api/auth/ better-auth's own shapes are its documented contract: `{ message, code? }` with its
 * catalog or better-call's status names, or no body at all (an unserved path or method, and
 * an admin endpoint refusing a garbage session).
 */
function documented(x: Result): boolean {
  if (x.method === 'HEAD') return true;
  if (x.code !== undefined && DOCUMENTED.has(x.code)) return true;
  if (new URL(x.url).pathname.startsWith('/api/auth/')) {
    if (x.code === '(no code)' || (x.code !== undefined && BETTER_CALL.has(x.code))) return true;
    if (x.body === '') return true;
  }
  if (x.code !== undefined) return false;
  if (x.contentType.includes('text/html')) return true;
  return x.body === '' && (x.status === 431 || x.status === 413);
}

async function apiTargets(base: string): Promise<Target[]> {
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content: { 'application/json': { schema: { $ref?: string } } } }; security?: unknown[] }>>;
    components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
  };
  // Bodies are named schemas: `#/components/schemas/<name>`.
  const fieldsOf = (schema?: { $ref?: string }) => Object.keys((schema?.$ref ? doc.components.schemas[schema.$ref.split('/').pop()!] : undefined)?.properties ?? {});
  const targets: Target[] = [];
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      targets.push({
        service: 'api',
        method: method.toUpperCase(),
        path: p.replace(/\{(\w+)\}/g, ':$1'),
        params: (op.parameters ?? []).filter((x) => x.in === 'path').map((x) => x.name),
        query: (op.parameters ?? []).filter((x) => x.in === 'query').map((x) => x.name),
        fields: fieldsOf(op.requestBody?.content['application/json'].schema),
        auths: ['none', 'bearer', 'bearer', 'session', 'garbage'],
      });
    }
  }
  const plain = (method: string, path: string, fields: string[] = []): Target => ({ service: 'api', method, path, params: [], query: [], fields, auths: ['none', 'bearer', 'garbage'] });
  targets.push(
    plain('GET', '/.well-known/oauth-protected-resource'), plain('GET', '/openapi.json'), plain('GET', '/healthz'), plain('GET', '/readyz'), plain('GET', '/metrics'),
    plain('POST', '/v1/webhooks/stripe', ['id', 'type', 'data', 'object', 'created']),
  );
  return targets;
}

async function authzTargets(issuer: string): Promise<Target[]> {
  const d = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  const path = (url: string) => new URL(url).pathname;
  const t = (method: string, p: string, fields: string[], auths: Auth[] = ['none', 'garbage']): Target => ({ service: 'authz', method, path: p, params: [...p.matchAll(/:(\w+)/g)].map((m) => m[1]!), query: [], fields, auths });
  const authorize = ['client_id', 'response_type', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'nonce', 'prompt', 'resource', 'acr_values', 'max_age', 'login_hint', 'request', 'request_uri', 'response_mode', 'claims'];
  return [
    t('GET', '/.well-known/openid-configuration', []), t('GET', '/.well-known/oauth-authorization-server', []), t('GET', path(d.jwks_uri!), []),
    t('GET', path(d.authorization_endpoint!), authorize), t('POST', path(d.authorization_endpoint!), authorize),
    t('POST', path(d.token_endpoint!), ['grant_type', 'code', 'redirect_uri', 'client_id', 'code_verifier', 'refresh_token', 'scope', 'resource', 'client_secret', 'client_assertion', 'client_assertion_type']),
    t('GET', path(d.userinfo_endpoint!), ['access_token']), t('POST', path(d.userinfo_endpoint!), ['access_token']),
    t('POST', path(d.revocation_endpoint!), ['token', 'token_type_hint', 'client_id', 'client_secret']),
    t('POST', path(d.introspection_endpoint!), ['token', 'token_type_hint', 'client_id', 'client_secret']),
    t('GET', path(d.end_session_endpoint!), ['id_token_hint', 'post_logout_redirect_uri', 'state', 'client_id', 'logout_hint']),
    t('POST', `${path(d.end_session_endpoint!)}/confirm`, ['xsrf', 'logout']),
    t('GET', `${path(d.authorization_endpoint!)}/:uid`, []),
    t('GET', '/interaction/:uid', []), t('POST', '/interaction/:uid/login', ['email', 'password']), t('POST', '/interaction/:uid/totp', ['code']), t('POST', '/interaction/:uid/consent', ['decision']),
    t('GET', '/account/sign-up', []), t('POST', '/account/sign-up', ['name', 'email', 'password']), t('GET', '/account/verified', ['error']),
    t('GET', '/account/forgot-password', []), t('POST', '/account/forgot-password', ['email']),
    t('GET', '/account/reset-password', ['token', 'error']), t('POST', '/account/reset-password', ['token', 'password']),
    t('GET', '/account', ['notice'], ['none', 'session', 'garbage']), t('GET', '/account/sign-in-required', []),
    t('POST', '/account/2fa/enable', ['password'], ['none', 'session', 'garbage']), t('POST', '/account/2fa/verify', ['code'], ['none', 'session', 'garbage']),
    t('POST', '/account/2fa/disable', ['password'], ['none', 'session', 'garbage']), t('POST', '/account/sessions/revoke', ['id'], ['none', 'session', 'garbage']),
    t('POST', '/account/sign-out-everywhere', []),
    t('POST', '/api/auth/sign-in/email', ['email', 'password', 'rememberMe', 'callbackURL']), t('GET', '/api/auth/get-session', [], ['none', 'session', 'garbage']),
    t('GET', '/api/auth/list-sessions', [], ['none', 'session', 'garbage']), t('POST', '/api/auth/sign-out', []), t('POST', '/api/auth/update-user', ['name', 'image', 'role', 'email']),
    t('POST', '/api/auth/delete-user', ['password', 'token']), t('POST', '/api/auth/change-email', ['newEmail']), t('POST', '/api/auth/two-factor/enable', ['password']),
    t('POST', '/api/auth/admin/set-role', ['userId', 'role']), t('GET', '/api/auth/admin/list-users', ['searchValue', 'limit']), t('GET', '/api/auth/verify-email', ['token', 'callbackURL']),
    t('POST', '/api/auth/send-verification-email', ['email', 'callbackURL']),
  ];
}

/** A real interaction (and its cookie) to aim the login, 2FA and consent forms at. */
async function startInteraction(issuer: string): Promise<{ uid: string; cookie: string }> {
  const params = new URLSearchParams({
    client_id: 'agent', response_type: 'code', redirect_uri: REDIRECT, scope: 'openid', state: 'fuzz',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
  });
  const res = await fetch(`${issuer}/auth?${params}`, { redirect: 'manual' });
  const location = res.headers.get('location') ?? '';
  const uid = /\/interaction\/([^/?#]+)/.exec(location)?.[1];
  if (!uid) throw new Error(`no interaction: ${res.status} ${location}`);
  return { uid, cookie: res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ') };
}
