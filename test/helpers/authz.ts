import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '#shared/config/index.js';
import { createDb, type Knex } from '#shared/db/index.js';
import { createAuth } from '#shared/auth/better-auth.js';
import { createClientService, type CreatedClient } from '#authz/clients/service.js';
import type { ClientInput } from '#authz/clients/schema.js';
import { freePort, runNode, SOURCE_FLAGS, type Proc } from './process.js';
import { createTempDatabase } from './services.js';

export type Backend = 'sqlite' | 'pg';

/**
 * A shared environment for authz-server processes: one data folder (dev secrets, SQLite) or
 * one fresh PostgreSQL database, plus in-process handles to seed clients and users the way
 * the admin CLI does.
 */
export interface AuthzEnv {
  env: Record<string, string>;
  config: Config;
  db: Knex;
  /** Starts one more authz-server process on this environment (first one on ISSUER_URL's port). */
  start(overrides?: Record<string, string>): Promise<AuthzServer>;
  createClient(input: ClientInput): Promise<CreatedClient>;
  createUser(user: { email: string; password: string; name?: string; role?: string }): Promise<string>;
  close(): Promise<void>;
}

export interface AuthzServer {
  issuer: string;
  /** Where this process listens (differs from the issuer for extra replicas). */
  url: string;
  proc: Proc;
  stop(): Promise<number | null>;
}

export async function authzEnv(backend: Backend, pgUrl?: string, extra: Record<string, string> = {}): Promise<AuthzEnv> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-authz-'));
  const pgDb = backend === 'pg' ? await createTempDatabase(pgUrl!) : undefined;
  const port = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    AUTHZ_PORT: String(port),
    ISSUER_URL: `http://127.0.0.1:${port}`,
    API_AUDIENCE: 'http://127.0.0.1:4999',
    // Suites sign in dozens of times from one address; test/authz-server/rate-limits.test.ts runs at 1.
    RATE_LIMIT_MULTIPLIER: '1000',
    ...(pgDb ? { DATABASE_URL: pgDb.url } : {}),
    ...extra,
  };
  const { config } = await loadConfig(env);
  const db = createDb(config.db);
  const { migrateLatest } = await import('#shared/db/index.js');
  await migrateLatest(db);
  const auth = createAuth(config);
  const servers: AuthzServer[] = [];

  return {
    env,
    config,
    db,
    async start(overrides: Record<string, string> = {}) {
      const p = overrides.AUTHZ_PORT ? Number(overrides.AUTHZ_PORT) : servers.length === 0 ? port : await freePort();
      const proc = runNode([...SOURCE_FLAGS, 'authz-server/main.ts'], { ...env, AUTHZ_PORT: String(p), LOG_LEVEL: 'info', DB_MIGRATE_ON_START: 'false', ...overrides });
      try {
        await proc.waitFor(/authz-server listening/, 90_000); // beside other files, a start can take long
      } catch (err) {
        await proc.stop(2000); // never leave a process behind that close() does not know
        throw err;
      }
      const server = { issuer: env.ISSUER_URL!, url: `http://127.0.0.1:${p}`, proc, stop: () => proc.stop(5000) };
      servers.push(server);
      return server;
    },
    async createClient(input) {
      return createClientService(db).create(input);
    },
    async createUser(user) {
      const created = await auth.auth.api.createUser({
        body: { email: user.email, password: user.password, name: user.name ?? user.email.split('@')[0]!, role: (user.role ?? 'user') as 'user', data: { emailVerified: true } },
      });
      return created.user.id;
    },
    async close() {
      await Promise.all(servers.map((s) => s.stop()));
      await auth.close();
      await db.destroy();
      await pgDb?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
