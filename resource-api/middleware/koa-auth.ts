import type { Context, Middleware } from 'koa';
import type { Knex } from 'knex';
import { createOffBus } from '#shared/bus/index.js';
import { appError } from '#shared/errors/index.js';
import { assertOrigin, originsOf } from '#shared/http/index.js';
import type { Auth } from '#shared/auth/better-auth.js';
import { currentSession } from '#shared/auth/session.js';
import { isBanned, roleOf } from '#shared/auth/user-access.js';
import type { Config } from '#shared/config/index.js';
import { AuthErrors } from '../auth/errors.js';
import { TokenRejected, type AccessTokenClaims } from '../auth/access-token.js';
import { DPOP_ALGS, htuOf, ProofRejected, type CheckProof } from '../auth/dpop.js';
import { grantOf, type Verdict } from '../auth/revocations.js';
import { createAccessState, type AccessState } from '../auth/access-state.js';
import type { ClientPrincipal, Principal } from '../auth/principal.js';

export const SESSION_COOKIE = /(?:^|;\s*)(?:__Host-|__Secure-)?portcullis\.session_token=/;

/**
 * RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`, and RFC 9449 §7.1 the same with `DPoP`;
 * the scheme name is case-insensitive (RFC 9110 §11.1). Anything else (no token, other
 * characters, `Basic`) is malformed.
 */
const CREDENTIALS = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*)$/i;

export type AuthScheme = 'Bearer' | 'DPoP';

export interface AuthDeps {
  db: Knex;
  /** Revocations, role and ban as the change bus keeps them; without it, the database answers every time. */
  access?: AccessState;
  auth: Auth;
  config: Config;
  verifyToken: (token: string) => Promise<AccessTokenClaims>;
  /** RFC 9449 proof check (auth/dpop.ts); without it every DPoP-bound token is refused. */
  checkProof?: CheckProof;
}

/**
 * RFC 6750 §3 (and RFC 9449 §7.1 for DPoP, which also names the proof algorithms we accept): the
 * challenge, with an error code only when a token was presented.
 */
export function challenge(error?: string, description?: string, scope?: string, scheme: AuthScheme = 'Bearer'): Record<string, string> {
  const params = [
    ...(error ? [`error="${error}"`] : []),
    ...(description ? [`error_description="${description.replace(/["\\]/g, "'")}"`] : []),
    ...(scope ? [`scope="${scope}"`] : []),
  ];
  return { 'WWW-Authenticate': withScheme(scheme, params) };
}

/** A Bearer challenge (`challenge()`) restated in the DPoP scheme, for a request that used DPoP. */
export function asDpopChallenge(bearer: string): string {
  const params = bearer.replace(/^Bearer\s*/, '');
  return withScheme('DPoP', params ? [params] : []);
}

