import { createHash, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { MemoryCache } from '#shared/cache/index.js';
import { createProofChecker, htuOf, JTI_TTL_MS, PROOF_WINDOW_S, ProofRejected, type ProofInput } from '#api/auth/dpop.js';

/**
 * The API's RFC 9449 proof checker (resource-api/auth/dpop.ts), in process, one rule at a time:
 * each case changes one thing of a good proof and must be refused for that reason. The same
 * checks against real processes and real tokens: test/security/leaked-token-dpop.test.ts.
 */
const URL_ = 'https://api.example.com/v1/me';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

interface Key {
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function key(alg = 'ES256'): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

interface ProofOptions {
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  signWith?: CryptoKey;
}

/** A good proof for GET URL_ with TOKEN, by `k`, unless `o` changes something. */
function proof(k: Key, o: ProofOptions = {}): Promise<string> {
  const claims = { jti: randomUUID(), htm: 'GET', htu: URL_, iat: Math.floor(Date.now() / 1000), ath: ath(TOKEN), ...o.claims };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete (claims as Record<string, unknown>)[name];
  return new SignJWT(claims).setProtectedHeader({ alg: k.alg, typ: 'dpop+jwt', jwk: k.jwk, ...o.header }).sign(o.signWith ?? k.privateKey);
}

describe('resource API: DPoP proof checker (RFC 9449 §4.3, §7.1)', () => {
  let cache: MemoryCache;
  let check: ReturnType<typeof createProofChecker>;
  let k: Key;
  const input = (p: string | string[], over: Partial<ProofInput> = {}): ProofInput => ({
    proofs: Array.isArray(p) ? p : [p], method: 'GET', url: URL_, accessToken: TOKEN, jkt: k.jkt, ...over,
  });
  async function refused(p: Promise<void>, reason: string | RegExp) {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err, 'expected the proof to be refused').to.be.instanceOf(ProofRejected);
    if (typeof reason === 'string') expect((err as ProofRejected).reason).to.equal(reason);
    else expect((err as ProofRejected).reason).to.match(reason);
  }

  beforeEach(async () => {
    cache = new MemoryCache();
    check = createProofChecker(cache);
    k = await key();
  });

  for (const alg of ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256']) {
    it(`accepts a good proof signed with ${alg}`, async () => {
      const kk = await key(alg);
      await check({ ...input(await proof(kk)), jkt: kk.jkt });
    });
  }

  it('accepts an htu that differs only by query, fragment or URL normalisation', async () => {
    await check(input(await proof(k, { claims: { htu: `${URL_}?q=1#frag` } })));
    await check(input(await proof(k, { claims: { htu: 'HTTPS://API.example.com:443/v1/me' } })));
  });

  it('needs exactly one DPoP header', async () => {
    await refused(check(input([])), 'a DPoP proof is required');
    await refused(check(input([await proof(k), await proof(k)])), 'send exactly one DPoP header');
  });

  it('refuses a proof whose typ is not dpop+jwt', async () => {
    await refused(check(input(await proof(k, { header: { typ: 'JWT' } }))), 'the proof typ must be dpop+jwt');
  });

  it('refuses symmetric and unlisted algorithms', async () => {
    const secret = new TextEncoder().encode('a shared secret that is long enough for HS256!');
    const hs = await new SignJWT({ jti: randomUUID(), htm: 'GET', htu: URL_, iat: Math.floor(Date.now() / 1000), ath: ath(TOKEN) })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url') } as never })
      .sign(secret);
    await refused(check(input(hs)), 'the proof algorithm is not accepted');
    const es384 = await key('ES384');
    await refused(check({ ...input(await proof(es384)), jkt: es384.jkt }), 'the proof algorithm is not accepted');
  });

  it('refuses a header jwk with private members, and a proof without jwk', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const priv = await exportJWK(privateKey);
    await refused(check(input(await proof(k, { header: { jwk: priv }, signWith: privateKey }))), "the proof's jwk header must be a public key");
    await refused(check(input(await proof(k, { header: { jwk: undefined } }))), "the proof's jwk header must be a public key");
  });

  it('refuses a proof not signed by the key in its header, also once that key is known (imported keys are remembered)', async () => {
    const other = await key();
    await refused(check(input(await proof(k, { signWith: other.privateKey }))), 'the proof signature is invalid');
    await check(input(await proof(k)));
    await refused(check(input(await proof(k, { signWith: other.privateKey }))), 'the proof signature is invalid');
    // The same key with its private members is another header: refused, not served from memory.
    await refused(check(input(await proof(k, { header: { jwk: await exportJWK(k.privateKey) } }))), "the proof's jwk header must be a public key");
  });

  it('refuses a proof for another method or URL', async () => {
    await refused(check(input(await proof(k, { claims: { htm: 'POST' } }))), "the proof's htm does not match the request method");
    await refused(check(input(await proof(k, { claims: { htu: 'https://api.example.com/v1/listings' } }))), "the proof's htu does not match the request URL");
    await refused(check(input(await proof(k, { claims: { htu: 'https://evil.example/v1/me' } }))), "the proof's htu does not match the request URL");
    await refused(check(input(await proof(k, { claims: { htu: 'not a url' } }))), "the proof's htu does not match the request URL");
  });

  it(`accepts iat within ±${PROOF_WINDOW_S} s and refuses it outside`, async () => {
    const now = Math.floor(Date.now() / 1000);
    await check(input(await proof(k, { claims: { iat: now - PROOF_WINDOW_S + 2 } })));
    await check(input(await proof(k, { claims: { iat: now + PROOF_WINDOW_S - 2 } })));
    await refused(check(input(await proof(k, { claims: { iat: now - PROOF_WINDOW_S - 2 } }))), "the proof's iat is outside the accepted window");
    await refused(check(input(await proof(k, { claims: { iat: now + PROOF_WINDOW_S + 2 } }))), "the proof's iat is outside the accepted window");
  });

  it('refuses a proof for another token (ath) or without ath, jti, htm, htu or iat', async () => {
    await refused(check(input(await proof(k, { claims: { ath: ath('another token') } }))), "the proof's ath does not match the access token");
    for (const claim of ['ath', 'jti', 'htm', 'htu', 'iat']) {
      await refused(check(input(await proof(k, { claims: { [claim]: undefined } }))), `the proof's ${claim} claim is missing or malformed`);
    }
  });

  it('refuses a proof by another key than the token is bound to (jkt)', async () => {
    const other = await key();
    await refused(check(input(await proof(other))), 'the proof is signed by another key than the token is bound to');
  });

  it('accepts a jti once per key, for at least the whole iat window, and an invalid proof burns nothing', async () => {
    const jti = randomUUID();
    await refused(check(input(await proof(k, { claims: { jti, htm: 'POST' } }))), /htm/);
    const p = await proof(k, { claims: { jti } });
    await check(input(p));
    await refused(check(input(p)), 'the proof was already used');
    await refused(check(input(await proof(k, { claims: { jti } }))), 'the proof was already used');
    const other = await key();
    await check({ ...input(await proof(other, { claims: { jti } })), jkt: other.jkt });
    expect(JTI_TTL_MS).to.be.at.least(2 * PROOF_WINDOW_S * 1000);
  });

  it('remembers the jti in the cache it was given, with the TTL that covers the window', async () => {
    const calls: [string, number][] = [];
    const spy = { setIfAbsent: async (key: string, _v: string, ttl: number) => (calls.push([key, ttl]), true) };
    await createProofChecker(spy)(input(await proof(k)));
    expect(calls).to.have.length(1);
    expect(calls[0]![0]).to.match(/^dpop:jti:[A-Za-z0-9_-]{43}$/);
    expect(calls[0]![1]).to.equal(JTI_TTL_MS);
  });

  it('builds htu from the public URL (API_AUDIENCE origin) and the path, never from the request host', () => {
    expect(htuOf('https://api.example.com', '/v1/me')).to.equal('https://api.example.com/v1/me');
    expect(htuOf('https://api.example.com:443/', '/mcp')).to.equal('https://api.example.com/mcp');
    expect(htuOf('http://127.0.0.1:4999', '/v1/listings/a b')).to.equal('http://127.0.0.1:4999/v1/listings/a%20b');
  });
});
