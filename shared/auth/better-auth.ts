import Database from 'better-sqlite3';
import pg from 'pg';
import { betterAuth, type BetterAuthOptions } from 'better-auth';
import { admin } from 'better-auth/plugins';
import type { Config } from '../config/types.js';
import { ac, roles, DEFAULT_ROLE } from './permissions.js';
import { PASSWORD_MAX, PASSWORD_MIN } from './password-policy.js';

/**
 * The one better-auth definition. The authz-server mounts its routes at /api/auth and
 * signs people in with it; the resource API validates its session cookie with the same
 * secret and database. It reaches the database through its own Kysely path (a
 * better-sqlite3 handle on the same file, or a small pg pool on the same database); its
 * tables are created by our own migrations (0002_accounts).
 */
export function authOptions(config: Config, database: BetterAuthOptions['database']) {
  const https = config.authz.issuer.startsWith('https:');
  return {
    appName: 'Portcullis',
    baseURL: config.authz.issuer,
    basePath: '/api/auth',
    secret: config.secrets.authSecret,
    database,
    trustedOrigins: [config.authz.issuer, ...config.frontendOrigins],
    // Public sign-up stays off until it cannot reveal existing accounts: users are created by
    // operators (admin CLI) for now.
    emailAndPassword: { enabled: true, disableSignUp: true, minPasswordLength: PASSWORD_MIN, maxPasswordLength: PASSWORD_MAX, autoSignIn: false },
    session: { expiresIn: config.session.ttlS, updateAge: Math.min(config.session.idleTtlS, config.session.ttlS) },
    advanced: { cookiePrefix: 'portcullis', useSecureCookies: https },
    telemetry: { enabled: false },
    plugins: [admin({ ac, roles, defaultRole: DEFAULT_ROLE, adminRoles: ['admin'] })],
  } satisfies BetterAuthOptions;
}

export function createAuthDatabase(config: Config): { database: Database.Database | pg.Pool; close(): Promise<void> } {
  if (config.db.client === 'sqlite') {
    const sqlite = new Database(config.db.filename);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    return { database: sqlite, close: async () => void sqlite.close() };
  }
  const pool = new pg.Pool({
    connectionString: config.db.url,
    max: Math.max(2, Math.ceil(config.db.pool.max / 2)),
    connectionTimeoutMillis: config.db.acquireTimeoutMs,
    statement_timeout: config.db.statementTimeoutMs || undefined,
  });
  pool.on('error', () => undefined); // idle-client errors surface on the next query instead
  return { database: pool, close: () => pool.end() };
}

export function createAuth(config: Config) {
  const db = createAuthDatabase(config);
  const auth = betterAuth(authOptions(config, db.database));
  return { auth, close: db.close };
}

export type Auth = ReturnType<typeof createAuth>['auth'];
