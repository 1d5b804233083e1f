import { expect } from 'chai';
import { signedEvent } from '../helpers/fake-stripe.js';
import { FRONTEND, WEBHOOK_SECRET, describeEachBackend, errorOf, type Stack } from './stack.js';
import { eventSettled } from '../resource-api/billing/webhook-queue.helpers.js';

/**
 * Threat: cross-site request forgery with the session cookie. SameSite=Lax keeps the cookie off
 * cross-site POSTs, but a same-site sibling (another port of the host, a subdomain) still sends it,
 * and a browser that predates SameSite sends it everywhere. So every unsafe request the cookie
 * authenticates must prove its origin (resource-api/middleware/koa-auth.ts → shared/http/
 * origin-check.ts): `Origin` on the FRONTEND_URL allow-list (the CORS list), or no Origin and
 * `Sec-Fetch-Site: same-origin`. Bearer tokens are not ambient credentials and are unaffected.
 */
describeEachBackend('security: cookie-authenticated writes must prove their origin', (stack) => {
  let s: Stack;
  before(() => {
    s = stack();
  });

  const draft = { title: 'Origin probe agent', summary: 'Probes origins', price: { type: 'one_time', currency: 'EUR', amountMinor: 900 }, quota: { units: 10, period: 'once' } };

  /** A publisher's session cookie, and how many listings that publisher has. */
  async function publisher(email: string) {
    const id = await s.user(email, 'publisher');
    const cookie = await s.sessionCookie(await s.signedIn(email));
    return { id, cookie, listings: () => s.count('listings', { publisher_id: id }) };
  }
  const create = (cookie: string, headers: Record<string, string>) => s.api('POST', '/v1/listings', { cookie, json: draft, headers });

  it('refuses a write from an evil origin with 403 ORIGIN_NOT_ALLOWED and stores nothing', async function () {
    this.timeout(60_000);
    const p = await publisher('origin-evil@example.com');
    expect(errorOf(await create(p.cookie, { origin: 'http://evil.example' }))).to.deep.equal([403, 'ORIGIN_NOT_ALLOWED']);
    expect(errorOf(await s.api('POST', '/v1/listings', { cookie: p.cookie, json: draft, headers: { origin: 'null' } }))).to.deep.equal([403, 'ORIGIN_NOT_ALLOWED']);
    expect(await p.listings()).to.equal(0);
  });

  it('refuses same-site siblings (another port, a look-alike host): SameSite would let these through', async function () {
    this.timeout(60_000);
    const p = await publisher('origin-sibling@example.com');
    const siblings = [
      'http://127.0.0.1:1', 'http://localhost:4002', new URL(s.issuer).origin, // other ports of the API's host (one is the authz-server)
      'https://evil.app.example.com', 'http://app.example.com', 'https://app.example.com.evil.example', // subdomain, other scheme, look-alike
    ];
    for (const origin of siblings) {
      expect(errorOf(await create(p.cookie, { origin })), origin).to.deep.equal([403, 'ORIGIN_NOT_ALLOWED']);
    }
    expect(await p.listings()).to.equal(0);
  });

  it('refuses a write that names no origin at all (no Origin, Sec-Fetch-Site absent or not same-origin)', async function () {
    this.timeout(60_000);
    const p = await publisher('origin-none@example.com');
    expect(errorOf(await create(p.cookie, {}))).to.deep.equal([403, 'ORIGIN_NOT_ALLOWED']);
    for (const site of ['same-site', 'cross-site', 'none']) {
      expect(errorOf(await create(p.cookie, { 'sec-fetch-site': site })), site).to.deep.equal([403, 'ORIGIN_NOT_ALLOWED']);
    }
    // Every unsafe method, not only POST; the guard never runs, so nothing is even looked up.
    const target = await s.listing();
    for (const [method, path] of [['PATCH', `/v1/listings/${target}`], ['DELETE', `/v1/listings/${target}`], ['POST', `/v1/listings/${target}/publish`]] as const) {
      expect(errorOf(await s.api(method, path, { cookie: p.cookie, ...(method === 'PATCH' ? { json: { summary: 'x' } } : {}), headers: { origin: 'http://evil.example' } })), method).to.deep.equal([403, 'ORIGIN_NOT_ALLOWED']);
    }
    expect(await p.listings()).to.equal(0);
  });

  it('accepts the allowed frontend origin, and Sec-Fetch-Site: same-origin without an Origin', async function () {
    this.timeout(60_000);
    const p = await publisher('origin-ok@example.com');
    const fromFrontend = await create(p.cookie, { origin: FRONTEND });
    expect(fromFrontend.status).to.equal(201);
    expect(fromFrontend.body.publisherId).to.equal(p.id);
    expect((await create(p.cookie, { 'sec-fetch-site': 'same-origin' })).status).to.equal(201);
    expect(await p.listings()).to.equal(2);
  });

  it('leaves reads alone: a GET with the cookie from any origin is answered', async function () {
    this.timeout(60_000);
    const p = await publisher('origin-read@example.com');
    const me = await s.api('GET', '/v1/me', { cookie: p.cookie, headers: { origin: 'http://evil.example' } });
    expect([me.status, me.body.authMethod]).to.deep.equal([200, 'session']);
  });

  it('leaves bearer tokens alone: the same write with a token and an evil Origin is 201', async function () {
    this.timeout(60_000);
    const id = await s.user('origin-bearer@example.com', 'publisher');
    const { access_token: token } = await s.tokens('origin-bearer@example.com');
    const res = await s.api('POST', '/v1/listings', { token, json: draft, headers: { origin: 'http://evil.example' } });
    expect([res.status, res.body.publisherId]).to.deep.equal([201, id]);
  });

  it('leaves the Stripe webhook alone: a signed delivery carrying a cookie and an evil Origin is stored and applied', async function () {
    this.timeout(60_000);
    const buyer = await s.user('origin-webhook@example.com');
    const cookie = await s.sessionCookie(await s.signedIn('origin-webhook@example.com'));
    const listing = await s.listing();
    const event = s.purchase(buyer, listing);
    const signed = signedEvent(WEBHOOK_SECRET, event);
    const res = await s.api('POST', '/v1/webhooks/stripe', {
      cookie,
      json: signed.payload,
      headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signed.signature, origin: 'http://evil.example' },
    });
    expect([res.status, res.body?.outcome]).to.deep.equal([200, 'queued']);
    expect((await eventSettled(s.db, event.id as string)).status).to.equal('processed');
    expect(await s.count('entitlements', { user_id: buyer, listing_id: listing })).to.equal(1);
  });
});
