import { z } from 'zod';
import type { JWK } from 'jose';

const privateJwk = z
  .object({
    kty: z.enum(['RSA', 'EC'], { message: 'each key needs kty RSA or EC' }),
    kid: z.string({ message: 'each key needs a kid' }).min(1, { message: 'each key needs a kid' }),
    alg: z.enum(['RS256', 'PS256', 'ES256'], { message: 'alg must be RS256, PS256 or ES256' }).optional(),
    use: z.literal('sig', { message: 'use must be sig' }).optional(),
    status: z.enum(['active', 'next', 'retired'], { message: 'status must be active, next or retired' }).optional(),
    d: z.string({ message: 'each key must be a private key (d)' }).min(1, { message: 'each key must be a private key (d)' }),
  })
  .loose();

const jwks = z.object({ keys: z.array(privateJwk, { message: 'expected a JSON object {"keys":[…]}' }).min(1, { message: 'needs at least one key' }) }, { message: 'expected a JSON object {"keys":[…]}' });

/** Parses SIGNING_KEYS. Returns an error message (without key material) or the key set. */
export function parseSigningKeys(text: string): { keys: JWK[] } | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { error: 'expected a JSON object {"keys":[…]}' };
  }
  const r = jwks.safeParse(json);
  if (!r.success) return { error: r.error.issues[0]?.message ?? 'invalid key set' };
  const kids = r.data.keys.map((k) => k.kid);
  if (new Set(kids).size !== kids.length) return { error: 'kids must be unique' };
  for (const k of r.data.keys) {
    if (k.kty === 'EC' && (k.crv !== 'P-256' || (k.alg !== undefined && k.alg !== 'ES256'))) {
      return { error: 'EC keys must be P-256 for ES256' };
    }
    if (k.kty === 'RSA' && k.alg === 'ES256') return { error: 'an RSA key cannot be used for ES256' };
  }
  if (!r.data.keys.some((k) => k.kty === 'RSA' && (k.alg === undefined || k.alg === 'RS256'))) {
    // OIDC Core §15.1: RS256 must be supported for ID tokens.
    return { error: 'needs an RSA key usable for RS256' };
  }
  return { keys: r.data.keys as JWK[] };
}
