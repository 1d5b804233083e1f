import Database from 'better-sqlite3';
import pg from 'pg';
import { betterAuth, type BetterAuthOptions } from 'better-auth';
import { APIError, createAuthMiddleware } from 'better-auth/api';
import { BASE_ERROR_CODES } from '@better-auth/core/error';
import { admin, twoFactor } from 'better-auth/plugins';
import type { Config } from '../config/types.js';
import { ac, roles, DEFAULT_ROLE } from './permissions.js';
import { PASSWORD_MAX, PASSWORD_MIN } from './password-policy.js';
import { BACKUP_CODES, TOTP } from './assurance.js';

/**
 * The one better-auth definition. The authz-server mounts its routes at /api/auth and
 * signs people in with it; the resource API validates its session cookie with the same
 * secret and database. It reaches the database through its own Kysely path (a
 * better-sqlite3 handle on the same file, or a small pg pool on the same database); its
 * tables are created by our own migrations (0002_accounts).
 */
export interface AuthDeps {
  /** Sends a verification link (development outbox or SMTP). */
  sendVerificationEmail?: (to: string, url: string) => Promise<void>;
  sendResetPassword?: (to: string, url: string) => Promise<void>;
  /** After a password reset: revoke the user's OAuth grants (better-auth revokes its sessions). */
  onPasswordReset?: (userId: string) => Promise<void>;
  /** After better-auth's /verify-email marked an address verified (the audit trail records it). */
  onEmailVerified?: (user: { id: string; email: string }, request: Request | undefined) => Promise<void>;
  /**
   * After a session row is deleted, whatever the reason: sign-out, revoking one or all,
   * password reset, ban, second-factor change (the authz-server ends the OpenID sessions bound
   * to it).
   */
  onSessionEnded?: (session: { id: string; userId: string }) => Promise<void>;
  /**
   * After a user row is updated or deleted through better-auth (profile, email, role, ban): the
   * change bus tells every API replica that its cached view of that person is stale.
   */
  onUserChanged?: (user: { id: string; banned?: boolean | null }) => Promise<void>;
  /** Every error better-auth answers as a failure (instead of its console logging). */
  onError?: (err: unknown) => void;
}

/**
 * Sign-in must not reveal which accounts exist: better-auth answers 403 EMAIL_NOT_VERIFIED
 * for an unverified account with the right password, which would tell an attacker that both
 * are right. An unverified account is refused before the password check instead, with the
 * same 401 body as a wrong password and the same cost (one scrypt hash).
 */
const unverifiedLooksLikeWrongPassword = createAuthMiddleware(async (ctx) => {
  if (ctx.path !== '/sign-in/email') return;
  const body = (ctx.body ?? {}) as { email?: unknown; password?: unknown };
  if (typeof body.email !== 'string' || typeof body.password !== 'string') return;
  const found = await ctx.context.internalAdapter.findUserByEmail(body.email.toLowerCase());
  if (!found || found.user.emailVerified) return;
  await ctx.context.password.hash(body.password);
  throw APIError.from('UNAUTHORIZED', BASE_ERROR_CODES.INVALID_EMAIL_OR_PASSWORD);
});

/** The prefix of better-auth's cookie names on an https issuer (RFC 6265bis §4.1.3.2). */
export const HOST_COOKIE_PREFIX = '__Host-';

