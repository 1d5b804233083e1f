import { createHash, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/** An agent's DPoP key (RFC 9449): ES256, what openid-client generates by default. */
export interface DpopKey {
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function dpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, jwk: await exportJWK(publicKey) };
}

/** One proof (unique jti) for one request; `accessToken` adds `ath`, `nonce` the server's nonce. */
export function proof(key: DpopKey, o: { htm: string; htu: string; accessToken?: string; nonce?: string }): Promise<string> {
  return new SignJWT({
    jti: randomUUID(), htm: o.htm, htu: o.htu, iat: Math.floor(Date.now() / 1000),
    ...(o.accessToken ? { ath: createHash('sha256').update(o.accessToken).digest('base64url') } : {}),
    ...(o.nonce ? { nonce: o.nonce } : {}),
  }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk }).sign(key.privateKey);
}

/**
 * `n` proofs for the same request and token, signed ahead so that the load generator (whose
 * request setup is synchronous) only picks the next one: the server sees a fresh jti every time.
 * Make them right before the run: the API accepts a proof for 60 s after its iat.
 */
export async function proofPool(key: DpopKey, n: number, o: { htm: string; htu: string; accessToken: string }): Promise<string[]> {
  const pool: string[] = [];
  for (let i = 0; i < n; i++) pool.push(await proof(key, o));
  return pool;
}

/**
 * A DPoP-bound access token from a refresh grant, as an agent gets it: the token endpoint
 * requires its nonce, so the first proof is answered `use_dpop_nonce` with a `DPoP-Nonce`, and
 * the second proof carries it.
 */
export async function dpopRefresh(tokenUrl: string, refreshToken: string, clientId: string, key: DpopKey): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }).toString();
  const post = async (nonce?: string) =>
    fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await proof(key, { htm: 'POST', htu: tokenUrl, ...(nonce ? { nonce } : {}) }) }, body });
  let res = await post();
  const nonce = res.headers.get('dpop-nonce');
  if (res.status === 400 && nonce) res = await post(nonce);
  const json = (await res.json()) as { access_token?: string; token_type?: string };
  if (res.status !== 200 || json.token_type !== 'DPoP') throw new Error(`DPoP refresh grant answered ${res.status}: ${JSON.stringify(json)}`);
  return json.access_token!;
}
