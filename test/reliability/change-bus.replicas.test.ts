import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { startSystem, type System } from '../helpers/system.js';
import { HttpBrowser } from '../helpers/http-browser.js';
import { mailLink } from '../helpers/outbox.js';
import { signedEvent, stripeEvent } from '../helpers/fake-stripe.js';
import { PG_URL, REDIS_SKIP_REASON, REDIS_URL, describeWithService } from '../helpers/services.js';
import { discover, signedInTokens } from '../authz-server/oidc.flow.js';
import { objects } from '../resource-api/billing/billing.fixture.js';
import { bearer, dropKeys, longRunningBus, meAt } from './change-bus.helpers.js';
import { eventSettled } from '../resource-api/billing/webhook-queue.helpers.js';

const SCOPE = 'openid offline_access listings:read';
const WEBHOOK_SECRET = 'whsec_change_bus_test_secret';

/**
 * The change bus across processes (docs/operations.md): one authz-server and two resource-api
 * replicas sharing the database and Redis. Each replica caches roles, ban states and entitlement
 * lists, and refuses revoked tokens from memory. After each kind of change, the very next
 * request on each replica must see it: no waiting, no polling — the request checks the stream's
 * head before it answers. Each case first primes both replicas (a cache entry to go stale).
 *
 * Redis here has "held the deny state for an hour" (`{bus}:since` in the past): tokens minted now
 * are judged from memory alone, so these cases fail if the bus path is wrong, although the
 * database would have refused the token.
 */
