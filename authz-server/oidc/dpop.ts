import { hkdfSync } from 'node:crypto';
import type { Config } from '#shared/config/index.js';

/**
 * RFC 9449 DPoP at the authorization server: oidc-provider's `features.dPoP` (docs/dpop.md).
 *
 * What oidc-provider then does by itself (node_modules/oidc-provider/lib):
 * - a token request carrying a valid `DPoP` proof gets `token_type: DPoP` and an access token
 *   with `cnf.jkt` = the proof key's thumbprint (helpers/grant_common.js applyDpopBinding);
 * - a public client's refresh token is bound to the same key and refused without a proof by
 *   that key (helpers/set_rt_bindings.js; actions/grants/refresh_token.js `failed jkt
 *   verification`), RFC 9449 §5.0; a confidential client's is not: it authenticates instead;
 * - `dpop_bound_access_tokens: true` (clients:create --dpop-bound) makes a proof mandatory at
 *   the token endpoint for that client (helpers/sender_constraints.js checkDpopRequired);
 * - `dpop_jkt` on the authorization request binds the code to a key (RFC 9449 §10);
 * - a proof's `jti` is accepted once per client (`allowReplay: false`), through
 *   `provider.ReplayDetection`, i.e. our storage adapter: one database for every replica.
 */
export function dpopFeature(config: Config) {
  return {
    enabled: true,
    nonceSecret: dpopNonceSecret(config.secrets.authSecret),
    // RFC 9449 §8: with a server nonce a proof is fresh by the server's clock, not the client's,
    // so a proof signed ahead of time (by malware that briefly used the key, or a client with a
    // clock far off) is useless. It costs one extra round trip when a client has no current
    // nonce; openid-client retries `use_dpop_nonce` by itself.
    requireNonce: () => true,
    allowReplay: false,
  };
}

/**
 * oidc-provider needs a 32-byte secret to compute (and check) its stateless, time-stepped
 * `DPoP-Nonce` values. Every replica must compute the same ones, so it is derived (RFC 5869
 * HKDF) from AUTH_SECRET, which every replica already shares, under a label of its own: no new
 * setting, and nothing that can be turned back into AUTH_SECRET. Rotating AUTH_SECRET rotates
 * the nonces too; clients then get `use_dpop_nonce` once and retry.
 */
export function dpopNonceSecret(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'portcullis', 'oidc-provider features.dPoP.nonceSecret', 32));
}

/**
 * `enabledJWA.dPoPSigningAlgValues`: the proof algorithms accepted (and advertised). Ed25519 is
 * there under both names: `EdDSA` (RFC 8037) and the fully specified `Ed25519` (RFC 9864), which
 * is what openid-client 6 puts in the proofs of an Ed25519 key.
 */
export const DPOP_SIGNING_ALGS: string[] = ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'];