function withScheme(scheme: AuthScheme, params: string[]): string {
  const all = scheme === 'DPoP' ? [...params, `algs="${DPOP_ALGS.join(' ')}"`] : params;
  return all.length ? `${scheme} ${all.join(', ')}` : scheme;
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
 * Establishes `ctx.state.principal` from exactly one credential: an access token (JWT) from our
 * authorization server — `Bearer`, or `DPoP` with its proof when the token is DPoP-bound — or
 * the better-auth session cookie. The role, the ban state and the token's revocation come from
 * the database, or from this replica's memory while the change bus vouches that it has applied
 * every change published before the request began (`access.sync()`), so a demotion, a ban or a
 * revocation applies to the very next request on every replica.
 *
 * Unless `optional` or `clients`, the route acts for a person, and a client's own token is 403
 * USER_TOKEN_REQUIRED.
 */
export function koaAuth(deps: AuthDeps, opts: AuthOptions = {}): Middleware {
  // The browsers the cookie may write from: the same allow-list as CORS (koa-cors.ts).
  const cookieOrigins = originsOf(deps.config.frontendOrigins);
  const sessions = opts.sessions ?? true;
  const access = deps.access ?? createAccessState(deps.db, deps.config, createOffBus());
  return async (ctx, next) => {
    const header = ctx.get('Authorization');
    const hasCookie = sessions && SESSION_COOKIE.test(ctx.get('Cookie'));
    if (header && hasCookie) throw appError(AuthErrors, 'AMBIGUOUS_CREDENTIALS', { headers: challenge('invalid_request', 'send one credential') });
    if (header) {
      // The bus check runs while the token is verified: one round trip, shared with concurrent requests.
      const [{ claims, scheme }, live] = await Promise.all([tokenClaims(ctx, deps, header), access.sync()]);
      const method = scheme === 'DPoP' ? 'dpop' : 'bearer';
      ctx.state.changesApplied = live;
      const scopes = (claims.scope ?? '').split(' ').filter(Boolean);
      const verdict = access.verdict(claims, live);
      if (isClientToken(claims)) {
        if (verdict === 'revoked' || (verdict === 'ask-database' && !(await access.clientStillRegistered(claims.client_id)))) throw revoked();
        if (!opts.optional && !opts.clients) throw appError(AuthErrors, 'USER_TOKEN_REQUIRED');
        ctx.state.principal = { kind: 'client', method, clientId: claims.client_id, scopes } satisfies ClientPrincipal;
        return next();
      }
      const principal = await principalFor(access, claims.sub, { method, clientId: claims.client_id, scopes }, { live, verdict, grantId: grantOf(claims) });
      ctx.state.principal = principal;
      return next();
    }
    if (hasCookie) {
      // SameSite=Lax still lets a same-site sibling (another port, a subdomain) write with the
      // cookie: an unsafe request must prove its origin (shared/http/origin-check.ts).
      assertOrigin(ctx, cookieOrigins);
      const [session, live] = await Promise.all([currentSession(deps.auth, deps.config, ctx.req.headers), access.sync()]);
      ctx.state.changesApplied = live;
      if (!session) throw appError(AuthErrors, 'INVALID_SESSION', { headers: challenge() });
      ctx.state.principal = await principalFor(access, session.user.id, { method: 'session', clientId: null, scopes: null }, { live, verdict: 'valid' });
      return next();
    }
    if (opts.optional) return next(); // public route, anonymous caller
    throw appError(AuthErrors, 'UNAUTHENTICATED', { headers: challenge() });
  };
}

/**
 * The claims of the access token in `header` and the scheme it came with, once it is verified
 * and, when it is DPoP-bound, its proof too — on every request: the verifier's cache of good
 * tokens never stands in for a proof. RFC 9449 §7.2: a DPoP-bound token sent as a bearer token is refused (else a thief
 * would simply drop the scheme), and so is a proof with a token that is not bound to its key.
 */
async function tokenClaims(ctx: Context, deps: AuthDeps, header: string): Promise<{ claims: AccessTokenClaims; scheme: AuthScheme }> {
  const m = CREDENTIALS.exec(header);
  if (!m) throw appError(AuthErrors, 'INVALID_TOKEN', { headers: challenge('invalid_request', 'malformed Authorization header') });
  const scheme: AuthScheme = m[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
  const token = m[2]!;
  const proofs = ctx.req.headersDistinct.dpop ?? [];
  const refuse = (code: 'INVALID_TOKEN' | 'INVALID_DPOP_PROOF', error: string, reason: string) =>
    appError(AuthErrors, code, { headers: challenge(error, reason, undefined, scheme) });
  if (scheme === 'Bearer' && proofs.length) throw refuse('INVALID_TOKEN', 'invalid_request', 'a DPoP proof goes with Authorization: DPoP');
  let claims: AccessTokenClaims;
  try {
    claims = await deps.verifyToken(token);
  } catch (err) {
    if (err instanceof TokenRejected) throw refuse('INVALID_TOKEN', 'invalid_token', err.reason);
    throw err;
  }
  const jkt = claims.cnf?.jkt;
  if (scheme === 'Bearer') {
    if (jkt) throw refuse('INVALID_TOKEN', 'invalid_token', 'the token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof');
    return { claims, scheme };
  }
  if (!jkt) throw refuse('INVALID_TOKEN', 'invalid_token', 'the token is not DPoP-bound: send it as Authorization: Bearer');
  if (!deps.checkProof) throw refuse('INVALID_DPOP_PROOF', 'invalid_dpop_proof', 'DPoP is not accepted here');
  try {
    await deps.checkProof({ proofs, method: ctx.method, url: htuOf(deps.config.api.audience, ctx.path), accessToken: token, jkt });
  } catch (err) {
    if (err instanceof ProofRejected) throw refuse('INVALID_DPOP_PROOF', 'invalid_dpop_proof', err.reason);
    throw err;
  }
  return { claims, scheme };
}

/**
 * RFC 9068 §2.2: a token from a grant with no resource owner (client_credentials) has the client
 * as its subject. Such a token never stands for a person, whatever users exist.
 */
const isClientToken = (claims: AccessTokenClaims) => claims.sub === claims.client_id;

const revoked = () => appError(AuthErrors, 'INVALID_TOKEN', { headers: challenge('invalid_token', 'the token was revoked') });

/**
 * The person, as the bus or the database knows them now. A disabled account says so (403) even
 * when its tokens were revoked with the ban; otherwise a revoked token is 401 invalid_token —
 * from the bus (`verdict`), or from the grant's tombstone when the bus cannot vouch.
 */
async function principalFor(
  access: AccessState,
  userId: string,
  via: Pick<Principal, 'method' | 'clientId' | 'scopes'>,
  token: { live: boolean; verdict: Verdict; grantId?: string },
): Promise<Principal> {
  const askGrant = token.verdict === 'ask-database' ? token.grantId : undefined;
  const found = await access.people.find(userId, token.live, askGrant);
  // A token for a deleted user has no person behind it.
  if (!found) throw appError(AuthErrors, 'INVALID_TOKEN', { headers: challenge('invalid_token', 'no such user') });
  const { user } = found;
  if (isBanned(user)) throw appError(AuthErrors, 'ACCOUNT_DISABLED');
  if (token.verdict === 'revoked' || found.grantRevoked) throw revoked();
  return { kind: 'user', ...via, userId: user.id, email: user.email, name: user.name, role: roleOf(user) };
}
