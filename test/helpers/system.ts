import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '#shared/config/index.js';
import { createDb, migrateLatest } from '#shared/db/index.js';
import { createAuth } from '#shared/auth/better-auth.js';
import { createClientService, type CreatedClient } from '#authz/clients/service.js';
import type { ClientInput } from '#authz/clients/schema.js';
import { HttpBrowser } from './http-browser.js';
import { adminHere } from './admin.js';
import { freePort, hostInProcess, runNode, SOURCE_FLAGS, type HostedProc, type Hosting, type Proc, type ServiceName } from './process.js';
import type { Container } from '#shared/container.js';
import { PG_URL, REDIS_URL, createTempDatabase } from './services.js';
import { startFakeStripe, type FakeStripe } from './fake-stripe.js';
import { startPostHogRecorder, type PostHogRecorder } from './posthog-recorder.js';
import { PASSWORD, REDIRECT, discover, signedInTokens } from '../authz-server/oidc.flow.js';

export { PASSWORD, REDIRECT };
export type { Hosting };
export type Backend = 'sqlite' | 'pg';

/**
 * The one way a test starts Portcullis: `startSystem({ backend, hosting, authz, api, redis,
 * stripe, posthog, env })`.
 *
 * - **State of its own.** One data folder (dev secrets, the SQLite file) or one fresh PostgreSQL
 *   database next to `DATABASE_URL`; its own Redis key prefix when `redis` is on. Migrations run
 *   once, here, before any service starts; services start with DB_MIGRATE_ON_START=false, as in
 *   production.
 * - **Services.** `authz` authz-servers and `api` resource APIs (replicas), the first of each on
 *   the issuer's and the audience's port. `hosting: 'in-process'` (the default) boots them in
 *   the test's own process with `launchService` — what `main` runs, minus the signal handlers —
 *   which is a fraction of a process start; `'process'` spawns `node <service>/main` for tests
 *   whose subject is the process (security/, journey/, reliability/, browser/, examples/).
 * - **Outside services, real SDKs on loopback.** `stripe: true` wires a fake Stripe API
 *   (STRIPE_* settings); `posthog: true` a PostHog recorder (POSTHOG_*).
 * - **Seeding the way the admin CLI does** (clients, users, entitlements), real tokens through
 *   the front channel (`tokens`), and the admin CLI itself (`admin`).
 *
 * close() stops every service (SIGTERM then SIGKILL for processes), the fakes, and drops the
 * database and folder; a process left behind by a crashed test is SIGKILLed when mocha exits.
 */
export interface SystemOptions {
  backend: Backend;
  /** Base PostgreSQL URL for 'pg' (a temporary database is created next to it); default DATABASE_URL. */
  pgUrl?: string;
  hosting?: Hosting;
  /** authz-servers started now (default 1); more later with startAuthz(). */
  authz?: number;
  /** Resource APIs started now (default 0); more later with startApi(). */
  api?: number;
  /** Share Redis (REDIS_URL, or this URL) under a key prefix of this system's own. */
  redis?: boolean | string;
  stripe?: boolean;
  posthog?: boolean;
  /** Settings for every service and for the in-process seeding config. */
  env?: Record<string, string>;
  /** API_AUDIENCE is the first API's URL (default: when `api` > 0); false: a public URL nothing listens on (http://127.0.0.1:4999), as behind a reverse proxy. */
  audienceIsApiUrl?: boolean;
  /** LOG_LEVEL of the services (default info: tests read their log lines). */
  logLevel?: string;
}

