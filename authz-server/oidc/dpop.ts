import type { Config } from '#shared/config/index.js';

/** RFC 9449 DPoP at the authorization server: oidc-provider's `features.dPoP` (docs/oauth.md). */
export function dpopFeature(_config: Config) {
  return { enabled: false };
}

/** `enabledJWA.dPoPSigningAlgValues`: the proof algorithms accepted (and advertised). */
export const DPOP_SIGNING_ALGS: string[] = ['ES256', 'EdDSA', 'RS256', 'PS256'];
