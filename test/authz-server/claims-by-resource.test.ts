import { expect } from 'chai';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type System, type Backend } from '../helpers/system.js';
import { PG_URL, PG_SKIP_REASON } from '../helpers/services.js';
import { PASSWORD, REDIRECT, authorize, discover } from './oidc.flow.js';

const API = 'http://127.0.0.1:4999';
const PERSON = { name: 'Alice', email: 'alice@example.com', email_verified: true };

/**
 * OpenID Connect Core §5.4: the claims the person consented to (profile → name, email → email and
 * email_verified) reach the client whatever it puts in `resource` (RFC 8707): at userinfo when the
 * access token can be used there (opaque, no audience), in the ID token when it is a JWT for the
 * API, which userinfo refuses. Never in neither, never in both.
 */
const CASES: { api: boolean; auth: boolean; token: boolean; claimsAt: 'id_token' | 'userinfo' | 'invalid_target' }[] = [
  { api: true, auth: true, token: false, claimsAt: 'id_token' }, // openid-client's usual RP: resource on /auth only
  { api: true, auth: false, token: true, claimsAt: 'id_token' },
  { api: true, auth: true, token: true, claimsAt: 'id_token' },
  { api: true, auth: false, token: false, claimsAt: 'id_token' }, // API scopes select the API as resource
  { api: false, auth: true, token: false, claimsAt: 'id_token' }, // a token for the API with no API scope
  { api: false, auth: true, token: true, claimsAt: 'id_token' },
  { api: false, auth: false, token: false, claimsAt: 'userinfo' }, // plain OpenID Connect
  // RFC 8707 §2.2: a resource the authorization did not cover is refused at the token endpoint.
  { api: false, auth: false, token: true, claimsAt: 'invalid_target' },
];

function suite(backend: Backend) {
  describe(`consented claims reach the client for every placement of resource (${backend})`, function () {
    this.timeout(60_000);
    let env: System;
    let config: oidc.Configuration;

    before(async () => {
      env = await startSystem({ backend, authz: 0 });
      await env.startAuthz();
      await env.createClient({ clientId: 'claims-rp', name: 'Claims RP', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'profile', 'email', 'offline_access', 'listings:read'] });
      await env.createUser({ email: PERSON.email, password: PASSWORD, name: PERSON.name });
      config = await discover(env.env.ISSUER_URL!, 'claims-rp');
    });
    after(() => env?.close());

    /** Where name and email are: the ID token, userinfo (null: refused with 401 invalid_token). */
    async function claimsOf(tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers) {
      const idToken = tokens.claims()!;
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub).then(
        (u) => u as Record<string, unknown>,
        (err: unknown) => {
          expect(err).to.be.instanceOf(oidc.WWWAuthenticateChallengeError);
          const e = err as oidc.WWWAuthenticateChallengeError;
          expect([e.status, e.cause[0]!.parameters.error]).to.deep.equal([401, 'invalid_token']);
          return null;
        },
      );
      return { idToken: idToken as Record<string, unknown>, userinfo };
    }
    const pick = (o: Record<string, unknown>) => ({ name: o.name, email: o.email, email_verified: o.email_verified });
    const NONE = { name: undefined, email: undefined, email_verified: undefined };

    for (const c of CASES) {
      const where = `${c.auth ? 'resource at /auth' : 'no resource at /auth'}, ${c.token ? 'resource at /token' : 'no resource at /token'}`;
      it(`${c.api ? 'openid profile email + an API scope' : 'openid profile email'}; ${where}: ${c.claimsAt}`, async () => {
        const scope = `openid profile email${c.api ? ' listings:read' : ''}`;
        const { callback, verifier, state } = await authorize(config, new HttpBrowser(), { scope, extra: c.auth ? { resource: API } : {} });
        const redeem = oidc.authorizationCodeGrant(config, callback!, { pkceCodeVerifier: verifier, expectedState: state }, c.token ? { resource: API } : undefined);
        if (c.claimsAt === 'invalid_target') {
          const err = (await redeem.then(() => undefined, (e: unknown) => e)) as oidc.ResponseBodyError;
          expect([err?.status, err?.error]).to.deep.equal([400, 'invalid_target']);
          return;
        }
        const tokens = await redeem;
        const { idToken, userinfo } = await claimsOf(tokens);
        expect(idToken['marketplace:role'], 'an openid claim: always in the ID token').to.equal('user');
        if (c.claimsAt === 'id_token') {
          expect(decodeJwt(tokens.access_token)).to.deep.include({ aud: API, ...(c.api ? { scope: 'listings:read' } : {}) });
          expect(userinfo).to.equal(null);
          expect(pick(idToken)).to.deep.equal(PERSON);
        } else {
          expect(() => decodeJwt(tokens.access_token), 'an opaque token').to.throw();
          expect(pick(userinfo!)).to.deep.equal(PERSON);
          expect(userinfo!.sub).to.equal(idToken.sub);
          expect(pick(idToken), 'the ID token carries no claim userinfo gives').to.deep.equal(NONE);
        }
      });
    }

    it('a refreshed ID token follows the same rule as the first one', async () => {
      const flow = await authorize(config, new HttpBrowser(), { scope: 'openid profile email offline_access listings:read', extra: { resource: API } });
      const first = await oidc.authorizationCodeGrant(config, flow.callback!, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
      const refreshed = await oidc.refreshTokenGrant(config, first.refresh_token!);
      expect(decodeJwt(refreshed.access_token).aud).to.equal(API);
      expect(pick(refreshed.claims()!)).to.deep.equal(PERSON);

      const plain = await authorize(config, new HttpBrowser(), { scope: 'openid profile email offline_access' });
      const opaque = await oidc.authorizationCodeGrant(config, plain.callback!, { pkceCodeVerifier: plain.verifier, expectedState: plain.state });
      const again = await oidc.refreshTokenGrant(config, opaque.refresh_token!);
      const { idToken, userinfo } = await claimsOf(again);
      expect(pick(idToken)).to.deep.equal(NONE);
      expect(pick(userinfo!)).to.deep.equal(PERSON);
    });

    it('gives only what was consented: without profile and email, neither place has them', async () => {
      for (const extra of [{}, { resource: API }] as Record<string, string>[]) {
        const flow = await authorize(config, new HttpBrowser(), { scope: 'openid listings:read', extra });
        const tokens = await oidc.authorizationCodeGrant(config, flow.callback!, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
        const { idToken, userinfo } = await claimsOf(tokens);
        expect(pick(idToken)).to.deep.equal(NONE);
        expect(userinfo).to.equal(null);
      }
      const flow = await authorize(config, new HttpBrowser(), { scope: 'openid' });
      const { idToken, userinfo } = await claimsOf(await oidc.authorizationCodeGrant(config, flow.callback!, { pkceCodeVerifier: flow.verifier, expectedState: flow.state }));
      expect([pick(idToken), pick(userinfo!)]).to.deep.equal([NONE, NONE]);
    });
  });
}

suite('sqlite');
if (PG_URL) suite('pg');
else describe.skip(`consented claims reach the client for every placement of resource (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
