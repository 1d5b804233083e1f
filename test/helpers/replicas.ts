import { randomBytes, randomUUID } from 'node:crypto';
import { authzEnv, type AuthzEnv, type Backend } from './authz.js';
import { HttpBrowser } from './http-browser.js';
import { freePort, runNode, SOURCE_FLAGS, type Proc } from './process.js';
import { PASSWORD, REDIRECT, discover, signedInTokens } from '../authz-server/oidc.flow.js';

/**
 * Multi-replica harness: N authz-server and N resource-api PROCESSES on distinct loopback ports,
 * sharing one database (a fresh temporary PostgreSQL database, or one SQLite file) and, when
 * given, one Redis. Migrations run once, here, before any replica starts (replicas start with
 * DB_MIGRATE_ON_START=false, as in production). Every process is tracked by PID and stopped
 * with SIGTERM then SIGKILL by close(), and SIGKILLed when the test process exits, so a failing
 * test never leaves servers behind.
 */

export interface ReplicaOptions {
  backend: Backend;
  /** Base PostgreSQL URL (a temporary database is created next to it); required for 'pg'. */
  pgUrl?: string;
  redisUrl?: string;
  authz?: number;
  api?: number;
  /** Extra settings for every process (and for the in-process seeding config). */
  env?: Record<string, string>;
  /** LOG_LEVEL of the replicas; `warn` keeps the captured output small under load. */
  logLevel?: string;
}

export interface Replica {
  kind: 'authz-server' | 'resource-api';
  url: string;
  port: number;
  proc: Proc;
  pid: number;
  /** SIGTERM, SIGKILL after `graceMs`; resolves with the exit code (null when killed by a signal). */
  stop(graceMs?: number): Promise<number | null>;
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
}

export interface Replicas {
  env: AuthzEnv;
  /** The issuer (the first authz replica's URL; every authz replica signs as this issuer). */
  issuer: string;
  /** The resource identifier / audience of access tokens (the first API replica's URL). */
  audience: string;
  authz: Replica[];
  api: Replica[];
  /** The environment every replica got (DATABASE_URL of the temporary database, REDIS_URL …). */
  processEnv: Record<string, string>;
  startAuthz(overrides?: Record<string, string>): Promise<Replica>;
  startApi(overrides?: Record<string, string>): Promise<Replica>;
  /** A public client with PKCE (code flow) on REDIRECT, allowed `scopes`. */
  seedClient(clientId?: string, scopes?: string[]): Promise<string>;
  seedUser(email?: string, role?: string): Promise<{ id: string; email: string; password: string }>;
  /** Real tokens through the front channel (login + consent pages) and a code + PKCE exchange. */
  tokens(email: string, scope: string, clientId?: string): Promise<Tokens>;
  /** A published listing and an active entitlement of `userId` to it with `units` quota. */
  seedEntitlement(userId: string, units: number): Promise<{ listingId: string; entitlementId: string }>;
  /** `npm run admin -- …` against the replicas' database and Redis (overrides: e.g. another REDIS_URL). */
  admin(args: string[], overrides?: Record<string, string>): Promise<{ code: number | null; output: string }>;
  close(): Promise<void>;
}

const live = new Set<Proc>();
let exitHookInstalled = false;

function track(proc: Proc): void {
  live.add(proc);
  void proc.exited.then(() => live.delete(proc));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // mocha --exit, an uncaught error or Ctrl-C: nothing started here may outlive the test run.
  process.on('exit', () => {
    for (const p of live) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });
}