export interface Service {
  kind: ServiceName;
  url: string;
  port: number;
  /** The issuer every authz-server signs as (the first one's URL). */
  issuer: string;
  proc: Proc;
  /** The process's PID (a service hosted in the test process has none to signal). */
  readonly pid: number;
  /** The container of a service hosted in this process (a spawned one has none here). */
  container(): Promise<Container>;
  /** Graceful stop (SIGTERM, SIGKILL after `graceMs` for a process); resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
}

const live = new Set<Proc>();
let exitHookInstalled = false;

function track(proc: Proc): void {
  live.add(proc);
  void proc.exited.then(() => live.delete(proc));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // mocha --exit, an uncaught error or Ctrl-C: no process started here may outlive the test run.
  process.on('exit', () => {
    for (const p of live) {
      try {
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      } catch {
        // hosted in this process: it ends with it
      }
    }
  });
}

/** Password hashes of fixture accounts, by password: one real scrypt hash per password per worker. */
const fixtureHashes = new Map<string, Promise<string>>();

/**
 * Fixture accounts (`createUser`, `seedUser`) with the same password share its hash, computed
 * once with better-auth's own scrypt: a suite creates hundreds of them with one password, and
 * each hash is ~0.1 s of CPU. Only this fixture instance is affected; the services under test
 * hash every sign-up and verify every sign-in at the real cost, against these stored hashes.
 */
async function shareFixtureHashes(auth: ReturnType<typeof createAuth>['auth']): Promise<void> {
  const context = await auth.$context;
  const hash = context.password.hash;
  context.password.hash = (password: string) => {
    let hashed = fixtureHashes.get(password);
    if (!hashed) fixtureHashes.set(password, (hashed = hash(password)));
    return hashed;
  };
}

export async function startSystem(opts: SystemOptions) {
  const hosting: Hosting = opts.hosting ?? 'in-process';
  const cleanups: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    const errors: unknown[] = [];
    for (const undo of cleanups.splice(0).reverse()) await undo().catch((err: unknown) => errors.push(err));
    if (errors.length) throw new AggregateError(errors, 'startSystem: cleanup failed');
  };

  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-system-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  try {
    return await build();
  } catch (err) {
    await closeAll().catch(() => undefined); // the start's own error is the one to report
    throw err;
  }