export function authOptions(config: Config, database: BetterAuthOptions['database'], deps: AuthDeps = {}) {
  const https = config.authz.issuer.startsWith('https:');
  return {
    appName: 'Portcullis',
    baseURL: config.authz.issuer,
    basePath: '/api/auth',
    secret: config.secrets.authSecret,
    database,
    trustedOrigins: [config.authz.issuer, ...config.frontendOrigins],
    ...(deps.onError ? { onAPIError: { onError: (err: unknown) => deps.onError!(err) } } : {}),
    // Public sign-up stays off until it cannot reveal existing accounts: users are created by
    // operators (admin CLI) for now.
    emailAndPassword: {
      enabled: true,
      // Sign-up goes through our own endpoint (/account/sign-up), which answers the same
      // whether or not the address is taken; better-auth's own would say USER_ALREADY_EXISTS.
      disableSignUp: true,
      requireEmailVerification: true,
      minPasswordLength: PASSWORD_MIN,
      maxPasswordLength: PASSWORD_MAX,
      autoSignIn: false,
      resetPasswordTokenExpiresIn: 30 * 60,
      revokeSessionsOnPasswordReset: true,
      ...(deps.sendResetPassword ? { sendResetPassword: async ({ user, url }: { user: { email: string }; url: string }) => deps.sendResetPassword!(user.email, url) } : {}),
      ...(deps.onPasswordReset ? { onPasswordReset: async ({ user }: { user: { id: string } }) => deps.onPasswordReset!(user.id) } : {}),
    },
    emailVerification: {
      expiresIn: 24 * 3600,
      sendOnSignUp: false,
      sendOnSignIn: false,
      autoSignInAfterVerification: false,
      ...(deps.sendVerificationEmail ? { sendVerificationEmail: async ({ user, url }: { user: { email: string }; url: string }) => deps.sendVerificationEmail!(user.email, url) } : {}),
      ...(deps.onEmailVerified ? { afterEmailVerification: async (user: { id: string; email: string }, request?: Request) => deps.onEmailVerified!(user, request) } : {}),
    },
    hooks: { before: unverifiedLooksLikeWrongPassword },
    databaseHooks: {
      ...(deps.onSessionEnded ? { session: { delete: { after: async (session: { id: string; userId: string }) => deps.onSessionEnded!(session) } } } : {}),
      ...(deps.onUserChanged
        ? { user: { update: { after: async (user: { id: string; banned?: boolean | null }) => deps.onUserChanged!(user) }, delete: { after: async (user: { id: string }) => deps.onUserChanged!(user) } } }
        : {}),
    },
    // Idle expiry: each use after `updateAge` pushes expiry to now + SESSION_IDLE_TTL_S. The
    // absolute cap (SESSION_TTL_S since sign-in) is enforced by currentSession().
    session: { expiresIn: config.session.idleTtlS, updateAge: Math.min(300, Math.floor(config.session.idleTtlS / 4)) },
    // On https every better-auth cookie is `__Host-portcullis.<name>`: Secure, Path=/, no Domain.
    // Browsers refuse such a cookie from any other host, so a sibling subdomain cannot plant a
    // session (login CSRF) as it could a `__Secure-` one. (better-auth's own Secure mode would
    // prefix `__Secure-`; the prefix is ours, the attributes are what `__Host-` demands.)
    advanced: https
      ? { cookiePrefix: `${HOST_COOKIE_PREFIX}portcullis`, useSecureCookies: false, defaultCookieAttributes: { secure: true, path: '/' } }
      : { cookiePrefix: 'portcullis', useSecureCookies: false },
    telemetry: { enabled: false },
    plugins: [
      admin({ ac, roles, defaultRole: DEFAULT_ROLE, adminRoles: ['admin'] }),
      // TOTP (RFC 6238) with single-use backup codes; better-auth counts failed codes and
      // locks the factor after repeated failures, on top of our totp:account rate limit.
      twoFactor({ issuer: TOTP.issuer, totpOptions: { digits: TOTP.digits, period: TOTP.period }, backupCodeOptions: { ...BACKUP_CODES } }),
    ],
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
  // pg-pool removes its own listener while a client is checked out: a connection the server
  // drops at that moment (restart, pg_terminate_backend) would be an unhandled 'error' event
  // and end the process. The query in flight still fails, and is answered 503.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return { database: pool, close: () => pool.end() };
}

export function createAuth(config: Config, deps: AuthDeps = {}) {
  const db = createAuthDatabase(config);
  const auth = betterAuth(authOptions(config, db.database, deps));
  return { auth, close: db.close };
}

export type Auth = ReturnType<typeof createAuth>['auth'];
