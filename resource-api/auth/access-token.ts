import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import type { Config } from '#shared/config/index.js';
import { appError } from '#shared/errors/index.js';
import { AuthErrors } from './errors.js';

/**
 * How far our clock may differ from the authorization server's, for exp, nbf and iat alike: the
 * leeway exp/nbf always had; a token issued further in the future than this is refused.
 */
export const CLOCK_SKEW_S = 5;

// RFC 6749 §3.3: scope = scope-token *( SP scope-token ), scope-token = 1*NQCHAR (or no scope).
const SCOPE = /^(?:[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*)?$/;

/**
 * The claims every consumer may rely on (RFC 9068 §2.2), checked after the signature: a claim of
 * the wrong type is a malformed token (401), never a crash further down.
 */
const Claims = z.looseObject({
  iss: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
  sub: z.string().min(1),
  client_id: z.string().min(1),
  exp: z.number(),
  iat: z.number(),
  nbf: z.number().optional(),
  jti: z.string().optional(),
  scope: z.string().regex(SCOPE).optional(),
  // RFC 9449 §6.1: a DPoP-bound token names its key's SHA-256 thumbprint (RFC 7638, base64url).
  // Any other confirmation method (mTLS `x5t#S256`, RFC 8705) is one we cannot check: refused.
  cnf: z.strictObject({ jkt: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }).optional(),
});

export type AccessTokenClaims = z.output<typeof Claims>;

export class TokenRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * Checks one access token for one audience (the resource it is presented to). A token with
 * `cnf.jkt` is DPoP-bound: the caller must check its proof on every request, cache hit or not
 * (koa-auth does, with auth/dpop.ts); this only says whether the token itself is good.
 */
export type VerifyToken = (token: string, audience?: string) => Promise<AccessTokenClaims>;

/**
 * Verifies RFC 9068 access tokens from our authorization server: signature against its
 * JWKS (cached; an unknown `kid` triggers a refetch at most every 30 s), `typ` at+jwt,
 * issuer, audience = the resource the token is presented to (default: the REST API; /mcp is
 * its own resource), exp/nbf/iat within CLOCK_SKEW_S, the claims' types (`cnf` only as a DPoP
 * key thumbprint). A verified token is
 * remembered (bounded LRU keyed by the audience and the token's SHA-256, never past its `exp`)
 * so a repeat costs no signature check — and a token verified for one resource is never a hit
 * for another (RFC 8707 §2: a token is only good where its audience says).
 */
export function createAccessTokenVerifier(config: Config, opts: { cacheSize?: number; jwksCooldownMs?: number } = {}): VerifyToken {
  const jwks = createRemoteJWKSet(new URL(`${config.authz.internalUrl}/jwks`), {
    cooldownDuration: opts.jwksCooldownMs ?? 30_000,
    cacheMaxAge: 10 * 60_000,
    timeoutDuration: 5_000,
  });
  const verified = new LRUCache<string, AccessTokenClaims>({ max: opts.cacheSize ?? 10_000 });

  return async function verify(token: string, audience: string = config.api.audience): Promise<AccessTokenClaims> {
    const key = `${audience} ${createHash('sha256').update(token).digest('base64url')}`;
    const hit = verified.get(key);
    if (hit && (hit.exp ?? 0) * 1000 > Date.now()) return hit;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: config.authz.issuer,
        audience,
        typ: 'at+jwt',
        algorithms: ['RS256', 'ES256'],
        clockTolerance: CLOCK_SKEW_S,
        requiredClaims: ['exp', 'iat', 'sub', 'client_id'],
      }));
    } catch (err) {
      // Cannot reach the JWKS: our outage, not the client's fault (503, retryable).
      if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) {
        throw appError(AuthErrors, 'AUTH_SERVER_UNAVAILABLE', { cause: err });
      }
      throw new TokenRejected(describe(err));
    }
    const claims = checkClaims(payload);
    verified.set(key, claims, { ttl: Math.max(1, claims.exp! * 1000 - Date.now()) });
    return claims;
  };
}

function checkClaims(payload: JWTPayload): AccessTokenClaims {
  const parsed = Claims.safeParse(payload);
  if (!parsed.success) {
    const claim = parsed.error.issues[0]!.path.join('.');
    if (claim.startsWith('cnf')) throw new TokenRejected('the token is sender-constrained by a method this API does not accept');
    throw new TokenRejected(`the token's ${claim} claim is malformed`);
  }
  // jose checks iat only against a maximum age; a token "issued" in the future is refused here.
  if (parsed.data.iat > Date.now() / 1000 + CLOCK_SKEW_S) throw new TokenRejected("the token's iat claim is in the future");
  return parsed.data;
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the token expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `the token's ${err.claim} claim is not accepted`;
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'the token is signed with an unknown key';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'the token algorithm is not accepted';
  return 'the token is malformed';
}
