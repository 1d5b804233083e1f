import type { Middleware } from 'koa';
import type { Knex } from 'knex';
import { appError } from '#shared/errors/index.js';
import { assertOrigin, originsOf } from '#shared/http/index.js';
import type { Auth } from '#shared/auth/better-auth.js';
import { currentSession } from '#shared/auth/session.js';
import { isBanned } from '#shared/auth/assurance.js';
import type { Config } from '#shared/config/index.js';
import { ROLE_NAMES, type RoleName } from '#shared/auth/permissions.js';
import { AuthErrors } from '../auth/errors.js';
import { TokenRejected, type AccessTokenClaims } from '../auth/access-token.js';
import { findUserAccess } from '../queries/users.js';
import type { ClientPrincipal, Principal } from '../auth/principal.js';

export const SESSION_COOKIE = /(?:^|;\s*)(?:__Secure-)?portcullis\.session_token=/;

/**
 * RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`; the scheme name is case-insensitive
 * (RFC 9110 §11.1). Anything else (no token, other characters, `Basic`) is malformed.
 */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

export interface AuthDeps {
  db: Knex;
  auth: Auth;
  config: Config;
  verifyToken: (token: string) => Promise<AccessTokenClaims>;
}

/** RFC 6750 §3: the challenge, with an error code only when a token was presented. */
export function challenge(error?: string, description?: string, scope?: string): Record<string, string> {
  const params = [
    ...(error ? [`error="${error}"`] : []),
    ...(description ? [`error_description="${description.replace(/["\\]/g, "'")}"`] : []),
    ...(scope ? [`scope="${scope}"`] : []),
  ];
  return { 'WWW-Authenticate': params.length ? `Bearer ${params.join(', ')}` : 'Bearer' };
}

export interface AuthOptions {
  /** Public routes: anonymous callers and clients acting for themselves pass too. */
  optional?: boolean;
  /** A client acting for itself passes (its calls are then authorized one by one: /mcp). */
  clients?: boolean;
  /** Whether the session cookie is a credential here (default true; /mcp takes bearer tokens only). */
  sessions?: boolean;
}

/**
 * Establishes `ctx.state.principal` from exactly one credential: a bearer JWT from our
 * authorization server, or the better-auth session cookie. The role and ban state always
 * come from the database, so a demotion or ban applies to the very next request.
 *
 * Unless `optional` or `clients`, the route acts for a person, and a client's own token is 403
 * USER_TOKEN_REQUIRED.
 */
export function koaAuth(deps: AuthDeps, opts: AuthOptions = {}): Middleware {
  // The browsers the cookie may write from: the same allow-list as CORS (koa-cors.ts).
  const cookieOrigins = originsOf(deps.config.frontendOrigins);
  const sessions = opts.sessions ?? true;
  return async (ctx, next) => {
    const header = ctx.get('Authorization');
    const hasCookie = sessions && SESSION_COOKIE.test(ctx.get('Cookie'));
    if (header && hasCookie) throw appError(AuthErrors, 'AMBIGUOUS_CREDENTIALS', { headers: challenge('invalid_request', 'send one credential') });
    if (header) {
      const m = BEARER.exec(header);
      if (!m) throw appError(AuthErrors, 'INVALID_TOKEN', { headers: challenge('invalid_request', 'malformed Authorization header') });
      let claims: AccessTokenClaims;
      try {
        claims = await deps.verifyToken(m[1]!);
      } catch (err) {
        if (err instanceof TokenRejected) throw appError(AuthErrors, 'INVALID_TOKEN', { headers: challenge('invalid_token', err.reason) });
        throw err;
      }
      const scopes = (claims.scope ?? '').split(' ').filter(Boolean);
      if (isClientToken(claims)) {
        if (!opts.optional && !opts.clients) throw appError(AuthErrors, 'USER_TOKEN_REQUIRED');
        ctx.state.principal = { kind: 'client', method: 'bearer', clientId: claims.client_id, scopes } satisfies ClientPrincipal;
        return next();
      }
      ctx.state.principal = await principalFor(deps.db, claims.sub, { method: 'bearer', clientId: claims.client_id, scopes });
      return next();
    }
    if (hasCookie) {
      // SameSite=Lax still lets a same-site sibling (another port, a subdomain) write with the
      // cookie: an unsafe request must prove its origin (shared/http/origin-check.ts).
      assertOrigin(ctx, cookieOrigins);
      const session = await currentSession(deps.auth, deps.config, ctx.req.headers);
      if (!session) throw appError(AuthErrors, 'INVALID_SESSION', { headers: challenge() });
      ctx.state.principal = await principalFor(deps.db, session.user.id, { method: 'session', clientId: null, scopes: null });
      return next();
    }
    if (opts.optional) return next(); // public route, anonymous caller
    throw appError(AuthErrors, 'UNAUTHENTICATED', { headers: challenge() });
  };
}

/**
 * RFC 9068 §2.2: a token from a grant with no resource owner (client_credentials) has the client
 * as its subject. Such a token never stands for a person, whatever users exist.
 */
const isClientToken = (claims: AccessTokenClaims) => claims.sub === claims.client_id;

async function principalFor(db: Knex, userId: string, via: Pick<Principal, 'method' | 'clientId' | 'scopes'>): Promise<Principal> {
  const user = await findUserAccess(db, userId);
  // A token for a deleted user has no person behind it.
  if (!user) throw appError(AuthErrors, 'INVALID_TOKEN', { headers: challenge('invalid_token', 'no such user') });
  if (isBanned(user)) throw appError(AuthErrors, 'ACCOUNT_DISABLED');
  const role = (ROLE_NAMES as string[]).includes(user.role ?? '') ? (user.role as RoleName) : 'user';
  return { kind: 'user', ...via, userId: user.id, email: user.email, name: user.name, role };
}
