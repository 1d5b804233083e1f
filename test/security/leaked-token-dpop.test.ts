import { createHash, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { calculateJwkThumbprint, decodeJwt, exportJWK, SignJWT, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { HttpBrowser } from '../helpers/http-browser.js';
import { authorize, discover, REDIRECT } from '../authz-server/oidc.flow.js';
import { AGENT_SCOPES } from '../resource-api/mcp.fixture.js';
import { API_SCOPES, describeEachBackend, errorOf, type ApiAnswer, type Stack } from './stack.js';

/**
 * Threat: an access or refresh token leaks (a log, a proxy, a compromised tool). With DPoP
 * (RFC 9449) the token is bound to a key the agent keeps: the thief holds a string that every
 * door refuses without a fresh proof signed by that key. The agent side is openid-client 6's own
 * DPoP support, through code + PKCE; the proofs a library would never send are hand-signed with
 * jose by the agent's key, each changing one thing of a proof the API accepts.
 *
 * The shared stack's API_AUDIENCE (http://127.0.0.1:4999) is not where the API listens: the
 * agent addresses the public URL and its fetch forwards to the process, as a reverse proxy
 * would. So every accepted proof also shows that `htu` is checked against the public URL.
 */
const ALGS = 'algs="ES256 EdDSA Ed25519 RS256 PS256"';
const EMAIL = 'dpop-agent@example.com';
const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');
const now = () => Math.floor(Date.now() / 1000);

interface Key {
  pair: Awaited<ReturnType<typeof oidc.randomDPoPKeyPair>>;
  jwk: JWK;
  jkt: string;
  DPoP: oidc.DPoPHandle;
}

interface Agent {
  config: oidc.Configuration;
  /** Headers of every request the agent sent to the API, oldest first. */
  sent: Record<string, string>[];
  audience: string;
}

describeEachBackend('security: leaked access or refresh token, DPoP-bound (RFC 9449)', (stack) => {
  let s: Stack;
  let agent: Agent;
  let key: Key;
  let tokens: oidc.TokenEndpointResponse;

  async function agentFor(clientId: string): Promise<Agent> {
    const config = await discover(s.issuer, clientId);
    const audience = s.env.config.api.audience;
    const sent: Record<string, string>[] = [];
    config[oidc.customFetch] = (url, options) => {
      const u = new URL(url);
      if (u.origin !== new URL(audience).origin) return fetch(url, options as RequestInit);
      sent.push(options.headers);
      return fetch(`${s.apiUrl}${u.pathname}${u.search}`, options as RequestInit);
    };
    return { config, sent, audience };
  }

  async function newKey(a: Agent = agent, alg = 'ES256'): Promise<Key> {
    const pair = await oidc.randomDPoPKeyPair(alg);
    const jwk = await exportJWK(pair.publicKey);
    return { pair, jwk, jkt: await calculateJwkThumbprint(jwk), DPoP: oidc.getDPoPHandle(a.config, pair) };
  }

  /** The code flow with PKCE, the code redeemed with a DPoP proof by `k` (none when null). */
  async function codeFlow(a: Agent, k: Key | null, o: { scope?: string; extra?: Record<string, string> } = {}) {
    const { callback, verifier, state } = await authorize(a.config, new HttpBrowser(), { email: EMAIL, scope: o.scope ?? `openid offline_access ${API_SCOPES}`, ...(o.extra ? { extra: o.extra } : {}) });
    return oidc.authorizationCodeGrant(a.config, callback!, { pkceCodeVerifier: verifier, expectedState: state }, undefined, k ? { DPoP: k.DPoP } : undefined);
  }

  /** A proof by `k` for GET /v1/me with `token`, unless `o` changes something. */
  function proof(k: Key, token: string, o: { htm?: string; htu?: string; iat?: number; jti?: string; ath?: string; nonce?: string } = {}): Promise<string> {
    const claims = { jti: o.jti ?? randomUUID(), htm: o.htm ?? 'GET', htu: o.htu ?? `${agent.audience}/v1/me`, iat: o.iat ?? now(), ath: o.ath ?? sha256(token), ...(o.nonce ? { nonce: o.nonce } : {}) };
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: k.jwk }).sign(k.pair.privateKey);
  }

  const dpopCall = (token: string, dpop: string | undefined, method = 'GET', path = '/v1/me', json?: unknown) =>
    s.api(method, path, { headers: { authorization: `DPoP ${token}`, ...(dpop ? { dpop } : {}) }, ...(json === undefined ? {} : { json }) });

  function expectRefused(res: ApiAnswer, code: string, challenge: string, label = challenge): void {
    expect(errorOf(res), label).to.deep.equal([401, code]);
    expect(res.headers.get('www-authenticate'), label).to.equal(`${challenge}, resource_metadata="${agent.audience}/.well-known/oauth-protected-resource"`);
  }
  const badProof = (reason: string) => `DPoP error="invalid_dpop_proof", error_description="${reason}", ${ALGS}`;

  async function grantError(p: Promise<unknown>): Promise<[number, string]> {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err, 'expected the token endpoint to refuse').to.be.instanceOf(oidc.ResponseBodyError);
    return [(err as oidc.ResponseBodyError).status, (err as oidc.ResponseBodyError).error];
  }

  before(async function () {
    this.timeout(60_000);
    s = stack();
    await s.user(EMAIL);
    agent = await agentFor('agent');
    key = await newKey();
    tokens = await codeFlow(agent, key);
  });

  describe('the agent with its key (openid-client)', () => {
    it('code + PKCE with a proof gives token_type DPoP and an access token bound to the key (cnf.jkt); the API answers a proof', async () => {
      expect(tokens.token_type).to.equal('dpop');
      expect(decodeJwt(tokens.access_token).cnf).to.deep.equal({ jkt: key.jkt });
      const res = await oidc.fetchProtectedResource(agent.config, tokens.access_token, new URL(`${agent.audience}/v1/me`), 'GET', null, undefined, { DPoP: key.DPoP });
      // /v1/me names the scheme the token was presented with.
      const me = (await res.json()) as { email: string; authMethod: string };
      expect([res.status, me.email, me.authMethod]).to.deep.equal([200, EMAIL, 'dpop']);
      expect(agent.sent.at(-1)!.authorization).to.equal(`DPoP ${tokens.access_token}`);
    });

    it('refreshes with the same key: a new bound token that the API accepts', async () => {
      const fresh = await oidc.refreshTokenGrant(agent.config, tokens.refresh_token!, undefined, { DPoP: key.DPoP });
      expect([fresh.token_type, decodeJwt(fresh.access_token).cnf]).to.deep.equal(['dpop', { jkt: key.jkt }]);
      const res = await oidc.fetchProtectedResource(agent.config, fresh.access_token, new URL(`${agent.audience}/v1/me`), 'GET', null, undefined, { DPoP: key.DPoP });
      expect(res.status).to.equal(200);
      tokens = fresh;
    });

    for (const alg of ['Ed25519', 'EdDSA', 'RS256', 'PS256']) {
      it(`works with a ${alg} key pair too (openid-client signs Ed25519 proofs as alg Ed25519, RFC 9864)`, async () => {
        const k = await newKey(agent, alg);
        const t = await codeFlow(agent, k, { scope: 'openid listings:read' });
        expect(decodeJwt(t.access_token).cnf).to.deep.equal({ jkt: k.jkt });
        const res = await oidc.fetchProtectedResource(agent.config, t.access_token, new URL(`${agent.audience}/v1/me`), 'GET', null, undefined, { DPoP: k.DPoP });
        expect(res.status).to.equal(200);
      });
    }

    it('the MCP endpoint takes the same: a DPoP-bound /mcp token lists and calls tools; the audience binding stays', async () => {
      const mcp = await codeFlow(agent, key, { scope: `openid ${AGENT_SCOPES}`, extra: { resource: `${agent.audience}/mcp` } });
      expect(decodeJwt(mcp.access_token)).to.deep.include({ aud: `${agent.audience}/mcp`, cnf: { jkt: key.jkt } });
      const headers = () => new Headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream' });
      const rpc = async (body: object) => {
        const res = await oidc.fetchProtectedResource(agent.config, mcp.access_token, new URL(`${agent.audience}/mcp`), 'POST', JSON.stringify({ jsonrpc: '2.0', id: 1, ...body }), headers(), { DPoP: key.DPoP });
        return [res.status, ((await res.json()) as { result: Record<string, unknown> }).result] as const;
      };
      const [listed, list] = await rpc({ method: 'tools/list' });
      expect([listed, (list.tools as { name: string }[]).map((t) => t.name)]).to.deep.equal([200, ['search_listings', 'get_listing', 'my_quotas', 'report_usage', 'start_checkout', 'write_review']]);
      const [called, quotas] = await rpc({ method: 'tools/call', params: { name: 'my_quotas', arguments: {} } });
      expect([called, quotas.isError ?? false, quotas.structuredContent]).to.deep.equal([200, false, { items: [] }]);

      const mcpMetadata = `resource_metadata="${agent.audience}/.well-known/oauth-protected-resource/mcp"`;
      const noProof = await dpopCall(mcp.access_token, undefined, 'POST', '/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/list' });
      expect([...errorOf(noProof), noProof.headers.get('www-authenticate')]).to.deep.equal([401, 'INVALID_DPOP_PROOF', `${badProof('a DPoP proof is required')}, ${mcpMetadata}`]);
      const rest = await dpopCall(tokens.access_token, await proof(key, tokens.access_token, { htm: 'POST', htu: `${agent.audience}/mcp` }), 'POST', '/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/list' });
      expect([...errorOf(rest), rest.headers.get('www-authenticate')]).to.deep.equal([401, 'INVALID_TOKEN', `DPoP error="invalid_token", error_description="the token's aud claim is not accepted", ${ALGS}, ${mcpMetadata}`]);
    });
  });

  describe('the thief with the token but not the key', () => {
    it('a hand-signed proof by the agent\'s key is accepted (so each refusal below is about the one thing changed)', async () => {
      const res = await dpopCall(tokens.access_token, await proof(key, tokens.access_token));
      expect([res.status, res.body.email]).to.deep.equal([200, EMAIL]);
    });

    it('a replayed proof (same jti) is refused, however soon', async () => {
      await oidc.fetchProtectedResource(agent.config, tokens.access_token, new URL(`${agent.audience}/v1/me`), 'GET', null, undefined, { DPoP: key.DPoP });
      const captured = agent.sent.at(-1)!.dpop!;
      expectRefused(await dpopCall(tokens.access_token, captured), 'INVALID_DPOP_PROOF', badProof('the proof was already used'));
    });

    it('a proof for another method or URL is refused, and so is one naming the host the API listens on instead of its public URL', async () => {
      const t = tokens.access_token;
      expectRefused(await dpopCall(t, await proof(key, t, { htm: 'POST' })), 'INVALID_DPOP_PROOF', badProof("the proof's htm does not match the request method"));
      expectRefused(await dpopCall(t, await proof(key, t, { htu: `${agent.audience}/v1/usage` })), 'INVALID_DPOP_PROOF', badProof("the proof's htu does not match the request URL"));
      expectRefused(await dpopCall(t, await proof(key, t, { htu: `${s.apiUrl}/v1/me` })), 'INVALID_DPOP_PROOF', badProof("the proof's htu does not match the request URL"));
    });

    it('a stale proof (iat two minutes ago) is refused', async () => {
      const t = tokens.access_token;
      expectRefused(await dpopCall(t, await proof(key, t, { iat: now() - 120 })), 'INVALID_DPOP_PROOF', badProof("the proof's iat is outside the accepted window"));
    });

    it('a proof made for another token (ath) is refused', async () => {
      const t = tokens.access_token;
      expectRefused(await dpopCall(t, await proof(key, t, { ath: sha256('another token') })), 'INVALID_DPOP_PROOF', badProof("the proof's ath does not match the access token"));
    });

    it('a proof signed by the thief\'s own key (jkt mismatch) is refused', async () => {
      const thief = await newKey();
      const t = tokens.access_token;
      expectRefused(await dpopCall(t, await proof(thief, t)), 'INVALID_DPOP_PROOF', badProof('the proof is signed by another key than the token is bound to'));
      const viaLibrary = await oidc.fetchProtectedResource(agent.config, t, new URL(`${agent.audience}/v1/me`), 'GET', null, undefined, { DPoP: thief.DPoP }).then(() => undefined, (e: unknown) => e);
      expect(viaLibrary).to.be.instanceOf(oidc.WWWAuthenticateChallengeError);
      expect((viaLibrary as oidc.WWWAuthenticateChallengeError).cause[0]).to.deep.include({ scheme: 'dpop' });
      expect((viaLibrary as oidc.WWWAuthenticateChallengeError).cause[0]!.parameters.error).to.equal('invalid_dpop_proof');
    });

    it('the bound token sent as a bearer token is refused (RFC 9449 §7.2: no downgrade)', async () => {
      const res = await s.api('GET', '/v1/me', { token: tokens.access_token });
      expectRefused(res, 'INVALID_TOKEN', 'Bearer error="invalid_token", error_description="the token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof"');
    });

    it('a DPoP proof does not go with a token that is not bound to it: a bearer token under DPoP, or with a stray proof', async () => {
      const bearer = (await s.tokens(EMAIL, 'openid listings:read')).access_token;
      expect(decodeJwt(bearer).cnf).to.equal(undefined);
      const underDpop = await oidc.fetchProtectedResource(agent.config, bearer, new URL(`${agent.audience}/v1/me`), 'GET', null, undefined, { DPoP: key.DPoP }).then(() => undefined, (e: unknown) => e);
      expect(underDpop).to.be.instanceOf(oidc.WWWAuthenticateChallengeError);
      expect((underDpop as oidc.WWWAuthenticateChallengeError).cause[0]!.parameters).to.deep.include({ error: 'invalid_token', error_description: 'the token is not DPoP-bound: send it as Authorization: Bearer' });
      expectRefused(await dpopCall(bearer, await proof(key, bearer)), 'INVALID_TOKEN', `DPoP error="invalid_token", error_description="the token is not DPoP-bound: send it as Authorization: Bearer", ${ALGS}`);
      const stray = await s.api('GET', '/v1/me', { token: bearer, headers: { dpop: await proof(key, bearer) } });
      expectRefused(stray, 'INVALID_TOKEN', 'Bearer error="invalid_request", error_description="a DPoP proof goes with Authorization: DPoP"');
      expect((await s.api('GET', '/v1/me', { token: bearer })).status).to.equal(200);
    });

    it('a token the API has already verified (cached) still needs a fresh proof on every request', async () => {
      const t = tokens.access_token;
      const first = await proof(key, t);
      expect((await dpopCall(t, first)).status).to.equal(200);
      expectRefused(await dpopCall(t, undefined), 'INVALID_DPOP_PROOF', badProof('a DPoP proof is required'));
      expectRefused(await dpopCall(t, first), 'INVALID_DPOP_PROOF', badProof('the proof was already used'));
      expect((await dpopCall(t, await proof(key, t))).status).to.equal(200);
    });

    it('a missing scope is a DPoP challenge for a DPoP caller (RFC 9449 §7.1), naming the metadata', async () => {
      const narrow = await codeFlow(agent, key, { scope: 'openid usage:read' });
      const res = await dpopCall(narrow.access_token, await proof(key, narrow.access_token, { htm: 'POST', htu: `${agent.audience}/v1/usage` }), 'POST', '/v1/usage', { clientReqId: randomUUID(), listingId: randomUUID(), units: 1 });
      expect([...errorOf(res), res.headers.get('www-authenticate')]).to.deep.equal([
        403, 'INSUFFICIENT_SCOPE', `DPoP error="insufficient_scope", scope="usage:report", ${ALGS}, resource_metadata="${agent.audience}/.well-known/oauth-protected-resource"`,
      ]);
    });
  });

  describe('the thief with the refresh token but not the key (authorization server)', () => {
    it('a public client\'s refresh token is bound to the key: without a proof or with another key it is invalid_grant; the agent still refreshes', async () => {
      const thief = await newKey();
      expect(await grantError(oidc.refreshTokenGrant(agent.config, tokens.refresh_token!))).to.deep.equal([400, 'invalid_grant']);
      expect(await grantError(oidc.refreshTokenGrant(agent.config, tokens.refresh_token!, undefined, { DPoP: thief.DPoP }))).to.deep.equal([400, 'invalid_grant']);
      tokens = await oidc.refreshTokenGrant(agent.config, tokens.refresh_token!, undefined, { DPoP: key.DPoP });
      expect(decodeJwt(tokens.access_token).cnf).to.deep.equal({ jkt: key.jkt });
    });

    it('the token endpoint requires its nonce (use_dpop_nonce + DPoP-Nonce), and a proof is good once there too', async () => {
      const tokenUrl = agent.config.serverMetadata().token_endpoint!;
      const post = async (dpop: string) => {
        const res = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'agent' }) });
        return { status: res.status, nonce: res.headers.get('dpop-nonce'), body: (await res.json()) as Record<string, string> };
      };
      const tokenProof = (nonce?: string) => new SignJWT({ jti: randomUUID(), htm: 'POST', htu: tokenUrl, iat: now(), ...(nonce ? { nonce } : {}) }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk }).sign(key.pair.privateKey);
      const first = await post(await tokenProof());
      expect([first.status, first.body]).to.deep.equal([400, { error: 'use_dpop_nonce', error_description: 'nonce is required in the DPoP proof' }]);
      expect(first.nonce).to.be.a('string').and.not.equal('');
      const withNonce = await tokenProof(first.nonce!);
      const ok = await post(withNonce);
      expect([ok.status, ok.body.token_type]).to.deep.equal([200, 'DPoP']);
      tokens = { ...tokens, access_token: ok.body.access_token!, refresh_token: ok.body.refresh_token! };
      const replay = await post(withNonce);
      expect([replay.status, replay.body.error]).to.deep.equal([400, 'invalid_grant']);
    });

    it('a client registered with dpop_bound_access_tokens (--dpop-bound) gets no token without a proof', async () => {
      await s.env.createClient({ clientId: 'dpop-only-agent', name: 'DPoP agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access', ...API_SCOPES.split(' ')], dpopBound: true });
      const only = await agentFor('dpop-only-agent');
      const { callback, verifier, state } = await authorize(only.config, new HttpBrowser(), { email: EMAIL, scope: 'openid offline_access listings:read' });
      const redeem = (k?: Key) => oidc.authorizationCodeGrant(only.config, callback!, { pkceCodeVerifier: verifier, expectedState: state }, undefined, k ? { DPoP: k.DPoP } : undefined);
      expect(await grantError(redeem())).to.deep.equal([400, 'invalid_grant']);
      const k = await newKey(only);
      const bound = await redeem(k);
      expect([bound.token_type, decodeJwt(bound.access_token).cnf]).to.deep.equal(['dpop', { jkt: k.jkt }]);
    });

    it('dpop_jkt on the authorization request binds the code to that key (RFC 9449 §10)', async () => {
      const other = await newKey();
      const bound = { scope: 'openid listings:read', extra: { dpop_jkt: key.jkt } };
      // oidc-provider consumes the code before it compares the keys: a stolen code is spent.
      expect(await grantError(codeFlow(agent, other, bound))).to.deep.equal([400, 'invalid_grant']);
      expect(await grantError(codeFlow(agent, null, bound))).to.deep.equal([400, 'invalid_grant']);
      expect(decodeJwt((await codeFlow(agent, key, bound)).access_token).cnf).to.deep.equal({ jkt: key.jkt });
    });
  });
});
