import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type System, type Service, type Backend } from '../helpers/system.js';
import { PASSWORD, REDIRECT, discover, signedInTokens } from '../authz-server/oidc.flow.js';
import { apiContracts, FEATURES } from '#api/app.js';
import { responseChecker } from './responses.js';

export const USERS = { alice: 'user', pat: 'publisher', quinn: 'publisher', ada: 'admin' } as const;
export type UserName = keyof typeof USERS;
/** FRONTEND_URL: a session cookie writes only from here (koa-auth's origin check). */
export const FRONTEND = 'http://localhost:3000';
export const ALL_API_SCOPES = 'listings:read listings:write reviews:write checkout:create usage:report usage:read';

/**
 * A system (test/helpers/system.ts: an authz-server and the API, hosted in this process) and signed-in users. Every
 * answer `request` gets from a contract route is checked against that route's contract
 * (responses.ts): the success body against its response schema, an error against its documented codes.
 */
export async function apiFixture(backend: Backend = 'sqlite', extraEnv: Record<string, string> = {}) {
  const env: System = await startSystem({ backend, env: { FRONTEND_URL: FRONTEND, ...extraEnv }, authz: 1, api: 1 });
  const authz: Service = env.authz[0]!;
  const api: Service = env.api[0]!;
  await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', ...ALL_API_SCOPES.split(' ')] });
  const ids = {} as Record<UserName, string>;
  for (const [name, role] of Object.entries(USERS)) ids[name as UserName] = await env.createUser({ email: `${name}@example.com`, password: PASSWORD, name, role });
  const oidcConfig = await discover(authz.issuer, 'agent');
  const tokens = new Map<string, string>();
  const cookies = new Map<string, string>();
  const responses = responseChecker(apiContracts({ db: env.db, config: env.config }), FEATURES.flatMap((f) => f.signedRoutes ?? []).map((r) => r.doc));

  return {
    env,
    api,
    ids,
    responses,
    /** An access token for the API (cached per user and scope set). */
    async token(user: UserName, scope = ALL_API_SCOPES): Promise<string> {
      const key = `${user} ${scope}`;
      if (!tokens.has(key)) tokens.set(key, (await signedInTokens(oidcConfig, new HttpBrowser(), { email: `${user}@example.com`, scope: `openid ${scope}` })).access_token);
      return tokens.get(key)!;
    },
    /** The better-auth session cookie of a signed-in user. */
    async cookie(user: UserName): Promise<string> {
      if (!cookies.has(user)) {
        const browser = new HttpBrowser();
        await signedInTokens(oidcConfig, browser, { email: `${user}@example.com`, scope: 'openid' });
        const jar = await browser.jar.getCookies(authz.issuer);
        cookies.set(user, jar.filter((c) => c.key.endsWith('session_token')).map((c) => `${c.key}=${c.value}`).join('; '));
      }
      return cookies.get(user)!;
    },
    async request(method: string, path: string, opts: { as?: UserName; via?: 'bearer' | 'session'; scope?: string; body?: unknown; headers?: Record<string, string> } = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.as && (opts.via ?? 'bearer') === 'bearer') headers.authorization = `Bearer ${await this.token(opts.as, opts.scope)}`;
      if (opts.as && opts.via === 'session') {
        headers.cookie = await this.cookie(opts.as);
        headers.origin ??= FRONTEND; // as the marketplace UI's browser sends it
      }
      if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(`${api.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) });
      const text = await res.text();
      const body: unknown = text ? JSON.parse(text) : null;
      responses.check(method, path, res.status, body);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are asserted field by field
      return { status: res.status, headers: res.headers, body: body as any };
    },
    async close() {
      await env.close();
    },
  };
}

export type ApiFixture = Awaited<ReturnType<typeof apiFixture>>;
