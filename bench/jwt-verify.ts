/**
 * Access-token verification at the resource API (`resource-api/auth/access-token.ts`: JWKS from
 * the authorization server, RFC 9068 checks, verified-token LRU) against raw `jose.jwtVerify`
 * with a local key set, in this process, for one signature algorithm (RS256 or ES256: the API
 * takes both, API_TOKEN_SIGNING_ALG chooses). Signing is measured too: the authorization server
 * pays it once per token issued, the API pays a verification once per distinct token.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { createAccessTokenVerifier } from '#api/auth/access-token.js';
import type { Config } from '#shared/config/index.js';

export interface RateResult {
  name: string;
  opsPerSec: number;
}

export async function jwtVerifyBench(iterations: number, alg: 'RS256' | 'ES256' = 'RS256'): Promise<RateResult[]> {
  const ISSUER = 'http://127.0.0.1:1';
  const AUDIENCE = 'http://api.bench';
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg, use: 'sig' };
  const jwks = { keys: [jwk] };
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const sign = (sub: string) =>
      new SignJWT({ client_id: 'bench', scope: 'listings:read' })
        .setProtectedHeader({ alg, kid: 'bench', typ: 'at+jwt' })
        .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(sub).setIssuedAt().setExpirationTime('10m').setJti(sub)
        .sign(privateKey);
    const token = await sign('user-0');
    const pool = await Promise.all(Array.from({ length: 500 }, (_, i) => sign(`user-${i}`)));
    const config = { authz: { issuer: ISSUER, internalUrl: jwksUrl, port: 0 }, api: { audience: AUDIENCE, port: 0 } } as unknown as Config;
    const local = createLocalJWKSet(jwks);

    async function rate(name: string, fn: (i: number) => Promise<unknown>): Promise<RateResult> {
      for (let i = 0; i < 200; i++) await fn(i); // warm-up (JIT, JWKS fetch)
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) await fn(i);
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      return { name, opsPerSec: iterations / s };
    }

    const raw = await rate(`${alg}: raw jose.jwtVerify (local JWKS)`, () => jwtVerify(token, local, { issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt' }));
    const verifier = createAccessTokenVerifier(config);
    const repeated = await rate(`${alg}: API verifier, one repeated token`, () => verifier(token));
    const distinctVerifier = createAccessTokenVerifier(config, { cacheSize: 100 });
    const distinct = await rate(`${alg}: API verifier, 500 distinct tokens (LRU of 100)`, (i) => distinctVerifier(pool[i % pool.length]!));
    const signing = await rate(`${alg}: jose SignJWT (what the authorization server pays per token)`, (i) => sign(`user-${i}`));
    return [raw, repeated, distinct, signing];
  } finally {
    server.close();
  }
}
