import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { calculateJwkThumbprint, EmbeddedJWK, errors as joseErrors, jwtVerify, type CryptoKey, type FlattenedJWSInput, type JWK, type JWSHeaderParameters } from 'jose';
import { z } from 'zod';
import type { Cache } from '#shared/cache/index.js';
import { CLOCK_SKEW_S } from './access-token.js';

/**
 * The proof algorithms accepted: asymmetric only (RFC 9449 §4.3 check 5), the same list the
 * authorization server accepts (authz-server/oidc/dpop.ts) and advertises. Ed25519 under both
 * names: `EdDSA` (RFC 8037) and `Ed25519` (RFC 9864), what openid-client 6 signs with.
 */
export const DPOP_ALGS = ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const;

/**
 * RFC 9449 §11.1: how far a proof's `iat` may be from our clock, either way. Without a server
 * nonce at the API this window and the shared `jti` store are what stop a captured proof.
 */
export const PROOF_WINDOW_S = 60;

/**
 * A proof is accepted from iat − window to iat + window, so a `jti` is remembered for twice the
 * window from the first time it is seen, plus the clock skew we allow between replicas.
 */
export const JTI_TTL_MS = (2 * PROOF_WINDOW_S + CLOCK_SKEW_S) * 1000;

export class ProofRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export interface ProofInput {
  /** Every `DPoP` header of the request: exactly one is allowed (RFC 9449 §4.3 check 1). */
  proofs: readonly string[];
  method: string;
  /** The URL the client addressed, from our public URL (htuOf), never from Host headers. */
  url: string;
  accessToken: string;
  /** The access token's `cnf.jkt`: the key the token is bound to. */
  jkt: string;
}

export type CheckProof = (input: ProofInput) => Promise<void>;

const ProofClaims = z.looseObject({
  jti: z.string().min(1).max(512),
  htm: z.string(),
  htu: z.string(),
  iat: z.number(),
  ath: z.string(),
});

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/**
 * The request URL a proof's `htu` must name (RFC 9449 §4.3 check 9): the API's public origin
 * (API_AUDIENCE, what clients address, also behind a proxy) and the request path; no query.
 */
export function htuOf(audience: string, path: string): string {
  const url = new URL(new URL(audience).origin);
  url.pathname = path;
  return url.href;
}

/**
 * RFC 9449 §4.3 and §7.1: checks the DPoP proof sent with a DPoP-bound access token. The proof
 * is a JWS verified with jose against the public key in its own header; it must be fresh,
 * name this request (method and URL), this token (`ath`) and the token's key (`jkt`), and its
 * `jti` must never have been seen before on any replica: `cache` is the shared store (Redis
 * when REDIS_URL is set), checked last so that an invalid proof writes nothing.
 */
export function createProofChecker(cache: Pick<Cache, 'setIfAbsent'>, now: () => number = Date.now): CheckProof {
  const keys = embeddedKeys();
  return async function checkProof(input: ProofInput): Promise<void> {
    if (input.proofs.length !== 1) throw new ProofRejected(input.proofs.length ? 'send exactly one DPoP header' : 'a DPoP proof is required');
    let verified: Awaited<ReturnType<typeof jwtVerify>>;
    try {
      verified = await jwtVerify(input.proofs[0]!, keys.resolve, { typ: 'dpop+jwt', algorithms: [...DPOP_ALGS] });
    } catch (err) {
      throw new ProofRejected(describe(err));
    }
    const parsed = ProofClaims.safeParse(verified.payload);
    if (!parsed.success) throw new ProofRejected(`the proof's ${parsed.error.issues[0]!.path.join('.')} claim is missing or malformed`);
    const proof = parsed.data;
    if (proof.htm !== input.method) throw new ProofRejected("the proof's htm does not match the request method");
    if (normalised(proof.htu) !== input.url) throw new ProofRejected("the proof's htu does not match the request URL");
    if (Math.abs(now() / 1000 - proof.iat) > PROOF_WINDOW_S) throw new ProofRejected("the proof's iat is outside the accepted window");
    if (proof.ath !== sha256(input.accessToken)) throw new ProofRejected("the proof's ath does not match the access token");
    const jkt = await keys.thumbprint(verified.protectedHeader);
    if (jkt !== input.jkt) throw new ProofRejected('the proof is signed by another key than the token is bound to');
    // One key's proofs cannot block another's: the jti is remembered per key.
    if (!(await cache.setIfAbsent(`dpop:jti:${sha256(`${jkt} ${proof.jti}`)}`, '1', JTI_TTL_MS))) {
      throw new ProofRejected('the proof was already used');
    }
  };
}

/**
 * The proof keys, as jose's EmbeddedJWK imports them from the proof header, remembered by their
 * exact JWK (bounded): an agent signs every proof with one key, and importing it costs about as
 * much as checking the signature. A key is remembered only once EmbeddedJWK accepted it (an
 * object, `use` sig, `alg` matching, a public key), with its RFC 7638 thumbprint.
 */
function embeddedKeys(max = 10_000) {
  const known = new LRUCache<string, { key: CryptoKey; jkt: string }>({ max });
  const id = (header: JWSHeaderParameters) => `${header.alg} ${JSON.stringify(header.jwk)}`;
  return {
    async resolve(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
      const hit = known.get(id(header));
      if (hit) return hit.key;
      // Refuses a header jwk that is not a public key (private members, `oct`).
      const key = await EmbeddedJWK(header, token);
      known.set(id(header), { key, jkt: await calculateJwkThumbprint(header.jwk as JWK, 'sha256') });
      return key;
    },
    /** The thumbprint of a key `resolve` accepted for this header (computed again if evicted since). */
    thumbprint: async (header: JWSHeaderParameters): Promise<string> => known.get(id(header))?.jkt ?? calculateJwkThumbprint(header.jwk as JWK, 'sha256'),
  };
}

/** RFC 9449 §4.3: htu is compared without query and fragment, after URL normalisation. */
function normalised(htu: string): string | undefined {
  const url = URL.parse(htu);
  if (!url) return undefined;
  url.search = '';
  url.hash = '';
  return url.href;
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'typ') return 'the proof typ must be dpop+jwt';
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) return 'the proof algorithm is not accepted';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the proof signature is invalid';
  if (err instanceof joseErrors.JWSInvalid && /jwk|JWK/.test(err.message)) return "the proof's jwk header must be a public key";
  return 'the proof is malformed';
}
