import type { JWK } from 'jose';
import { newSigningKey } from '#shared/config/dev-secrets.js';
import { appError, type AppError } from '#shared/errors/index.js';
import { KeyErrors } from './errors.js';

export type KeyStatus = 'active' | 'next' | 'retired';
export type SigningAlg = 'RS256' | 'ES256';
/** A private JWK plus Portcullis' own `status` member (stripped before the provider sees it). */
export type RingKey = JWK & { kid: string; status?: KeyStatus };

export interface KeyInfo {
  kid: string;
  alg: SigningAlg;
  status: KeyStatus;
}

export function algOf(k: JWK): SigningAlg {
  return (k.alg as SigningAlg | undefined) ?? (k.kty === 'EC' ? 'ES256' : 'RS256');
}

/** Keys without a status (as generated or hand-written): the first of each alg signs. */
export function describe(keys: readonly RingKey[]): KeyInfo[] {
  const seen = new Set<SigningAlg>();
  return keys.map((k) => {
    const alg = algOf(k);
    let status = k.status;
    if (!status) status = seen.has(alg) ? 'next' : 'active';
    if (status === 'active') seen.add(alg);
    return { kid: k.kid, alg, status };
  });
}

const ORDER: Record<KeyStatus, number> = { active: 0, next: 1, retired: 2 };

/**
 * The JWKS handed to oidc-provider: it signs with the first key of an alg, so active keys
 * come first, then keys published ahead of promotion, then retired keys that still verify
 * tokens issued before the rotation. Our `status` member is removed.
 */
export function providerJwks(keys: readonly RingKey[]): { keys: JWK[] } {
  const info = describe(keys);
  const ordered = keys.map((k, i) => ({ k, s: info[i]!.status })).sort((a, b) => ORDER[a.s] - ORDER[b.s]);
  return { keys: ordered.map(({ k }) => withoutStatus(k)) };
}

function withoutStatus(k: RingKey): JWK {
  const { status: _s, ...jwk } = k;
  return { ...jwk, alg: algOf(k), use: 'sig' };
}

function normalize(keys: readonly RingKey[]): RingKey[] {
  const info = describe(keys);
  return keys.map((k, i) => ({ ...k, alg: info[i]!.alg, status: info[i]!.status }));
}

function keyError(message: string): AppError {
  return appError(KeyErrors, 'KEY_ROTATION_REFUSED', { message });
}

/** New key, published first; it signs only if no other key of its alg does. */
export async function addKey(keys: readonly RingKey[], alg: SigningAlg): Promise<{ keys: RingKey[]; kid: string }> {
  const ring = normalize(keys);
  const key = (await newSigningKey(alg)) as RingKey;
  const hasActive = ring.some((k) => algOf(k) === alg && k.status === 'active');
  return { keys: [...ring, { ...key, status: hasActive ? 'next' : 'active' }], kid: key.kid };
}

/** The key starts signing; the one it replaces is retired (published until tokens expire). */
export function promoteKey(keys: readonly RingKey[], kid: string): RingKey[] {
  const ring = normalize(keys);
  const target = ring.find((k) => k.kid === kid);
  if (!target) throw keyError(`no key ${kid}`);
  const alg = algOf(target);
  return ring.map((k) => (k.kid === kid ? { ...k, status: 'active' } : algOf(k) === alg && k.status === 'active' ? { ...k, status: 'retired' } : k));
}

export function retireKey(keys: readonly RingKey[], kid: string): RingKey[] {
  const ring = normalize(keys);
  const target = ring.find((k) => k.kid === kid);
  if (!target) throw keyError(`no key ${kid}`);
  if (target.status === 'active') throw keyError(`${kid} is signing: promote another ${algOf(target)} key first`);
  return ring.map((k) => (k.kid === kid ? { ...k, status: 'retired' } : k));
}

/** Unpublishes a key: tokens it signed stop verifying. Only retired or never-used keys. */
export function removeKey(keys: readonly RingKey[], kid: string): RingKey[] {
  const ring = normalize(keys);
  const target = ring.find((k) => k.kid === kid);
  if (!target) throw keyError(`no key ${kid}`);
  if (target.status === 'active') throw keyError(`${kid} is signing: promote another ${algOf(target)} key first`);
  return ring.filter((k) => k.kid !== kid);
}
