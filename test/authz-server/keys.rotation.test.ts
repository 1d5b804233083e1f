import { expect } from 'chai';
import { adminHere } from '../helpers/admin.js';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type System } from '../helpers/system.js';
import { PASSWORD, REDIRECT, discover, signedInTokens } from './oidc.flow.js';

/** The documented rotation: add (published), restart, promote, restart, later remove. */
describe('signing key rotation', function () {
  this.timeout(90_000);
  let env: System;

  before(async () => {
    env = await startSystem({ backend: 'sqlite', authz: 0 });
    await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'] });
    await env.createUser({ email: 'alice@example.com', password: PASSWORD });
  });
  after(() => env?.close());

  async function admin(...args: string[]): Promise<string> {
    const run = await adminHere(args, env.env);
    expect(run.code, run.output).to.equal(0);
    return run.output;
  }
  const port = () => new URL(env.env.ISSUER_URL!).port;
  const verify = (token: string) => jwtVerify(token, createRemoteJWKSet(new URL(`${env.env.ISSUER_URL}/jwks`)), { issuer: env.env.ISSUER_URL, audience: 'agent' });

  it('keeps tokens signed by a retired key verifiable until the key is removed', async () => {
    let server = await env.startAuthz({ AUTHZ_PORT: port() });
    const old = await signedInTokens(await discover(server.issuer, 'agent'), new HttpBrowser());
    const oldKid = decodeProtectedHeader(old.id_token!).kid!;
    await server.stop();

    const added = await admin('keys:add', '--alg', 'RS256');
    const newKid = /^ {2}(\S+) {2}RS256 {2}next$/m.exec(added)?.[1];
    expect(newKid, added).to.be.a('string').and.not.equal(oldKid);

    // Published before it signs: tokens still come from the old key, and the JWKS has both.
    server = await env.startAuthz({ AUTHZ_PORT: port() });
    const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).to.include.members([oldKid, newKid!]);
    const beforePromotion = await signedInTokens(await discover(server.issuer, 'agent'), new HttpBrowser());
    expect(decodeProtectedHeader(beforePromotion.id_token!).kid).to.equal(oldKid);
    await server.stop();

    const promoted = await admin('keys:promote', newKid!);
    expect(promoted).to.match(new RegExp(`${oldKid} {2}RS256 {2}retired`));
    server = await env.startAuthz({ AUTHZ_PORT: port() });
    const fresh = await signedInTokens(await discover(server.issuer, 'agent'), new HttpBrowser());
    expect(decodeProtectedHeader(fresh.id_token!).kid).to.equal(newKid);
    expect((await verify(old.id_token!)).payload.sub).to.equal((await verify(fresh.id_token!)).payload.sub);
    await server.stop();

    await admin('keys:remove', oldKid);
    server = await env.startAuthz({ AUTHZ_PORT: port() });
    const failure = await verify(old.id_token!).then(() => 'verified', (e: Error) => e.name);
    expect(failure).to.equal('JWKSNoMatchingKey');
    expect((await verify(fresh.id_token!)).protectedHeader.kid).to.equal(newKid);
    await server.stop();
  });
});
