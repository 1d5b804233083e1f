import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { FRONTEND, describeEachBackend, errorOf, type Stack } from '../security/stack.js';
import { AGENT_SCOPES, call, connectAgent, mcpResource, postMcp, refusal, result, tokenFor } from './mcp.fixture.js';

/**
 * /mcp as an agent meets it before any tool runs: its own protected resource (RFC 9728 metadata,
 * RFC 8707 audience), the challenges that lead there, the transport rules (stateless Streamable
 * HTTP, POST only, JSON, bounded body, Origin validated) and the tool list. The official MCP SDK
 * client is the agent; hand-written requests are the negative cases it would not send.
 */
describeEachBackend('resource API: the MCP endpoint (transport, metadata, audience)', (stack: () => Stack) => {
  const email = `mcp-endpoint-${randomUUID()}@example.com`;
  let s: Stack;
  let mcpToken: string;
  let restToken: string;
  let metadataUrl: string;

  before(async function () {
    this.timeout(60_000);
    s = stack();
    await s.user(email);
    mcpToken = await tokenFor(s, email, { resource: mcpResource(s) });
    restToken = await tokenFor(s, email, { resource: s.env.config.api.audience });
    metadataUrl = `${s.env.config.api.audience}/.well-known/oauth-protected-resource/mcp`;
  });

  describe('protected resource metadata (RFC 9728)', () => {
    it('describes /mcp as its own resource: its identifier, our issuer, the scopes its tools need', async () => {
      const res = await s.api('GET', '/.well-known/oauth-protected-resource/mcp');
      expect(res.status).to.equal(200);
      expect(res.headers.get('cache-control')).to.equal('public, max-age=3600');
      expect(res.body).to.deep.equal({
        resource: mcpResource(s),
        authorization_servers: [s.issuer],
        scopes_supported: ['reviews:write', 'checkout:create', 'usage:report', 'usage:read'],
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'],
        resource_name: 'Portcullis marketplace (MCP)',
      });
      // The API's own metadata still describes the REST API.
      expect((await s.api('GET', '/.well-known/oauth-protected-resource')).body.resource).to.equal(s.env.config.api.audience);
    });

    it('is readable from any origin without credentials, preflight included', async () => {
      const get = await s.api('GET', '/.well-known/oauth-protected-resource/mcp', { headers: { origin: 'https://agent.example' } });
      expect([get.status, get.headers.get('access-control-allow-origin'), get.headers.get('access-control-allow-credentials')]).to.deep.equal([200, '*', null]);
      const pre = await s.api('OPTIONS', '/.well-known/oauth-protected-resource/mcp', { headers: { origin: 'https://agent.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'mcp-protocol-version' } });
      expect([pre.status, pre.headers.get('access-control-allow-origin'), pre.headers.get('access-control-allow-credentials')]).to.deep.equal([204, '*', null]);
      expect(pre.headers.get('access-control-allow-headers')).to.contain('MCP-Protocol-Version');
    });
  });

  describe('authentication: HTTP 401 before MCP, pointing at the /mcp metadata', () => {
    it('no token: 401 UNAUTHENTICATED with a challenge naming only the metadata (RFC 6750 §3.1, RFC 9728 §5.1)', async () => {
      const res = await postMcp(s);
      expect(errorOf(res)).to.deep.equal([401, 'UNAUTHENTICATED']);
      expect(res.headers.get('www-authenticate')).to.equal(`Bearer resource_metadata="${metadataUrl}"`);
    });

    it('the SDK client with a bad token fails to connect with that 401', async () => {
      const err = await connectAgent(s, 'not-a-token').then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(StreamableHTTPError);
      expect((err as StreamableHTTPError).code).to.equal(401);
    });

    it('a tampered token: 401 invalid_token, still pointing at the /mcp metadata', async () => {
      const res = await postMcp(s, { token: `${mcpToken.slice(0, -4)}AAAA` });
      expect(errorOf(res)).to.deep.equal([401, 'INVALID_TOKEN']);
      expect(res.headers.get('www-authenticate')).to.equal(`Bearer error="invalid_token", error_description="the token signature is invalid", resource_metadata="${metadataUrl}"`);
    });

    it('a banned person\'s token: 403 ACCOUNT_DISABLED before any tool, as at the REST API', async () => {
      const banned = `mcp-banned-${randomUUID()}@example.com`;
      const id = await s.user(banned);
      const token = await tokenFor(s, banned, { resource: mcpResource(s) });
      expect((await postMcp(s, { token })).status).to.equal(200);
      await s.db('user').where({ id }).update({ banned: true });
      expect(errorOf(await postMcp(s, { token }))).to.deep.equal([403, 'ACCOUNT_DISABLED']);
    });

    it('a session cookie is no credential at /mcp: 401 UNAUTHENTICATED', async () => {
      const cookie = await s.sessionCookie(await s.signedIn(email));
      expect(cookie).to.match(/session_token=/);
      const res = await postMcp(s, { headers: { cookie } });
      expect(errorOf(res)).to.deep.equal([401, 'UNAUTHENTICATED']);
      expect(res.headers.get('www-authenticate')).to.equal(`Bearer resource_metadata="${metadataUrl}"`);
    });
  });

  describe('audience binding (RFC 8707): a token is good at one resource', () => {
    it('the authorization server issues a JWT for /mcp when asked for that resource', () => {
      expect(decodeJwt(mcpToken)).to.deep.include({ aud: mcpResource(s), scope: AGENT_SCOPES, client_id: 'agent' });
      expect(decodeJwt(restToken)).to.deep.include({ aud: s.env.config.api.audience, scope: AGENT_SCOPES });
    });

    it('a REST token at /mcp: 401 invalid_token (also after the REST API has verified and cached it)', async () => {
      expect((await s.api('GET', '/v1/me', { token: restToken })).status).to.equal(200);
      const res = await postMcp(s, { token: restToken });
      expect(errorOf(res)).to.deep.equal([401, 'INVALID_TOKEN']);
      expect(res.headers.get('www-authenticate')).to.equal(`Bearer error="invalid_token", error_description="the token's aud claim is not accepted", resource_metadata="${metadataUrl}"`);
    });

    it('an MCP token at the REST API: 401 invalid_token (also after /mcp has verified and cached it), naming the API metadata', async () => {
      expect((await postMcp(s, { token: mcpToken })).status).to.equal(200);
      const res = await s.api('GET', '/v1/me', { token: mcpToken });
      expect(errorOf(res)).to.deep.equal([401, 'INVALID_TOKEN']);
      expect(res.headers.get('www-authenticate')).to.equal(
        `Bearer error="invalid_token", error_description="the token's aud claim is not accepted", resource_metadata="${s.env.config.api.audience}/.well-known/oauth-protected-resource"`,
      );
    });

    it('refuses any other resource (RFC 8707 invalid_target)', async () => {
      const err = await tokenFor(s, email, { resource: `${s.env.config.api.audience}/mcp/other` }).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(oidc.AuthorizationResponseError);
      expect((err as oidc.AuthorizationResponseError).error).to.equal('invalid_target');
    });
  });

  describe('transport: stateless Streamable HTTP', () => {
    it('GET and DELETE: 405 METHOD_NOT_ALLOWED, Allow: POST (no session, no stream to resume)', async () => {
      for (const method of ['GET', 'DELETE']) {
        const res = await postMcp(s, { token: mcpToken, method });
        expect([method, ...errorOf(res), res.headers.get('allow')]).to.deep.equal([method, 405, 'METHOD_NOT_ALLOWED', 'POST']);
      }
    });

    it('answers JSON (no SSE) and hands out no session id; any request stands alone', async () => {
      const res = await postMcp(s, { token: mcpToken, body: { jsonrpc: '2.0', id: 7, method: 'tools/list' } });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(res.headers.get('mcp-session-id')).to.equal(null);
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(res.body.id).to.equal(7);
      expect(res.body.result.tools).to.have.length(6);
    });

    it('a body that is not JSON: 415 UNSUPPORTED_MEDIA_TYPE; over BODY_LIMIT_BYTES: 413 PAYLOAD_TOO_LARGE', async () => {
      expect(errorOf(await postMcp(s, { token: mcpToken, headers: { 'content-type': 'text/plain' }, body: 'hello' }))).to.deep.equal([415, 'UNSUPPORTED_MEDIA_TYPE']);
      const big = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search_listings', arguments: { q: 'x'.repeat(s.env.config.http.bodyLimitBytes) } } };
      expect(errorOf(await postMcp(s, { token: mcpToken, body: big }))).to.deep.equal([413, 'PAYLOAD_TOO_LARGE']);
    });
  });

  describe('Origin validation (MCP transport spec: DNS rebinding)', () => {
    it('a foreign Origin: 403 ORIGIN_NOT_ALLOWED, even with a valid token, and no CORS grant', async () => {
      for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:1']) {
        const res = await postMcp(s, { token: mcpToken, headers: { origin } });
        expect([origin, ...errorOf(res)]).to.deep.equal([origin, 403, 'ORIGIN_NOT_ALLOWED']);
        expect(res.headers.get('access-control-allow-origin')).to.equal(null);
      }
    });

    it('the marketplace front end and the API origin may call it; no Origin (a non-browser agent) too', async () => {
      const front = await postMcp(s, { token: mcpToken, headers: { origin: FRONTEND } });
      expect([front.status, front.headers.get('access-control-allow-origin')]).to.deep.equal([200, FRONTEND]);
      expect((await postMcp(s, { token: mcpToken, headers: { origin: new URL(s.env.config.api.audience).origin } })).status).to.equal(200);
      expect((await postMcp(s, { token: mcpToken })).status).to.equal(200);
    });
  });

  describe('tools/list', () => {
    it('lists the six marketplace tools with their REST twins\' input and output schemas', async () => {
      const agent = await connectAgent(s, mcpToken);
      const { tools } = await agent.listTools();
      await agent.close();
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      expect(Object.keys(byName).sort()).to.deep.equal(['get_listing', 'my_quotas', 'report_usage', 'search_listings', 'start_checkout', 'write_review']);
      const shape = (name: string) => {
        const input = byName[name]!.inputSchema as { properties?: Record<string, unknown>; required?: string[]; additionalProperties?: boolean };
        return { properties: Object.keys(input.properties ?? {}).sort(), required: [...(input.required ?? [])].sort(), additionalProperties: input.additionalProperties };
      };
      expect(shape('search_listings')).to.deep.equal({ properties: ['cursor', 'limit', 'priceType', 'publisher', 'q'], required: [], additionalProperties: false });
      expect(shape('get_listing')).to.deep.equal({ properties: ['idOrSlug'], required: ['idOrSlug'], additionalProperties: false });
      expect(shape('my_quotas')).to.deep.equal({ properties: ['listingId'], required: [], additionalProperties: false });
      expect(shape('report_usage')).to.deep.equal({ properties: ['clientReqId', 'listingId', 'units'], required: ['clientReqId', 'listingId', 'units'], additionalProperties: false });
      expect(shape('start_checkout')).to.deep.equal({ properties: ['clientReqId', 'listingId', 'returnUrl'], required: ['listingId', 'returnUrl'], additionalProperties: false });
      expect(shape('write_review')).to.deep.equal({ properties: ['body', 'listingId', 'rating'], required: ['body', 'listingId', 'rating'], additionalProperties: false });
      expect((byName.write_review!.inputSchema.properties as Record<string, unknown>).rating).to.deep.include({ type: 'integer', minimum: 1, maximum: 5 });
      for (const t of tools) expect(t.outputSchema, t.name).to.deep.include({ type: 'object' });
      expect(byName.start_checkout!.description).to.equal(
        'Start a Stripe Checkout for a listing; answers the Checkout URL to send the user to. Give the returned url to the person: they pay on the Stripe page themselves. Never ask for or send card data.',
      );
      expect(byName.search_listings!.description).to.equal('Published listings, newest first.');
      expect(tools.filter((t) => t.annotations?.readOnlyHint).map((t) => t.name).sort()).to.deep.equal(['get_listing', 'my_quotas', 'search_listings']);
    });

    it('an unknown tool is a protocol error (JSON-RPC invalid params), not a tool result', async () => {
      const res = await postMcp(s, { token: mcpToken, body: { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'delete_everything', arguments: {} } } });
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ jsonrpc: '2.0', id: 3, error: { code: -32602, message: 'MCP error -32602: Unknown tool: delete_everything' } });
    });

    it('every call stands alone: a tool answers without an initialize on the same server', async () => {
      const res = await postMcp(s, { token: mcpToken, body: { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'search_listings', arguments: { limit: 1 } } } });
      expect(res.status).to.equal(200);
      expect(res.body.result.structuredContent).to.have.keys(['items', 'nextCursor']);
      const agent = await connectAgent(s, mcpToken);
      expect(result(await call(agent, 'search_listings', { limit: 1 }))).to.have.keys(['items', 'nextCursor']);
      expect(refusal(await call(agent, 'search_listings', { limit: 0 })).code).to.equal('VALIDATION_FAILED');
      await agent.close();
    });
  });
});