describeWithService(`change bus: every change reaches the next request on both API replicas (${PG_URL ? 'pg' : 'sqlite'})`, REDIS_URL, REDIS_SKIP_REASON, (redisUrl) => {
  let r: System;
  let config: oidc.Configuration;
  const prefix = `portcullis:test-bus-replicas:${randomBytes(6).toString('hex')}:`;

  before(async function () {
    this.timeout(120_000);
    await longRunningBus(redisUrl, prefix);
    r = await startSystem({
      hosting: 'process',
      logLevel: 'warn',
      backend: PG_URL ? 'pg' : 'sqlite', ...(PG_URL ? { pgUrl: PG_URL } : {}), redis: redisUrl, authz: 1, api: 2,
      env: { REDIS_KEY_PREFIX: prefix, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET },
    });
    await r.seedClient();
    config = await discover(r.issuer, 'agent');
  });
  after(async () => {
    await r?.close();
    await dropKeys(redisUrl, prefix);
  });

  const both = (token: string) => meAt(r.api, bearer(token));
  const signedIn = async (role = 'user', browser = new HttpBrowser()) => {
    const user = await r.seedUser(`bus-${randomUUID()}@example.com`, role);
    const tokens = await signedInTokens(config, browser, { email: user.email, scope: SCOPE });
    expect(await both(tokens.access_token), 'primed').to.deep.equal([`200 ${role}`, `200 ${role}`]);
    return { ...user, tokens, browser };
  };
  const admin = async (...args: string[]) => {
    const run = await r.admin(args);
    expect(run.code, run.output).to.equal(0);
  };

  it('a role change (admin CLI): the new role on both replicas at once', async () => {
    const u = await signedIn('publisher');
    await admin('users:set-role', u.email, 'user');
    expect(await both(u.tokens.access_token)).to.deep.equal(['200 user', '200 user']);
  });

  it('a ban: 403 on both replicas; after the unban its old tokens stay revoked, new ones work', async () => {
    const u = await signedIn();
    await admin('users:ban', u.email);
    expect(await both(u.tokens.access_token)).to.deep.equal(['403 ACCOUNT_DISABLED', '403 ACCOUNT_DISABLED']);
    await admin('users:unban', u.email);
    expect(await both(u.tokens.access_token)).to.deep.equal(['401 INVALID_TOKEN', '401 INVALID_TOKEN']);
    const fresh = await signedInTokens(config, new HttpBrowser(), { email: u.email, scope: SCOPE });
    expect(await both(fresh.access_token)).to.deep.equal(['200 user', '200 user']);
  });

  it('RFC 7009: the refresh token revoked, its grant\'s access token is refused on both replicas', async () => {
    const u = await signedIn();
    await oidc.tokenRevocation(config, u.tokens.refresh_token!);
    expect(await both(u.tokens.access_token)).to.deep.equal(['401 INVALID_TOKEN', '401 INVALID_TOKEN']);
    const res = await fetch(`${r.api[1]!.url}/v1/me`, { headers: { authorization: `Bearer ${u.tokens.access_token}` } });
    expect(res.headers.get('www-authenticate')).to.contain('error="invalid_token", error_description="the token was revoked"');
  });

  it('refresh token reuse: the grant is revoked, the latest access token is refused on both replicas', async () => {
    const u = await signedIn();
    const rotated = await oidc.refreshTokenGrant(config, u.tokens.refresh_token!);
    expect(await both(rotated.access_token)).to.deep.equal(['200 user', '200 user']);
    // Past REFRESH_RETRY_WINDOW_S's "lost answer" case: the successor was used, so this is reuse.
    await oidc.refreshTokenGrant(config, rotated.refresh_token!);
    const reuse = await oidc.refreshTokenGrant(config, u.tokens.refresh_token!).then(() => 'worked', (e: oidc.ResponseBodyError) => e.error);
    expect(reuse).to.equal('invalid_grant');
    expect(await both(rotated.access_token)).to.deep.equal(['401 INVALID_TOKEN', '401 INVALID_TOKEN']);
  });

  it('RP-initiated logout: the access token of the grant it revoked is refused on both replicas', async () => {
    const user = await r.seedUser(`bus-${randomUUID()}@example.com`);
    const browser = new HttpBrowser();
    // Without offline_access: the grant ends with the session (oidc-provider's logout revokes it).
    const tokens = await signedInTokens(config, browser, { email: user.email, scope: 'openid listings:read' });
    expect(await both(tokens.access_token)).to.deep.equal(['200 user', '200 user']);
    const endUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token! });
    const confirm = await browser.get(endUrl.href, new URL(r.issuer).origin);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.text)?.[1];
    expect(xsrf, confirm.text.slice(0, 300)).to.be.a('string');
    await browser.request(`${r.issuer}/session/end/confirm`, { form: { xsrf: xsrf!, logout: 'yes' } });
    expect(await both(tokens.access_token)).to.deep.equal(['401 INVALID_TOKEN', '401 INVALID_TOKEN']);
  });

  it('sign-out everywhere (account page): the account\'s access tokens are refused on both replicas', async () => {
    const u = await signedIn();
    await u.browser.request(`${r.issuer}/account`);
    const out = await u.browser.request(`${r.issuer}/account/sign-out-everywhere`, { form: {} });
    expect(out.status, out.text.slice(0, 300)).to.equal(200);
    expect(await both(u.tokens.access_token)).to.deep.equal(['401 INVALID_TOKEN', '401 INVALID_TOKEN']);
  });

  it('a password reset: the account\'s access tokens are refused on both replicas', async () => {
    const u = await signedIn();
    const asked = await fetch(`${r.issuer}/account/forgot-password`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ email: u.email }) });
    expect(asked.status).to.equal(202);
    const form = await new HttpBrowser().get(await mailLink(r.env.DATA_DIR!, u.email, 'reset-password'), new URL(r.issuer).origin);
    const token = /name="token" value="([^"]+)"/.exec(form.text)![1]!;
    const done = await fetch(`${r.issuer}/account/reset-password`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, password: 'a brand new passphrase' }) });
    expect(done.status).to.equal(200);
    expect(await both(u.tokens.access_token)).to.deep.equal(['401 INVALID_TOKEN', '401 INVALID_TOKEN']);
  });

  it('a client deleted (admin CLI): its grants\' access tokens and its own are refused on both replicas', async () => {
    const clientId = `doomed-${randomBytes(4).toString('hex')}`;
    await r.seedClient(clientId, ['openid', 'offline_access', 'listings:read']);
    const user = await r.seedUser(`bus-${randomUUID()}@example.com`);
    const tokens = await r.tokens(user.email, SCOPE, clientId);
    const service = await r.createClient({ clientId: `${clientId}-service`, name: 'Service', type: 'confidential', redirectUris: ['https://service.example.com/cb'], scopes: ['openid', 'listings:read'], clientCredentials: true });
    const own = await oidc.clientCredentialsGrant(await discover(r.issuer, service.clientId, oidc.ClientSecretBasic(service.clientSecret!), service.clientSecret!), { scope: 'listings:read' });
    const listings = (token: string) => Promise.all(r.api.map(async (api) => (await fetch(`${api.url}/v1/listings`, { headers: { authorization: `Bearer ${token}` } })).status));
    expect(await both(tokens.access_token)).to.deep.equal(['200 user', '200 user']);
    expect(await listings(own.access_token)).to.deep.equal([200, 200]);
    await admin('clients:delete', clientId);
    await admin('clients:delete', service.clientId);
    expect(await both(tokens.access_token)).to.deep.equal(['401 INVALID_TOKEN', '401 INVALID_TOKEN']);
    expect(await listings(own.access_token)).to.deep.equal([401, 401]);
  });

  it('an entitlement granted, then revoked by a refund (Stripe webhook): /v1/me lists it on both replicas, then not', async () => {
    const u = await signedIn();
    const { listingId } = await r.seedEntitlement((await r.seedUser()).id, 1);
    const entitlements = () =>
      Promise.all(r.api.map(async (api) => ((await (await fetch(`${api.url}/v1/me`, { headers: { authorization: `Bearer ${u.tokens.access_token}` } })).json()) as { entitlements: { listingId: string }[] }).entitlements.map((e) => e.listingId)));
    expect(await entitlements()).to.deep.equal([[], []]);
    // Stored by the route, applied by a worker, which announces the change once it is committed.
    const deliver = async (event: Record<string, unknown>) => {
      const { payload, signature } = signedEvent(WEBHOOK_SECRET, event);
      const res = await fetch(`${r.api[0]!.url}/v1/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: payload });
      expect(res.status, await res.text()).to.equal(200);
      expect((await eventSettled(r.db, event.id as string)).status).to.equal('processed');
    };
    const paymentIntent = `pi_bus_${randomBytes(4).toString('hex')}`;
    // The worker announces after its commit, a moment after the row says processed: bounded.
    const seen = async (expected: string[][]) => {
      for (const deadline = Date.now() + 5000; JSON.stringify(await entitlements()) !== JSON.stringify(expected) && Date.now() < deadline; ) await new Promise((res) => setTimeout(res, 50));
      expect(await entitlements()).to.deep.equal(expected);
    };
    await deliver(stripeEvent('checkout.session.completed', objects.checkoutSession({ userId: u.id, listingId, paymentIntent })));
    await seen([[listingId], [listingId]]);
    await deliver(stripeEvent('charge.refunded', objects.charge({ paymentIntent })));
    await seen([[], []]);
  });
});
