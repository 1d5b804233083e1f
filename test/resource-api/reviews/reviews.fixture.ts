import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createContainer, readinessChecks, type Container } from '#shared/container.js';
import { createDrain, createHttpApp } from '#shared/http/index.js';
import type { Knex } from '#shared/db/index.js';
import { createAccessTokenVerifier } from '#api/auth/access-token.js';
import { koaAuth } from '#api/middleware/koa-auth.js';
import { registerRoutes } from '#api/http/contract.js';
import { passThroughModeration, reviewRoutes, type ModerationHook, type ReviewDraft } from '#api/features/reviews/index.js';
import { startSystem, type System, type Backend } from '../../helpers/system.js';
import { HttpBrowser } from '../../helpers/http-browser.js';
import { captureLogger } from '../../helpers/log-capture.js';
import { PG_SKIP_REASON, PG_URL } from '../../helpers/services.js';
import { PASSWORD, REDIRECT, discover, signedInTokens } from '../../authz-server/oidc.flow.js';
import { checkAnswer, responseChecker } from '../responses.js';

export const WRITE = 'openid reviews:write';

interface CallOptions { token?: string; cookie?: string; json?: unknown; headers?: Record<string, string> }

/**
 * A real authz-server process (tokens, sessions) and, in this process, an API app with only
 * the review routes mounted the way resource-api/app.ts will. The moderation hook can be
 * swapped per test; every draft it sees is recorded.
 */
export async function startReviewsApi(backend: Backend, pgUrl?: string) {
  const env: System = await startSystem({ backend, pgUrl: pgUrl, authz: 0 });
  const authz = await env.startAuthz();
  await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'reviews:write', 'listings:read'] });
  const oidcConfig = await discover(authz.issuer, 'agent');

  const logs = captureLogger('resource-api');
  const container: Container = await createContainer(env.config, logs.logger);
  const { config, db } = container;
  const app = createHttpApp({ config, logger: logs.logger, publicUrl: config.api.audience, readiness: readinessChecks(container), drain: createDrain() });
  const authDeps = { db, auth: container.auth, config, verifyToken: createAccessTokenVerifier(config, { jwksCooldownMs: 0 }) };
  let hook: ModerationHook = passThroughModeration;
  const drafts: ReviewDraft[] = [];
  const moderation: ModerationHook = {
    check(draft) {
      drafts.push(draft);
      return hook.check(draft);
    },
  };
  const contracts = reviewRoutes({ db, moderation });
  // Every answer is checked against its route's contract (response schema, documented errors).
  const responses = responseChecker(contracts);
  const router = registerRoutes(contracts, { auth: koaAuth(authDeps), optionalAuth: koaAuth(authDeps, { optional: true }), bodyLimitBytes: 102400, audit: container.audit });
  app.use(router.routes());
  app.use(router.allowedMethods());
  const server = http.createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const publisherId = await env.createUser({ email: 'pat@example.com', password: PASSWORD, name: 'Pat', role: 'publisher' });

  return {
    db: db as Knex,
    drafts,
    logs,
    useModeration(h: ModerationHook) {
      hook = h;
    },
    /** A user who can sign in at the authz-server. */
    user: (email: string, role = 'user', name?: string) => env.createUser({ email, password: PASSWORD, role, ...(name ? { name } : {}) }),
    async token(email: string, scope = WRITE): Promise<string> {
      return (await signedInTokens(oidcConfig, new HttpBrowser(), { email, scope })).access_token;
    },
    async sessionCookie(email: string): Promise<string> {
      const browser = new HttpBrowser();
      await signedInTokens(oidcConfig, browser, { email, scope: 'openid' });
      return (await browser.jar.getCookies(authz.issuer)).filter((c) => c.key.endsWith('session_token')).map((c) => `${c.key}=${c.value}`).join('; ');
    },
    async listing(status: 'draft' | 'published' | 'suspended' | 'deleted' = 'published'): Promise<string> {
      const id = randomUUID();
      const now = Date.now();
      await db('listings').insert({
        id, slug: `agent-${id}`, publisher_id: publisherId, title: 'An agent', summary: 'Does things', description: 'Does things well.',
        status, price_type: 'one_time', currency: 'EUR', amount_minor: 900, quota_units: 100, quota_period: 'month',
        search_text: 'an agent', created_at: now, updated_at: now, published_at: status === 'published' ? now : null,
      });
      return id;
    },
    async entitle(userId: string, listingId: string, status = 'active'): Promise<void> {
      await db('entitlements').insert({ id: randomUUID(), user_id: userId, listing_id: listingId, status, granted_at: Date.now() });
    },
    async aggregates(listingId: string): Promise<{ count: number; sum: number }> {
      const row = await db('listings').select('rating_count', 'rating_sum').where({ id: listingId }).first();
      return { count: Number(row.rating_count), sum: Number(row.rating_sum) };
    },
    async stored(listingId: string): Promise<number> {
      const [row] = await db('reviews').where({ listing_id: listingId }).count({ n: '*' });
      return Number(row!.n);
    },
    async call(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      if (opts.cookie) {
        headers.cookie = opts.cookie;
        headers.origin ??= config.frontendOrigins[0]!; // a session writes only from the UI's origin
      }
      if (opts.json !== undefined) headers['content-type'] ??= 'application/json';
      const body = opts.json === undefined ? undefined : typeof opts.json === 'string' ? opts.json : JSON.stringify(opts.json);
      const res = await fetch(`${url}${path}`, { method, headers, body });
      await checkAnswer(responses, method, path, res);
      return res;
    },
    async close() {
      await new Promise((r) => server.close(r));
      await container.close();
      await env.close();
    },
  };
}

export type ReviewsApi = Awaited<ReturnType<typeof startReviewsApi>>;

export async function expectError(res: Response, status: number, code: string, details?: Record<string, unknown>): Promise<void> {
  const text = await res.text();
  expect(res.status, text).to.equal(status);
  const body = JSON.parse(text) as { error: { code: string; details?: Record<string, unknown> } };
  expect(body.error.code).to.equal(code);
  if (details) expect(body.error.details).to.deep.equal(details);
}


/** Runs `body` against SQLite, and PostgreSQL when DATABASE_URL is set, each with its own servers. */
export function reviewSuites(title: string, body: (api: () => ReviewsApi) => void): void {
  const run = (backend: Backend) =>
    describe(`${title} (${backend})`, function () {
      this.timeout(60_000);
      let api: ReviewsApi;
      before(async () => {
        api = await startReviewsApi(backend, PG_URL);
      });
      after(async () => {
        const crashes = api?.logs.text().split('\n').filter((l) => l.includes('unhandled error')) ?? [];
        await api?.close();
        expect(crashes, 'no request may end in a 5xx').to.deep.equal([]);
      });
      body(() => api);
    });
  run('sqlite');
  if (PG_URL) run('pg');
  else describe.skip(`${title} (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
}
