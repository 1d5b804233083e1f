import { createHash, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { calculateJwkThumbprint, decodeJwt, exportJWK, SignJWT, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { startSystem, type System } from '../helpers/system.js';
import { HttpBrowser } from '../helpers/http-browser.js';
import { PG_URL, REDIS_SKIP_REASON, REDIS_URL, describeWithService } from '../helpers/services.js';
import { authorize, discover } from '../authz-server/oidc.flow.js';

/**
 * A DPoP proof is good once across every replica (RFC 9449 §11.1): the resource API remembers a
 * proof's jti in the shared cache (Redis), so the same proof sent to two resource-api processes
 * — a captured request replayed through the load balancer, or raced — is accepted by exactly one.
 * With a per-process store each replica would accept it once: both would answer 200.
 */
const ROUNDS = 8;

describeWithService(`DPoP proof replay across two resource-api replicas sharing Redis (${PG_URL ? 'pg' : 'sqlite'})`, REDIS_URL, REDIS_SKIP_REASON, (redisUrl) => {
  let r: System;
  let token: string;
  let pair: Awaited<ReturnType<typeof oidc.randomDPoPKeyPair>>;
  let jwk: JWK;

  before(async function () {
    this.timeout(90_000);
    r = await startSystem({ hosting: 'process', logLevel: 'warn', backend: PG_URL ? 'pg' : 'sqlite', ...(PG_URL ? { pgUrl: PG_URL } : {}), redis: redisUrl, authz: 1, api: 2 });
    await r.seedClient();
    const { email } = await r.seedUser();
    const config = await discover(r.issuer, 'agent');
    pair = await oidc.randomDPoPKeyPair('ES256');
    jwk = await exportJWK(pair.publicKey);
    const { callback, verifier, state } = await authorize(config, new HttpBrowser(), { email, scope: 'openid listings:read' });
    token = (await oidc.authorizationCodeGrant(config, callback!, { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP: oidc.getDPoPHandle(config, pair) })).access_token;
    expect(decodeJwt(token).cnf).to.deep.equal({ jkt: await calculateJwkThumbprint(jwk) });
  });
  after(() => r?.close());

  /** A fresh proof for GET {API_AUDIENCE}/v1/me: the public URL, whichever replica serves it. */
  const proof = () =>
    new SignJWT({ jti: randomUUID(), htm: 'GET', htu: `${r.audience}/v1/me`, iat: Math.floor(Date.now() / 1000), ath: createHash('sha256').update(token).digest('base64url') })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .sign(pair.privateKey);
  const me = async (base: string, dpop: string) => {
    const res = await fetch(`${base}/v1/me`, { headers: { authorization: `DPoP ${token}`, dpop } });
    const body = (await res.json()) as { error?: { code: string } };
    return `${res.status} ${body.error?.code ?? 'OK'}`;
  };

  it('each replica accepts a fresh proof (so the refusals below are replay detection)', async () => {
    expect([await me(r.api[0]!.url, await proof()), await me(r.api[1]!.url, await proof())]).to.deep.equal(['200 OK', '200 OK']);
  });

  it('the same proof at the second replica after the first accepted it: refused', async () => {
    const p = await proof();
    expect([await me(r.api[0]!.url, p), await me(r.api[1]!.url, p)]).to.deep.equal(['200 OK', '401 INVALID_DPOP_PROOF']);
  });

  it(`the same proof raced to both replicas at once, ${ROUNDS} times: exactly one accepted each time`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const p = await proof();
      const answers = await Promise.all([me(r.api[0]!.url, p), me(r.api[1]!.url, p)]);
      expect(answers.sort(), `round ${round}`).to.deep.equal(['200 OK', '401 INVALID_DPOP_PROOF']);
    }
  });
});
