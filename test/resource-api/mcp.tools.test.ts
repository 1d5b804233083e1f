import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { FRONTEND, describeEachBackend, errorOf, type Stack } from '../security/stack.js';
import { auditRow } from '../helpers/audit-row.js';
import { discover } from '../authz-server/oidc.flow.js';
import { auditRows, call, connectAgent, mcpResource, refusal, restError, result, tokenFor, withoutRequestId } from './mcp.fixture.js';

/**
 * Every tool is its REST route's twin, through the same contract: for the same person, the same
 * answer, the same refusal (status aside: a tool result carries the route's error body), the same
 * idempotency store, the same audit rows. The agent is the official MCP SDK client.
 */
describeEachBackend('resource API: MCP tools answer as their REST routes', (stack: () => Stack) => {
  const email = `mcp-tools-${randomUUID()}@example.com`;
  let s: Stack;
  let userId: string;
  let rest: string;
  let agent: Client;
  let listingId: string;
  let notBought: string;

  before(async function () {
    this.timeout(60_000);
    s = stack();
    userId = await s.user(email);
    rest = await tokenFor(s, email, { resource: s.env.config.api.audience });
    agent = await connectAgent(s, await tokenFor(s, email, { resource: mcpResource(s) }));
    listingId = await s.listing(3);
    notBought = await s.listing(3);
  });
  after(() => agent?.close());

  /** Both doors' refusals, compared whole (code, message, details) but for their request ids. */
  async function sameRefusal(tool: Promise<Parameters<typeof refusal>[0]>, route: ReturnType<Stack['api']>, status: number, code: string) {
    const viaTool = refusal(await tool);
    const viaRest = await route;
    expect(errorOf(viaRest)).to.deep.equal([status, code]);
    expect(withoutRequestId(viaTool)).to.deep.equal(restError(viaRest));
    return { tool: viaTool.requestId, rest: viaRest.headers.get('x-request-id'), error: viaTool };
  }

  /**
   * The audit rows of one event for this person: the tool's and the route's, alike but for the
   * request id, which is that of the HTTP request that carried each call (the /mcp POST's for the tool).
   */
  async function sameAuditRows(event: string, requestIds?: { tool: string; rest: string | null }) {
    const rows = (await auditRows(s, { event, actor_user_id: userId }, 2)).map(auditRow);
    expect(rows, event).to.have.length(2);
    const [a, b] = rows.map(({ request_id, ...rest }) => rest);
    expect(a).to.deep.equal(b);
    expect(a).to.deep.include({ actor_user_id: userId, actor_client_id: 'agent', ip_prefix: '127.0.0.0/24' });
    const ids = rows.map((r) => r.request_id as string);
    expect(new Set(ids).size, 'one request id per call').to.equal(2);
    if (requestIds) expect([...ids].sort()).to.deep.equal([requestIds.tool, requestIds.rest].sort());
    return a!;
  }

  it('search_listings and get_listing: the bodies GET /v1/listings and GET /v1/listings/:idOrSlug answer', async () => {
    expect(result(await call(agent, 'search_listings', { q: 'Research', limit: 50 }))).to.deep.equal((await s.api('GET', '/v1/listings?q=Research&limit=50', { token: rest })).body);
    const first = result(await call(agent, 'search_listings', { limit: 1 }));
    expect(first).to.deep.equal((await s.api('GET', '/v1/listings?limit=1', { token: rest })).body);
    const cursor = first.nextCursor as string;
    expect(result(await call(agent, 'search_listings', { limit: 1, cursor }))).to.deep.equal((await s.api('GET', `/v1/listings?limit=1&cursor=${encodeURIComponent(cursor)}`, { token: rest })).body);
    for (const idOrSlug of [listingId, `agent-${listingId}`]) {
      const viaRest = await s.api('GET', `/v1/listings/${idOrSlug}`, { token: rest });
      expect(viaRest.status).to.equal(200);
      expect(result(await call(agent, 'get_listing', { idOrSlug }))).to.deep.equal(viaRest.body);
    }
  });

  it('get_listing: LISTING_NOT_FOUND as the route answers it', async () => {
    const id = randomUUID();
    await sameRefusal(call(agent, 'get_listing', { idOrSlug: id }), s.api('GET', `/v1/listings/${id}`, { token: rest }), 404, 'LISTING_NOT_FOUND');
  });

  it('VALIDATION_FAILED with the same issues, for bad values, missing and unknown fields', async () => {
    const cases: [string, Record<string, unknown>, string, string, unknown][] = [
      ['report_usage', { clientReqId: 'not-a-uuid', listingId, units: 1 }, 'POST', '/v1/usage', { clientReqId: 'not-a-uuid', listingId, units: 1 }],
      ['report_usage', { clientReqId: randomUUID(), listingId, units: 'two' }, 'POST', '/v1/usage', undefined],
      ['report_usage', { listingId, units: 1, extra: true }, 'POST', '/v1/usage', undefined],
      ['search_listings', { limit: 0 }, 'GET', '/v1/listings?limit=0', undefined],
      ['search_listings', { bogus: 'x' }, 'GET', '/v1/listings?bogus=x', undefined],
      ['write_review', { listingId, rating: 9, body: 'x' }, 'POST', `/v1/listings/${listingId}/reviews`, { rating: 9, body: 'x' }],
      ['start_checkout', { listingId: 'nope', returnUrl: `${FRONTEND}/done` }, 'POST', '/v1/checkout/sessions', undefined],
    ];
    for (const [tool, args, method, path, body] of cases) {
      const json = method === 'POST' ? (body ?? args) : undefined;
      const { error } = await sameRefusal(call(agent, tool, args), s.api(method, path, { token: rest, ...(json === undefined ? {} : { json }) }), 400, 'VALIDATION_FAILED');
      expect(error.details, `${tool} ${JSON.stringify(args)}`).to.have.property('issues').that.is.not.empty;
    }
  });

  it('report_usage before any purchase: NOT_ENTITLED as POST /v1/usage', async () => {
    await sameRefusal(call(agent, 'report_usage', { clientReqId: randomUUID(), listingId, units: 1 }), s.api('POST', '/v1/usage', { token: rest, json: { clientReqId: randomUUID(), listingId, units: 1 } }), 403, 'NOT_ENTITLED');
  });

  it('start_checkout: the very Checkout Session POST /v1/checkout/sessions answers (one Stripe idempotency key), and the same checkout.created rows', async () => {
    const before = s.stripe.calls.length;
    const viaTool = result(await call(agent, 'start_checkout', { listingId, returnUrl: `${FRONTEND}/done` }));
    const viaRest = await s.api('POST', '/v1/checkout/sessions', { token: rest, json: { listingId, returnUrl: `${FRONTEND}/done` } });
    expect(viaRest.status).to.equal(201);
    expect(viaTool).to.deep.equal(viaRest.body);
    expect(viaTool.url).to.match(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/);
    const keys = s.stripe.calls.slice(before).map((c) => c.idempotencyKey);
    expect(keys).to.have.length(2);
    expect(keys[0]).to.equal(keys[1]);
    const row = await sameAuditRows('checkout.created');
    expect(row).to.deep.include({ outcome: 'success', properties: { listingId } });
  });

  it('start_checkout with a foreign returnUrl: INVALID_RETURN_URL and the same return_url.rejected rows', async () => {
    const json = { listingId, returnUrl: 'https://evil.example/x' };
    const ids = await sameRefusal(call(agent, 'start_checkout', json), s.api('POST', '/v1/checkout/sessions', { token: rest, json }), 422, 'INVALID_RETURN_URL');
    const row = await sameAuditRows('return_url.rejected', ids);
    expect(row).to.deep.include({ outcome: 'denied', properties: { reason: 'not_allowed' } });
  });

  describe('after a purchase', () => {
    before(async () => {
      expect((await s.deliver(s.purchase(userId, listingId))).status).to.equal(200);
    });

    it('my_quotas: what GET /v1/usage answers, with and without a listing filter', async () => {
      const all = await s.api('GET', '/v1/usage', { token: rest });
      expect(all.body.items).to.have.length(1);
      expect(result(await call(agent, 'my_quotas'))).to.deep.equal(all.body);
      expect(result(await call(agent, 'my_quotas', { listingId }))).to.deep.equal((await s.api('GET', `/v1/usage?listingId=${listingId}`, { token: rest })).body);
      expect(result(await call(agent, 'my_quotas', { listingId: notBought }))).to.deep.equal({ items: [] });
    });

    it('report_usage: one idempotency store behind both doors — a clientReqId replays the first answer whichever door it used', async () => {
      const x = { clientReqId: randomUUID(), listingId, units: 1 };
      const first = result(await call(agent, 'report_usage', x));
      expect(first).to.deep.include({ ...x, remaining: 2, replayed: false });
      const replayByRest = await s.api('POST', '/v1/usage', { token: rest, json: x });
      expect([replayByRest.status, replayByRest.body]).to.deep.equal([201, { ...first, replayed: true }]);
      expect(result(await call(agent, 'report_usage', x))).to.deep.equal({ ...first, replayed: true });

      const y = { clientReqId: randomUUID(), listingId, units: 1 };
      const byRest = await s.api('POST', '/v1/usage', { token: rest, json: y });
      expect(byRest.status).to.equal(201);
      expect(byRest.body).to.deep.include({ remaining: 1, replayed: false });
      expect(result(await call(agent, 'report_usage', y))).to.deep.equal({ ...byRest.body, replayed: true });
      expect(result(await call(agent, 'my_quotas', { listingId }))).to.deep.equal((await s.api('GET', `/v1/usage?listingId=${listingId}`, { token: rest })).body);
    });

    it('report_usage with a clientReqId already used for other units: IDEMPOTENCY_KEY_REUSED and the same client_req_id.conflicted rows', async () => {
      const x = { clientReqId: randomUUID(), listingId, units: 1 };
      const viaRest = await s.api('POST', '/v1/usage', { token: rest, json: { ...x, clientReqId: randomUUID() } });
      expect(viaRest.status).to.equal(201);
      const used = viaRest.body.clientReqId as string;
      const ids = await sameRefusal(call(agent, 'report_usage', { clientReqId: used, listingId, units: 2 }), s.api('POST', '/v1/usage', { token: rest, json: { clientReqId: used, listingId, units: 2 } }), 409, 'IDEMPOTENCY_KEY_REUSED');
      const row = await sameAuditRows('client_req_id.conflicted', ids);
      expect(row).to.deep.include({ outcome: 'denied', properties: { route: '/v1/usage' } });
    });

    it('report_usage beyond the quota: QUOTA_EXCEEDED and the same quota.exceeded rows; nothing consumed', async () => {
      const left = (await s.api('GET', `/v1/usage?listingId=${listingId}`, { token: rest })).body.items[0].quota.remaining as number;
      expect(left).to.equal(0);
      const ids = await sameRefusal(call(agent, 'report_usage', { clientReqId: randomUUID(), listingId, units: 1 }), s.api('POST', '/v1/usage', { token: rest, json: { clientReqId: randomUUID(), listingId, units: 1 } }), 402, 'QUOTA_EXCEEDED');
      const row = await sameAuditRows('quota.exceeded', ids);
      expect(row).to.deep.include({ outcome: 'denied', properties: { listingId } });
      expect((await s.api('GET', `/v1/usage?listingId=${listingId}`, { token: rest })).body.items[0].quota.remaining).to.equal(0);
    });

    it('write_review: the review GET /v1/listings/:id/reviews then lists; a second one is REVIEW_EXISTS as REST; an unbought listing NOT_ENTITLED', async () => {
      const review = result(await call(agent, 'write_review', { listingId, rating: 5, body: '  Found what I needed.  ' }));
      const listed = await s.api('GET', `/v1/listings/${listingId}/reviews`, { token: rest });
      expect(listed.body.items).to.deep.equal([review]);
      expect(review).to.deep.include({ listingId, rating: 5, body: 'Found what I needed.', author: { id: userId, name: email.split('@')[0] } });
      const again = { rating: 4, body: 'Again.' };
      await sameRefusal(call(agent, 'write_review', { listingId, ...again }), s.api('POST', `/v1/listings/${listingId}/reviews`, { token: rest, json: again }), 409, 'REVIEW_EXISTS');
      await sameRefusal(call(agent, 'write_review', { listingId: notBought, ...again }), s.api('POST', `/v1/listings/${notBought}/reviews`, { token: rest, json: again }), 403, 'NOT_ENTITLED');
    });
  });

  it('a token without the scope: HTTP 403 insufficient_scope naming the scopes to step up to (MCP scope challenge), INSUFFICIENT_SCOPE as REST; the public tools still answer', async () => {
    const narrowEmail = `mcp-narrow-${randomUUID()}@example.com`;
    await s.user(narrowEmail);
    const narrowRest = await tokenFor(s, narrowEmail, { scope: 'listings:read', resource: s.env.config.api.audience });
    const narrowToken = await tokenFor(s, narrowEmail, { scope: 'listings:read', resource: mcpResource(s) });
    const narrow = await connectAgent(s, narrowToken);
    const cases: [string, string, Record<string, unknown>, string, string, unknown][] = [
      ['my_quotas', 'usage:read', {}, 'GET', '/v1/usage', undefined],
      ['report_usage', 'usage:report', { clientReqId: randomUUID(), listingId, units: 1 }, 'POST', '/v1/usage', { clientReqId: randomUUID(), listingId, units: 1 }],
      ['start_checkout', 'checkout:create', { listingId, returnUrl: `${FRONTEND}/done` }, 'POST', '/v1/checkout/sessions', { listingId, returnUrl: `${FRONTEND}/done` }],
      ['write_review', 'reviews:write', { listingId, rating: 5, body: 'x' }, 'POST', `/v1/listings/${listingId}/reviews`, { rating: 5, body: 'x' }],
    ];
    const reviewsBefore = await s.count('reviews');
    for (const [tool, scope, args, method, path, json] of cases) {
      const res = await fetch(`${s.apiUrl}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${narrowToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: tool, arguments: args } }),
      });
      expect(res.status, tool).to.equal(403);
      expect(res.headers.get('www-authenticate'), tool).to.equal(
        `Bearer error="insufficient_scope", error_description="${tool} needs ${scope}", scope="listings:read ${scope}", resource_metadata="${s.env.config.api.audience}/.well-known/oauth-protected-resource/mcp"`,
      );
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('INSUFFICIENT_SCOPE');
      expect(errorOf(await s.api(method, path, { token: narrowRest, ...(json === undefined ? {} : { json }) }))).to.deep.equal([403, 'INSUFFICIENT_SCOPE']);
      // The SDK meets the same 403 (with no authorization provider to step up with, it reports it).
      let sdkError: unknown;
      await call(narrow, tool, args).catch((err: unknown) => (sdkError = err));
      expect((sdkError as { code?: number } | undefined)?.code, tool).to.equal(403);
    }
    expect(await s.count('reviews')).to.equal(reviewsBefore);
    expect(result(await call(narrow, 'get_listing', { idOrSlug: listingId }))).to.deep.equal((await s.api('GET', `/v1/listings/${listingId}`, { token: narrowRest })).body);
    await narrow.close();
  });


  it('a client acting for itself (client_credentials for /mcp): the public tools answer, the others USER_TOKEN_REQUIRED as REST', async () => {
    const m2m = await s.env.createClient({ clientId: `mcp-batch-${randomUUID()}`, name: 'Batch', type: 'confidential', redirectUris: ['https://m2m.example/cb'], scopes: ['listings:read', 'usage:read'], clientCredentials: true });
    const cc = await discover(s.issuer, m2m.clientId, oidc.ClientSecretBasic(m2m.clientSecret!), m2m.clientSecret);
    const forMcp = await oidc.clientCredentialsGrant(cc, { scope: 'listings:read usage:read', resource: mcpResource(s) });
    const forRest = await oidc.clientCredentialsGrant(cc, { scope: 'listings:read usage:read', resource: s.env.config.api.audience });
    const robot = await connectAgent(s, forMcp.access_token);
    expect(result(await call(robot, 'search_listings', { limit: 5 }))).to.deep.equal((await s.api('GET', '/v1/listings?limit=5', { token: forRest.access_token })).body);
    await sameRefusal(call(robot, 'my_quotas'), s.api('GET', '/v1/usage', { token: forRest.access_token }), 403, 'USER_TOKEN_REQUIRED');
    await robot.close();
  });
});
