import { ConfigError } from '#shared/config/index.js';
import { describe, type RingKey, type SigningAlg } from './keyring.js';

/**
 * Access tokens for the API are signed with API_TOKEN_SIGNING_ALG (ES256 by default: one ES256
 * signature costs a fraction of an RS256 one, docs/performance.md). A key set without an active
 * key of that alg — a deployment whose keys predate the default, RSA only — stops the
 * authz-server at start with what to do, rather than signing with another alg than the operator
 * configured. The admin CLI still loads such a key set, so `keys:add` can mend it.
 */
export function checkApiTokenKey(keys: readonly RingKey[], alg: SigningAlg): void {
  if (describe(keys).some((k) => k.alg === alg && k.status === 'active')) return;
  throw new ConfigError([
    {
      key: 'API_TOKEN_SIGNING_ALG',
      message: `is ${alg} but SIGNING_KEYS has no active ${alg} key: add one with \`npm run admin -- keys:add --alg ${alg}\` (the first key of an alg signs at once), or set API_TOKEN_SIGNING_ALG=${alg === 'ES256' ? 'RS256' : 'ES256'}`,
    },
  ]);
}