  async function build() {
    const pgDb = opts.backend === 'pg' ? await createTempDatabase(opts.pgUrl ?? PG_URL ?? fail('backend pg needs DATABASE_URL')) : undefined;
    if (pgDb) cleanups.push(() => pgDb.drop());
    const stripe: FakeStripe | undefined = opts.stripe ? await startFakeStripe() : undefined;
    if (stripe) cleanups.push(() => stripe.close());
    const posthog: PostHogRecorder | undefined = opts.posthog ? await startPostHogRecorder() : undefined;
    if (posthog) cleanups.push(() => posthog.close());
    const redisUrl = opts.redis === true ? (REDIS_URL ?? fail('redis needs REDIS_URL')) : opts.redis || undefined;

    const authzPort = await freePort();
    const apiPort = await freePort();
    const issuer = `http://127.0.0.1:${authzPort}`;
    const env: Record<string, string> = {
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      DATA_DIR: dataDir,
      AUTHZ_PORT: String(authzPort),
      ISSUER_URL: issuer,
      // The API's resource identifier is where the first API listens when the system starts one
      // (the metadata URLs its challenges name can be followed, as MCP clients do); otherwise a
      // resource nothing listens on.
      API_AUDIENCE: opts.audienceIsApiUrl ?? (opts.api ?? 0) > 0 ? `http://127.0.0.1:${apiPort}` : 'http://127.0.0.1:4999',
      // Suites sign in dozens of times from one address; test/authz-server/rate-limits.test.ts runs at 1.
      RATE_LIMIT_MULTIPLIER: '1000',
      ...(pgDb ? { DATABASE_URL: pgDb.url } : {}),
      // Each system its own keys: concurrent files never share rate limits, DPoP jtis or the change bus.
      ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `portcullis:t:${randomBytes(6).toString('hex')}:` } : {}),
      ...(stripe ? { STRIPE_SECRET_KEY: 'sk_test_portcullis', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_URL: stripe.url } : {}),
      ...(posthog ? { POSTHOG_API_KEY: 'phc_test', POSTHOG_HOST: posthog.url } : {}),
      ...opts.env,
    };
    const audience = env.API_AUDIENCE!;
    const { config } = await loadConfig(env);
    const db = createDb(config.db);
    cleanups.push(() => db.destroy());
    await migrateLatest(db);
    const auth = createAuth(config);
    cleanups.push(() => auth.close());
    // Not on SQLite: there better-auth's connection and knex's are two connections to one file
    // in this process, and a knex write that arrives while better-auth's createUser transaction
    // is open blocks the event loop in SQLite's busy handler until it gives up ("database is
    // locked"). The hash used to space those transactions out; without it, fixtures that create
    // users and write rows concurrently (reviews.create's twenty reviewers) collide.
    if (config.db.client !== 'sqlite') await shareFixtureHashes(auth.auth);
    const processEnv: Record<string, string> = { ...env, DB_MIGRATE_ON_START: 'false', LOG_LEVEL: opts.logLevel ?? 'info' };

    const authz: Service[] = [];
    const api: Service[] = [];
    const all: Service[] = [];
    cleanups.push(() => Promise.allSettled(all.map((s) => s.stop(5000))));

    async function start(kind: ServiceName, port: number, overrides: Record<string, string>): Promise<Service> {
      const portVar = kind === 'authz-server' ? { AUTHZ_PORT: String(port) } : { API_PORT: String(port), AUTHZ_INTERNAL_URL: issuer };
      const serviceEnv = { ...processEnv, ...portVar, ...overrides };
      const proc = hosting === 'in-process' ? hostInProcess(kind, serviceEnv) : runNode([...SOURCE_FLAGS, `${kind}/main.ts`], serviceEnv);
      track(proc);
      const service: Service = {
        kind,
        url: `http://127.0.0.1:${port}`,
        port,
        issuer,
        proc,
        get pid() {
          return proc.child.pid!;
        },
        container: () => ('container' in proc ? (proc as HostedProc).container() : Promise.reject(new Error(`${kind} runs in a process of its own: its container is not here`))),
        stop: (graceMs = 5000) => proc.stop(graceMs),
      };
      all.push(service);
      await listening(service, 90_000); // beside other files, a start can take long
      return service;
    }

    // Ports are claimed before the (slow) start so that services can start concurrently; the first
    // authz-server listens on the issuer's port (the API fetches the JWKS there), the first API on the audience's.
    const replicas = (kind: ServiceName, list: Service[], portVar: string, firstPort: number, firstUrl: string) => {
      let first = true;
      return async (overrides: Record<string, string> = {}): Promise<Service> => {
        const port = overrides[portVar] ? Number(overrides[portVar]) : first ? firstPort : await freePort();
        first = false;
        const s = await start(kind, port, overrides);
        list.push(s);
        list.sort((a, b) => (a.url === firstUrl ? -1 : b.url === firstUrl ? 1 : 0));
        return s;
      };
    };
    const startAuthz = replicas('authz-server', authz, 'AUTHZ_PORT', authzPort, issuer);
    const startApi = replicas('resource-api', api, 'API_PORT', apiPort, audience);

    const oidcConfigs = new Map<string, Awaited<ReturnType<typeof discover>>>();
    let publisherId: string | undefined;

    const system = {
      backend: opts.backend,
      hosting,
      /** The system's settings (DATABASE_URL of the temporary database, REDIS_URL …): what a process of one's own needs. */
      env,
      /** What every service got: `env` with DB_MIGRATE_ON_START=false and the services' LOG_LEVEL, before per-service overrides. */
      processEnv,
      config,
      db,
      issuer,
      /** API_AUDIENCE: the resource identifier of access tokens for the API. */
      audience,
      /** Where the first resource API listens (the audience's port unless API_AUDIENCE was given). */
      get apiUrl(): string {
        return api[0]?.url ?? `http://127.0.0.1:${apiPort}`;
      },
      authz,
      api,
      stripe,
      posthog,
      startAuthz,
      startApi,
      /** A client registered the way `npm run admin -- clients:create` registers it. */
      createClient(input: ClientInput): Promise<CreatedClient> {
        return createClientService(db).create(input);
      },
      /** A verified account, created the way `npm run admin -- users:create` creates it. */
      async createUser(user: { email: string; password: string; name?: string; role?: string }): Promise<string> {
        const created = await auth.auth.api.createUser({
          body: { email: user.email, password: user.password, name: user.name ?? user.email.split('@')[0]!, role: (user.role ?? 'user') as 'user', data: { emailVerified: true } },
        });
        return created.user.id;
      },
      /** A public client with PKCE (code flow) on REDIRECT, allowed `scopes`. */
      async seedClient(clientId = 'agent', scopes = ['openid', 'offline_access', 'listings:read', 'reviews:write', 'usage:report', 'usage:read']): Promise<string> {
        await system.createClient({ clientId, name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes });
        return clientId;
      },
      async seedUser(email = `u-${randomUUID()}@example.com`, role = 'user'): Promise<{ id: string; email: string; password: string }> {
        const id = await system.createUser({ email, password: PASSWORD, role });
        return { id, email, password: PASSWORD };
      },
      /** Real tokens through the front channel (login + consent pages) and a code + PKCE exchange. */
      async tokens(email: string, scope: string, clientId = 'agent'): Promise<Tokens> {
        let c = oidcConfigs.get(clientId);
        if (!c) oidcConfigs.set(clientId, (c = await discover(issuer, clientId)));
        const t = await signedInTokens(c, new HttpBrowser(), { email, scope });
        return { access_token: t.access_token, ...(t.refresh_token ? { refresh_token: t.refresh_token } : {}), ...(t.id_token ? { id_token: t.id_token } : {}) };
      },
      /** A published listing and an active entitlement of `userId` to it with `units` quota. */
      async seedEntitlement(userId: string, units: number): Promise<{ listingId: string; entitlementId: string }> {
        publisherId ??= (await system.seedUser(undefined, 'publisher')).id;
        const listingId = randomUUID();
        const entitlementId = randomUUID();
        const now = Date.now();
        await db('listings').insert({
          id: listingId, slug: `l-${listingId}`, publisher_id: publisherId, title: 'Agent', summary: 's', description: 'd', status: 'published', price_type: 'one_time',
          price_interval: null, currency: 'EUR', amount_minor: 100, quota_units: units, quota_period: 'once', search_text: 'agent', created_at: now, updated_at: now, published_at: now,
        });
        await db('entitlements').insert({
          id: entitlementId, user_id: userId, listing_id: listingId, status: 'active', granted_at: now,
          quota_units: units, quota_period: 'once', quota_remaining: units, period_start: now, period_end: null,
        });
        return { listingId, entitlementId };
      },
      /**
       * `npm run admin -- …` against this system's database and Redis: the CLI's dispatcher in this
       * process (test/helpers/admin.ts; test/scripts/admin.test.ts proves the process binding).
       */
      admin(args: string[], overrides: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
        return adminHere(args, { ...processEnv, ...overrides });
      },
      close: closeAll,
    };

    await Promise.all([...Array.from({ length: opts.authz ?? 1 }, () => startAuthz()), ...Array.from({ length: opts.api ?? 0 }, () => startApi())]);
    return system;
  }
}

/** The webhook signing secret of a system started with `stripe: true`. */
export const WEBHOOK_SECRET = 'whsec_portcullis_test_webhook_secret';

export type System = Awaited<ReturnType<typeof startSystem>>;

/** Until the service answers /healthz (whatever its log level), or fails naming its output. */
async function listening(service: Service, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let stopped: number | null | undefined;
  void service.proc.exited.then((code) => (stopped = code));
  for (;;) {
    if (stopped !== undefined) throw new Error(`${service.kind} stopped (${stopped}) before it answered:\n${service.proc.output()}`);
    if (await fetch(`${service.url}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)) return;
    if (Date.now() > deadline) {
      await service.stop(2000);
      throw new Error(`timed out waiting for ${service.url}/healthz:\n${service.proc.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function fail(message: string): never {
  throw new Error(message);
}

