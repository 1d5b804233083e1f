import { expect } from 'chai';
import * as oidc from 'openid-client';
import { HttpBrowser } from '../helpers/http-browser.js';
import { authorize, tokenRequest } from '../authz-server/oidc.flow.js';
import { REDIRECT, sharedStack, type Stack } from './stack.js';

/**
 * Threat: an authorization code leaked from the redirect (URL in a log, a referrer, a malicious
 * app on the same device). Security page: "Codes are single-use and short-lived. PKCE-S256
 * prevents replay even if the code leaks in a URL." The attacker here has the code; only the
 * legitimate client has the PKCE verifier.
 *
 * Time: the 60 s lifetime is checked without sleeping. The code's row in `oidc_models` carries
 * its expiry (`expires_at`, and `iat`/`exp` in the payload, which oidc-provider checks too);
 * the test asserts that expiry is exactly AUTH_CODE_TTL_S (60 s) after issue and then moves
 * both back by 61 s, as if a minute had passed.
 */
describe('security: stolen authorization code', function () {
  this.timeout(60_000);
  let s: Stack;

  before(async () => {
    s = await sharedStack();
    await s.user('code-victim@example.com');
    await s.env.createClient({ clientId: 'code-thief', name: 'Thief', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'] });
  });

  /** The victim's front channel up to the callback: the code (what leaks) and the verifier (what does not). */
  async function leakedCode() {
    const { callback, verifier } = await authorize(s.client, new HttpBrowser(), { email: 'code-victim@example.com', scope: 'openid offline_access' });
    return { code: callback!.searchParams.get('code')!, verifier };
  }
  const redeem = (form: Record<string, string>) => tokenRequest(s.issuer, { grant_type: 'authorization_code', redirect_uri: REDIRECT, client_id: 'agent', ...form });
  const userinfo = async (accessToken: string) => (await fetch(s.client.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${accessToken}` } })).status;

  it('cannot be redeemed without the PKCE verifier or with a wrong one', async () => {
    const { code, verifier } = await leakedCode();
    expect(await redeem({ code })).to.deep.equal({ status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } });
    expect(await redeem({ code, code_verifier: oidc.randomPKCECodeVerifier() })).to.deep.equal({ status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } });
    expect(await redeem({ code, code_verifier: verifier.slice(0, -1) + (verifier.endsWith('A') ? 'B' : 'A') })).to.deep.include({ status: 400 });
  });

  it('cannot be redeemed by another client, even one registered with the same redirect URI', async () => {
    const { code, verifier } = await leakedCode();
    const res = await redeem({ code, code_verifier: verifier, client_id: 'code-thief' });
    expect(res).to.deep.equal({ status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } });
  });

  it('cannot be redeemed with another redirect_uri', async () => {
    const { code, verifier } = await leakedCode();
    const res = await redeem({ code, code_verifier: verifier, redirect_uri: 'http://127.0.0.1:8765/elsewhere' });
    expect(res).to.deep.equal({ status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } });
  });

  it('is single use: a replay fails and revokes everything the first redemption issued', async () => {
    const { code, verifier } = await leakedCode();
    const first = await redeem({ code, code_verifier: verifier });
    expect(first.status).to.equal(200);
    const { access_token, refresh_token } = first.body as { access_token: string; refresh_token: string };
    expect(await userinfo(access_token)).to.equal(200);
    const replay = await redeem({ code, code_verifier: verifier });
    expect(replay).to.deep.equal({ status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } });
    expect(await userinfo(access_token)).to.equal(401);
    const refresh = await tokenRequest(s.issuer, { grant_type: 'refresh_token', refresh_token, client_id: 'agent' });
    expect([refresh.status, refresh.body.error]).to.deep.equal([400, 'invalid_grant']);
  });

  it(`expires ${60} s after issue`, async () => {
    const { code, verifier } = await leakedCode();
    const row = await s.db('oidc_models').where({ model: 'AuthorizationCode', id: code }).first();
    const payload = JSON.parse(row.payload) as { iat: number; exp: number };
    expect(payload.exp - payload.iat, 'lifetime in the payload').to.equal(60);
    expect(Number(row.expires_at) - payload.iat * 1000, 'lifetime of the row').to.be.within(59_000, 61_000);
    const aged = { ...payload, iat: payload.iat - 61, exp: payload.exp - 61 };
    await s.db('oidc_models').where({ model: 'AuthorizationCode', id: code }).update({ payload: JSON.stringify(aged), expires_at: Number(row.expires_at) - 61_000 });
    const res = await redeem({ code, code_verifier: verifier });
    expect(res).to.deep.equal({ status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } });
  });

  it('is redeemed once by the legitimate client with its verifier (the refusals above are not a broken endpoint)', async () => {
    const { code, verifier } = await leakedCode();
    const res = await redeem({ code, code_verifier: verifier });
    expect(res.status).to.equal(200);
    expect(res.body).to.include.keys('access_token', 'id_token', 'refresh_token');
  });
});
