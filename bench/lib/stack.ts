import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { openSync, closeSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import Provider from 'oidc-provider';
import { loadConfig, type Config } from '#shared/config/index.js';
import { createDb, migrateLatest, type Knex } from '#shared/db/index.js';
import { createAuth } from '#shared/auth/better-auth.js';
import { createClientService } from '#authz/clients/service.js';
import { providerConfiguration } from '#authz/oidc/configuration.js';
import { findClient } from '#authz/queries/clients.js';
import { seedRefreshTokens } from './tokens.js';
import { freePort, ROOT, SOURCE_FLAGS } from '../../test/helpers/process.js';

export { freePort };

export interface Service {
  name: string;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `script` (a TypeScript entry point) as its own process, output to a log file (so the
 * load generator in this process does not pay for reading it), and waits until `readyPath`
 * answers 200.
 */
export async function startService(name: string, script: string, env: Record<string, string>, port: number, logDir: string, readyPath = '/healthz'): Promise<Service> {
  const logFile = path.join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, ...SOURCE_FLAGS, script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  // A bench that dies of an uncaught error must not leave its servers running.
  const reap = () => void child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}) before it was ready:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    const ok = await fetch(url + readyPath).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} not ready after 60 s:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name,
    url,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export const WEBHOOK_SECRET = 'whsec_bench_secret_not_for_production';
export const USER_EMAIL = 'bench-user@example.com';

/**
 * One PostgreSQL database (created for this run, dropped at the end), one Redis key prefix,
 * one DATA_DIR (shared dev secrets), migrations run once, and the seed every case uses: an
 * agent (public client), a confidential client for client_credentials, one user, 60 published
 * listings, ten of them with a large quota.
 */
export async function createStack(opts: { baseDbUrl: string; redisUrl: string; logLevel: string }) {
  const dbName = `portcullis_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: opts.baseDbUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const dbUrl = new URL(opts.baseDbUrl);
  dbUrl.pathname = `/${dbName}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-bench-'));
  const [authzPort, apiPort] = [await freePort(), await freePort()];
  const env: Record<string, string> = {
    NODE_ENV: 'development',
    LOG_LEVEL: opts.logLevel,
    DATA_DIR: dataDir,
    AUTHZ_PORT: String(authzPort),
    API_PORT: String(apiPort),
    ISSUER_URL: `http://127.0.0.1:${authzPort}`,
    API_AUDIENCE: `http://127.0.0.1:${apiPort}`,
    DATABASE_URL: dbUrl.toString(),
    REDIS_URL: opts.redisUrl,
    REDIS_KEY_PREFIX: `bench:${dbName}:`,
    DB_MIGRATE_ON_START: 'false',
    // Load comes from one address: the limits would answer 429 long before the server saturates.
    RATE_LIMIT_MULTIPLIER: '1000000',
    STRIPE_SECRET_KEY: 'sk_test_bench',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_URL: 'http://127.0.0.1:9',
  };
  const { config } = await loadConfig(env);
  const db = createDb(config.db);
  await migrateLatest(db);
  const auth = createAuth(config);
  const mk = (email: string, role: string) =>
    auth.auth.api.createUser({ body: { email, password: 'Bench-password-4-load!', name: email.split('@')[0]!, role: role as 'user', data: { emailVerified: true } } }).then((r) => r.user.id);
  const userId = await mk(USER_EMAIL, 'user');
  const publisherId = await mk('bench-publisher@example.com', 'publisher');
  await auth.close();
  const clients = createClientService(db);
  await clients.create({ clientId: 'bench-agent', name: 'Bench agent', type: 'public', redirectUris: ['http://127.0.0.1/cb'], scopes: ['openid', 'offline_access', 'listings:read', 'usage:report', 'usage:read'] });
  const cc = await clients.create({ clientId: 'bench-service', name: 'Bench service', type: 'confidential', redirectUris: ['https://service.example.com/cb'], scopes: ['openid', 'listings:read'], clientCredentials: true });

  const now = Date.now();
  const listing = (i: number, quota: number) => ({
    id: randomUUID(), slug: `bench-agent-${i}`, publisher_id: publisherId, title: `Research agent ${i}`, summary: 'Finds things', description: 'Finds things well.',
    status: 'published', price_type: 'one_time', price_interval: null, currency: 'EUR', amount_minor: 900, quota_units: quota, quota_period: 'once',
    search_text: `research agent ${i}`, created_at: now - i * 1000, updated_at: now, published_at: now - i * 1000,
  });
  const listings = Array.from({ length: 50 }, (_, i) => listing(i, 100));
  // Ten listings with a large quota: usage reports rotate over them, so the benchmark measures
  // the stack rather than ten connections queueing on one entitlement's row lock.
  const quotaListings = Array.from({ length: 10 }, (_, i) => listing(50 + i, 1_000_000_000));
  await db('listings').insert([...listings, ...quotaListings]);

  const provider = new Provider(config.authz.issuer, providerConfiguration(config, db, null as never));
  const clientMetadata = await Promise.all(['bench-agent', 'bench-service'].map(async (id) => ({ ...(await findClient(db, id))!.metadata, client_id: id })));

  return {
    env,
    config: config as Config,
    db: db as Knex,
    dbUrl: dbUrl.toString(),
    dataDir,
    userId,
    quotaListingIds: quotaListings.map((l) => l.id),
    serviceClient: { id: cc.clientId, secret: cc.clientSecret! },
    clientMetadata,
    /** Refresh tokens of the agent for the user, stored in PostgreSQL through our adapter. */
    seedTokens: (n: number) => seedRefreshTokens(provider, { clientId: 'bench-agent', accountId: userId, audience: config.api.audience, n }),
    async readTokens(file: string): Promise<string[]> {
      return JSON.parse(await readFile(file, 'utf8')) as string[];
    },
    async close() {
      await db.destroy();
      const c = new pg.Client({ connectionString: opts.baseDbUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await c.end();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export type Stack = Awaited<ReturnType<typeof createStack>>;