/** Polls `url` until it answers 200, or fails naming the process output. */
export async function waitHealthy(url: string, proc: Proc, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`process exited (${proc.child.exitCode}) before ${url} answered:\n${proc.output()}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${url}:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startReplicas(opts: ReplicaOptions): Promise<Replicas> {
  const apiPort = await freePort();
  const audience = `http://127.0.0.1:${apiPort}`;
  const env = await authzEnv(opts.backend, opts.pgUrl, {
    API_AUDIENCE: audience,
    // Each call its own keys: concurrent test files never share rate limits, DPoP jtis or the change bus.
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl, REDIS_KEY_PREFIX: `portcullis:replicas:${randomBytes(6).toString('hex')}:` } : {}),
    ...opts.env,
  });
  const issuer = env.env.ISSUER_URL!;
  const processEnv: Record<string, string> = { ...env.env, DB_MIGRATE_ON_START: 'false', LOG_LEVEL: opts.logLevel ?? 'warn' };
  const authz: Replica[] = [];
  const api: Replica[] = [];
  const all: Replica[] = [];

  async function spawn(kind: Replica['kind'], port: number, overrides: Record<string, string>): Promise<Replica> {
    const main = kind === 'authz-server' ? 'authz-server/main.ts' : 'resource-api/main.ts';
    // The first authz replica listens on the issuer's port: the API fetches the JWKS there.
    const portVar = kind === 'authz-server' ? { AUTHZ_PORT: String(port) } : { API_PORT: String(port), AUTHZ_INTERNAL_URL: issuer };
    const proc = runNode([...SOURCE_FLAGS, main], { ...processEnv, ...portVar, ...overrides });
    track(proc);
    const url = `http://127.0.0.1:${port}`;
    const replica: Replica = { kind, url, port, proc, pid: proc.child.pid!, stop: (graceMs = 5000) => proc.stop(graceMs) };
    all.push(replica);
    await waitHealthy(`${url}/healthz`, proc);
    return replica;
  }

  // Ports are claimed before the (slow) start so that replicas can start concurrently.
  let firstAuthz = true;
  let firstApi = true;
  const startAuthz = async (overrides: Record<string, string> = {}) => {
    const port = overrides.AUTHZ_PORT ? Number(overrides.AUTHZ_PORT) : firstAuthz ? Number(env.env.AUTHZ_PORT) : await freePort();
    firstAuthz = false;
    const r = await spawn('authz-server', port, overrides);
    authz.push(r);
    authz.sort((a, b) => (a.url === issuer ? -1 : b.url === issuer ? 1 : 0));
    return r;
  };
  const startApi = async (overrides: Record<string, string> = {}) => {
    const port = overrides.API_PORT ? Number(overrides.API_PORT) : firstApi ? apiPort : await freePort();
    firstApi = false;
    const r = await spawn('resource-api', port, overrides);
    api.push(r);
    api.sort((a, b) => (a.url === audience ? -1 : b.url === audience ? 1 : 0));
    return r;
  };

  const oidcConfigs = new Map<string, Awaited<ReturnType<typeof discover>>>();
  let publisherId: string | undefined;

  const replicas: Replicas = {
    env,
    issuer,
    audience,
    authz,
    api,
    processEnv,
    startAuthz,
    startApi,
    async seedClient(clientId = 'agent', scopes = ['openid', 'offline_access', 'listings:read', 'reviews:write', 'usage:report', 'usage:read']) {
      await env.createClient({ clientId, name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes });
      return clientId;
    },
    async seedUser(email = `u-${randomUUID()}@example.com`, role = 'user') {
      const id = await env.createUser({ email, password: PASSWORD, role });
      return { id, email, password: PASSWORD };
    },
    async tokens(email, scope, clientId = 'agent') {
      let config = oidcConfigs.get(clientId);
      if (!config) oidcConfigs.set(clientId, (config = await discover(issuer, clientId)));
      const t = await signedInTokens(config, new HttpBrowser(), { email, scope });
      return { access_token: t.access_token, ...(t.refresh_token ? { refresh_token: t.refresh_token } : {}), ...(t.id_token ? { id_token: t.id_token } : {}) };
    },
    async seedEntitlement(userId, units) {
      publisherId ??= (await replicas.seedUser(undefined, 'publisher')).id;
      const listingId = randomUUID();
      const entitlementId = randomUUID();
      const now = Date.now();
      await env.db('listings').insert({
        id: listingId, slug: `l-${listingId}`, publisher_id: publisherId, title: 'Agent', summary: 's', description: 'd', status: 'published', price_type: 'one_time',
        price_interval: null, currency: 'EUR', amount_minor: 100, quota_units: units, quota_period: 'once', search_text: 'agent', created_at: now, updated_at: now, published_at: now,
      });
      await env.db('entitlements').insert({
        id: entitlementId, user_id: userId, listing_id: listingId, status: 'active', granted_at: now,
        quota_units: units, quota_period: 'once', quota_remaining: units, period_start: now, period_end: null,
      });
      return { listingId, entitlementId };
    },
    async admin(args, overrides = {}) {
      const proc = runNode([...SOURCE_FLAGS, 'scripts/admin.ts', ...args], { ...processEnv, ...overrides });
      return { code: await proc.exited, output: proc.output() };
    },
    async close() {
      // Every process is stopped even when one stop fails; then the database and folders go.
      await Promise.allSettled(all.map((r) => r.stop(5000)));
      await env.close();
    },
  };

  try {
    // All at once: starting a process is mostly compiling sources, and the API fetches the JWKS
    // only when the first token arrives.
    await Promise.all([...Array.from({ length: opts.authz ?? 1 }, () => startAuthz()), ...Array.from({ length: opts.api ?? 1 }, () => startApi())]);
  } catch (err) {
    await replicas.close().catch(() => undefined);
    throw err;
  }
  return replicas;
}

export { PASSWORD, REDIRECT };
