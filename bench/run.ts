/**
 * `npm run bench`: measured ratios, printed as a table. Today it covers access-token
 * verification at the resource API against raw `jose.jwtVerify` (the DESIGN's "JWT
 * verification vs raw jose" ratio); the HTTP and database benchmarks come with the
 * reliability work. Everything runs in this process on loopback and stops by itself.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { createAccessTokenVerifier } from '#api/auth/access-token.js';
import type { Config } from '#shared/config/index.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 3000);
const ISSUER = 'http://127.0.0.1:1';
const AUDIENCE = 'http://api.bench';

const { privateKey, publicKey } = await generateKeyPair('RS256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS256', use: 'sig' };
const jwks = { keys: [jwk] };
const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const sign = (sub: string) =>
  new SignJWT({ client_id: 'bench', scope: 'listings:read' })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench', typ: 'at+jwt' })
    .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(sub).setIssuedAt().setExpirationTime('10m').setJti(sub)
    .sign(privateKey);
const token = await sign('user-0');
const pool = await Promise.all(Array.from({ length: 500 }, (_, i) => sign(`user-${i}`)));

const config = { authz: { issuer: ISSUER, internalUrl: jwksUrl, port: 0 }, api: { audience: AUDIENCE, port: 0 } } as unknown as Config;
const local = createLocalJWKSet(jwks);

async function rate(name: string, fn: (i: number) => Promise<unknown>): Promise<{ name: string; opsPerSec: number }> {
  for (let i = 0; i < 200; i++) await fn(i); // warm-up (JIT, JWKS fetch)
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) await fn(i);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return { name, opsPerSec: ITERATIONS / s };
}

const raw = await rate('raw jose.jwtVerify (local JWKS)', () => jwtVerify(token, local, { issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt' }));
const verifier = createAccessTokenVerifier(config);
const repeated = await rate('API verifier, one repeated token', () => verifier(token));
const distinctVerifier = createAccessTokenVerifier(config, { cacheSize: 100 });
const distinct = await rate('API verifier, 500 distinct tokens (LRU of 100)', (i) => distinctVerifier(pool[i % pool.length]!));
server.close();

const lines = [
  `access-token verification, ${ITERATIONS} verifications each, Node ${process.version}`,
  '',
  '| case | verifications/s | ratio to raw jose |',
  '|---|---:|---:|',
  ...[raw, repeated, distinct].map((r) => `| ${r.name} | ${Math.round(r.opsPerSec)} | ${(r.opsPerSec / raw.opsPerSec).toFixed(2)}× |`),
];
process.stdout.write(lines.join('\n') + '\n');
