import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { HAS_CHROMIUM, CHROMIUM, launch, watch } from '../helpers/browser.js';
import { listenAt } from '../helpers/loopback.js';
import { freePort } from '../helpers/process.js';
import { createTestCa, httpsDocumentServer, type TestCa } from '../helpers/test-ca.js';
import { PASSWORD, FRONTEND, startStack, errorOf, type Stack } from '../security/stack.js';
import { VIEWPORTS, checkPage } from './page-checks.js';

/**
 * The issue's acceptance run: the official MCP TypeScript SDK client, unmodified, against real
 * authz-server and resource-api processes. 401 → protected resource metadata → authorization
 * server metadata → registration (once by a client ID metadata document served over https on
 * loopback with a throwaway CA, once by RFC 7591 dynamic registration) → code + PKCE, the
 * person's part in Chromium (consent checked at desktop and phone width with axe-core) → tokens
 * bound to /mcp → tools/list → every tool, compared with the REST route it mirrors.
 */
(HAS_CHROMIUM ? describe : describe.skip)(`browser: an MCP agent joins and works${HAS_CHROMIUM ? '' : ` — skipped: no Chromium at ${CHROMIUM}`}`, function () {
  this.timeout(180_000);
  let ca: TestCa;
  let docs: Awaited<ReturnType<typeof httpsDocumentServer>>;
  let stack: Stack;
  let browser: Browser;
  let mcpUrl: URL;
  const consoleErrors: string[] = [];

  before(async () => {
    ca = createTestCa();
    docs = await httpsDocumentServer(ca);
    stack = await startStack({ audienceIsApiUrl: true, env: { CLIENT_METADATA_ALLOW_LOOPBACK: 'true', NODE_EXTRA_CA_CERTS: ca.caFile } });
    mcpUrl = new URL(`${stack.apiUrl}/mcp`);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
    await docs?.close();
    ca?.close();
  });
  afterEach(() => expect(consoleErrors.splice(0), 'console errors').to.deep.equal([]));

  /** The agent's storage: what a real MCP host keeps between runs. Nothing here is Portcullis-specific. */
  class AgentAuth implements OAuthClientProvider {
    info: OAuthClientInformationMixed | undefined;
    saved: OAuthTokens | undefined;
    verifier = '';
    authorizationUrl: URL | undefined;
    constructor(
      readonly redirect: string,
      readonly clientMetadataUrl?: string,
    ) {}
    get redirectUrl() {
      return this.redirect;
    }
    get clientMetadata(): OAuthClientMetadata {
      return {
        client_name: 'Research Agent (MCP)',
        redirect_uris: [this.redirect],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      };
    }
    clientInformation() {
      return this.info;
    }
    saveClientInformation(info: OAuthClientInformationMixed) {
      this.info = info;
    }
    tokens() {
      return this.saved;
    }
    saveTokens(tokens: OAuthTokens) {
      this.saved = tokens;
    }
    redirectToAuthorization(url: URL) {
      this.authorizationUrl = url;
    }
    saveCodeVerifier(v: string) {
      this.verifier = v;
    }
    codeVerifier() {
      return this.verifier;
    }
  }

  /** The person's part: sign in and allow in Chromium; the loopback listener catches the code. */
  async function personApproves(url: URL, email: string, redirect: string, expectOnConsent: string[]): Promise<string> {
    let code: string | undefined;
    const listener = await listenAt(redirect, (req: http.IncomingMessage, res) => {
      const at = new URL(req.url ?? '/', redirect);
      if (at.pathname === new URL(redirect).pathname) code = at.searchParams.get('code') ?? `no code: ${at.search}`; // not /favicon.ico
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><html lang="en"><title>Agent</title><main><h1>You can close this window</h1></main></html>');
    });
    try {
      for (const vp of VIEWPORTS) {
        const context = await browser.newContext({ viewport: { width: vp.width, height: vp.height } });
        const page = await context.newPage();
        const w = watch(page);
        await page.goto(url.href);
        await page.getByLabel('Email').fill(email);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('button', { name: 'Allow' }).waitFor();
        const text = await page.locator('main').innerText();
        for (const t of expectOnConsent) expect(text, vp.name).to.contain(t);
        await checkPage(page, vp, `consent-agent-${expectOnConsent.length > 3 ? 'cimd' : 'registered'}`);
        // The phone run answers; the desktop run only looks (a code is redeemed once).
        if (vp.name === 'phone') {
          await page.getByRole('button', { name: 'Allow' }).click();
          await page.waitForURL((u) => u.href.startsWith(redirect));
        }
        consoleErrors.push(...w.errors);
        await context.close();
      }
    } finally {
      await listener.close();
    }
    expect(code, 'authorization code at the loopback redirect').to.be.a('string');
    return code!;
  }

  /** Runs the SDK client until it is authorized, as an MCP host does: connect, 401, auth, retry. */
  async function connectAgent(auth: AgentAuth, email: string, expectOnConsent: string[]): Promise<Client> {
    // The SDK's own fetch, recorded: which documents it followed, in which order.
    const seen: string[] = [];
    const recording = async (u: string | URL, init?: RequestInit) => {
      const res = await fetch(u, init);
      seen.push(`${init?.method ?? 'GET'} ${String(u).split('?')[0]} ${res.status}`);
      return res;
    };
    const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: auth, fetch: recording });
    const client = new Client({ name: 'portcullis-test-agent', version: '1.0.0' });
    let unauthorized: unknown;
    try {
      await client.connect(first);
    } catch (err) {
      unauthorized = err;
    }
    expect(unauthorized, 'the SDK asks for authorization first').to.be.instanceOf(UnauthorizedError);
    expect(auth.authorizationUrl, 'the SDK sent the person to the authorization endpoint').to.be.instanceOf(URL);
    expect(auth.authorizationUrl!.origin).to.equal(new URL(stack.issuer).origin);
    expect(auth.authorizationUrl!.searchParams.get('resource')).to.equal(mcpUrl.href);
    expect(auth.authorizationUrl!.searchParams.get('code_challenge_method')).to.equal('S256');
    const code = await personApproves(auth.authorizationUrl!, email, auth.redirect, expectOnConsent);
    await first.finishAuth(code);
    const discovery = [`GET ${stack.apiUrl}/.well-known/oauth-protected-resource/mcp 200`, `GET ${stack.issuer}/.well-known/oauth-authorization-server 200`];
    expect(seen).to.deep.equal([
      `POST ${mcpUrl.href} 401`,
      ...discovery,
      ...(auth.clientMetadataUrl ? [] : [`POST ${stack.issuer}/reg 201`]),
      ...discovery, // finishAuth discovers again, then redeems the code
      `POST ${stack.issuer}/token 200`,
    ]);
    const agent = new Client({ name: 'portcullis-test-agent', version: '1.0.0' });
    await agent.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: auth }));
    return agent;
  }

  type ToolAnswer = { isError?: boolean; structuredContent?: Record<string, unknown>; content: { type: string; text?: string }[] };
  const call = async (agent: Client, name: string, args: Record<string, unknown>) => (await agent.callTool({ name, arguments: args })) as ToolAnswer;
  const toolError = (a: ToolAnswer) => {
    expect(a.isError, JSON.stringify(a)).to.equal(true);
    return (JSON.parse(a.content.find((c) => c.type === 'text')!.text!) as { error: { code: string } }).error.code;
  };
  const result = (a: ToolAnswer) => {
    expect(a.isError ?? false, JSON.stringify(a)).to.equal(false);
    return a.structuredContent!;
  };

  /** Every tool, with the same answers and refusals as its REST twin for the same person. */
  async function exerciseTools(agent: Client, email: string) {
    const userId = (await stack.db('user').where({ email }).first()).id as string;
    const rest = (await stack.tokens(email)).access_token; // a REST token (audience: the API)
    const listingId = await stack.listing(3);
    const otherListing = await stack.listing(3);

    const { tools } = await agent.listTools();
    expect(tools.map((t) => t.name).sort()).to.deep.equal(['get_listing', 'my_quotas', 'report_usage', 'search_listings', 'start_checkout', 'write_review']);

    // Reads: identical bodies.
    expect(result(await call(agent, 'get_listing', { idOrSlug: listingId }))).to.deep.equal((await stack.api('GET', `/v1/listings/${listingId}`, { token: rest })).body);
    expect(result(await call(agent, 'search_listings', { q: 'Research', limit: 50 }))).to.deep.equal((await stack.api('GET', '/v1/listings?q=Research&limit=50', { token: rest })).body);
    expect(toolError(await call(agent, 'get_listing', { idOrSlug: randomUUID() }))).to.equal(errorOf(await stack.api('GET', `/v1/listings/${randomUUID()}`, { token: rest }))[1]);

    // Usage before any purchase: the same refusal.
    const early = { clientReqId: randomUUID(), listingId, units: 1 };
    expect(toolError(await call(agent, 'report_usage', early))).to.equal('NOT_ENTITLED');
    expect(errorOf(await stack.api('POST', '/v1/usage', { token: rest, json: { ...early, clientReqId: randomUUID() } }))).to.deep.equal([403, 'NOT_ENTITLED']);

    // Checkout: a Stripe-hosted URL for the person to open (fake Stripe on loopback), as REST answers.
    const checkout = result(await call(agent, 'start_checkout', { listingId, returnUrl: `${FRONTEND}/done` }));
    expect(checkout.url).to.be.a('string').and.match(/^https:\/\/checkout\.stripe\.com\//);
    const restCheckout = await stack.api('POST', '/v1/checkout/sessions', { token: rest, json: { listingId, returnUrl: `${FRONTEND}/done` } });
    expect(restCheckout.status).to.equal(201);
    expect(Object.keys(checkout).sort()).to.deep.equal(Object.keys(restCheckout.body).sort());
    expect(toolError(await call(agent, 'start_checkout', { listingId, returnUrl: 'https://evil.example/x' }))).to.equal(errorOf(await stack.api('POST', '/v1/checkout/sessions', { token: rest, json: { listingId, returnUrl: 'https://evil.example/x' } }))[1]);

    // Stripe reports the purchase; quotas and usage now agree between the two doors.
    expect((await stack.deliver(stack.purchase(userId, listingId))).status).to.equal(200);
    expect(result(await call(agent, 'my_quotas', {}))).to.deep.equal((await stack.api('GET', '/v1/usage', { token: rest })).body);
    const report = { clientReqId: randomUUID(), listingId, units: 2 };
    const viaMcp = result(await call(agent, 'report_usage', report));
    expect(viaMcp).to.include({ listingId, units: 2, remaining: 1, replayed: false });
    // One idempotency store: the same clientReqId through REST replays the MCP answer.
    const replay = await stack.api('POST', '/v1/usage', { token: rest, json: report });
    expect(replay.status).to.equal(201);
    expect(replay.body).to.deep.equal({ ...viaMcp, replayed: true });
    expect(toolError(await call(agent, 'report_usage', { ...report, units: 3 }))).to.equal('IDEMPOTENCY_KEY_REUSED');
    expect(toolError(await call(agent, 'report_usage', { clientReqId: randomUUID(), listingId, units: 2 }))).to.equal('QUOTA_EXCEEDED');
    expect(errorOf(await stack.api('POST', '/v1/usage', { token: rest, json: { clientReqId: randomUUID(), listingId, units: 2 } }))).to.deep.equal([402, 'QUOTA_EXCEEDED']);
    expect(toolError(await call(agent, 'report_usage', { clientReqId: 'not-a-uuid', listingId, units: 1 }))).to.equal('VALIDATION_FAILED');

    // Reviews: written by the tool, read back by REST; the second is the same conflict both ways.
    const review = result(await call(agent, 'write_review', { listingId, rating: 5, body: 'Found what I needed.' }));
    expect(review).to.include({ rating: 5, body: 'Found what I needed.' });
    const listed = await stack.api('GET', `/v1/listings/${listingId}/reviews`, { token: rest });
    expect(listed.body.items.map((r: { id: string }) => r.id)).to.include(review.id);
    const again = toolError(await call(agent, 'write_review', { listingId, rating: 4, body: 'Again.' }));
    expect(again).to.equal(errorOf(await stack.api('POST', `/v1/listings/${listingId}/reviews`, { token: rest, json: { rating: 4, body: 'Again.' } }))[1]);
    expect(toolError(await call(agent, 'write_review', { listingId: otherListing, rating: 9, body: 'x' }))).to.equal('VALIDATION_FAILED');

    // The agent's token is bound to /mcp (RFC 8707): the REST API refuses it, and the reverse.
    expect(decodeJwt((await Promise.resolve(agentTokens(agent))).access_token).aud).to.equal(mcpUrl.href);
    expect((await stack.api('GET', '/v1/me', { token: agentTokens(agent).access_token })).status).to.equal(401);
    const wrongDoor = await fetch(mcpUrl, { method: 'POST', headers: { authorization: `Bearer ${rest}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(wrongDoor.status).to.equal(401);
    expect(wrongDoor.headers.get('www-authenticate')).to.contain(`resource_metadata="${stack.apiUrl}/.well-known/oauth-protected-resource/mcp"`);
  }

  const tokensOf = new WeakMap<Client, AgentAuth>();
  const agentTokens = (agent: Client) => tokensOf.get(agent)!.saved!;

  it('joins by a client ID metadata document (https on loopback, test CA), is approved in Chromium, and every tool answers as its REST route', async () => {
    const email = `mcp-cimd-${randomUUID()}@example.com`;
    await stack.user(email);
    const redirect = `http://127.0.0.1:${await freePort()}/callback`;
    const metadataUrl = docs.url('/agents/research/client.json');
    const auth = new AgentAuth(redirect, metadataUrl);
    docs.json('/agents/research/client.json', { client_id: metadataUrl, ...auth.clientMetadata, scope: 'listings:read reviews:write checkout:create usage:report usage:read' }, { 'cache-control': 'max-age=600' });
    const host = new URL(docs.origin).host;
    const agent = await connectAgent(auth, email, ['Research Agent (MCP)', 'name given by the app itself', `It identifies itself by a document at ${host}.`, 'an app on this device', email]);
    tokensOf.set(agent, auth);
    expect(auth.info?.client_id).to.equal(metadataUrl);
    expect(await stack.count('oauth_clients', { client_id: metadataUrl })).to.equal(0); // nothing stored for it
    await exerciseTools(agent, email);
    await agent.close();
  });

  it('joins by RFC 7591 dynamic registration, is approved in Chromium, and every tool answers as its REST route', async () => {
    const email = `mcp-dcr-${randomUUID()}@example.com`;
    await stack.user(email);
    const redirect = `http://127.0.0.1:${await freePort()}/callback`;
    const auth = new AgentAuth(redirect);
    const agent = await connectAgent(auth, email, ['Research Agent (MCP)', 'name given by the app itself', 'It registered itself with this marketplace.']);
    tokensOf.set(agent, auth);
    const registered = await stack.db('oauth_clients').where({ client_id: auth.info!.client_id }).first();
    expect(registered.source).to.equal('dynamic');
    await exerciseTools(agent, email);
    await agent.close();
  });
});
