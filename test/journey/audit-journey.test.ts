import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { startSystem, type System, type Backend } from '../helpers/system.js';
import { HttpBrowser, LOGIN_FORM, CONSENT_FORM } from '../helpers/http-browser.js';
import type { Proc } from '../helpers/process.js';
import { signedEvent, stripeEvent } from '../helpers/fake-stripe.js';
import { PG_SKIP_REASON, PG_URL, describeWithService } from '../helpers/services.js';
import { PASSWORD, REDIRECT, discover, signedInTokens } from '../authz-server/oidc.flow.js';
import { emailHash } from '#shared/audit/index.js';
import type { PostHogRecorder } from '../helpers/posthog-recorder.js';
import { mailLink } from '../helpers/outbox.js';
import { insertListing } from '../helpers/listings.js';
import { auditRow } from '../helpers/audit-row.js';
import { eventSettled } from '../resource-api/billing/webhook-queue.helpers.js';

const WEBHOOK_SECRET = `whsec_journey_${randomBytes(12).toString('hex')}`;
const FRONTEND = 'https://app.example.com';
const CLIENT_ID = 'journey-agent';
const SCOPE = 'openid offline_access listings:read checkout:create';

/**
 * The whole journey against real processes — authz-server and resource-api, each with real
 * posthog-node pointed at a loopback recorder — then a hunt for every planted secret in the
 * three places the audit trail and logs could leak it: PostHog batches, audit_log rows, and
 * the processes' own stdout/stderr at LOG_LEVEL=debug.
 */
type Row = Record<string, unknown>;

/** The audit rows of one event once the authz-server process has written them (it queues first). */
async function rowsOf(env: System, event: string, count: number): Promise<Row[]> {
  for (let i = 0; i < 100; i++) {
    const rows: Row[] = await env.db('audit_log').where({ event }).orderBy('created_at');
    if (rows.length >= count) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`fewer than ${count} ${event} rows`);
}

function journey(backend: Backend, pgUrl?: string) {
  let posthog: PostHogRecorder;
  let env: System;
  let authz: Proc;
  let api: Proc;
  let apiUrl: string;
  let listingId: string;

  before(async function () {
    this.timeout(120_000);
    env = await startSystem({
      backend, pgUrl, hosting: 'process', authz: 1, api: 1, stripe: true, posthog: true, logLevel: 'debug',
      env: { FRONTEND_URL: FRONTEND, STRIPE_SECRET_KEY: 'sk_test_journey', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, POSTHOG_API_KEY: 'phc_journey_project_key' },
    });
    [authz, api, apiUrl, posthog] = [env.authz[0]!.proc, env.api[0]!.proc, env.apiUrl, env.posthog!];
    await env.createClient({ clientId: CLIENT_ID, name: 'Journey agent', type: 'public', redirectUris: [REDIRECT], scopes: SCOPE.split(' ') });
    const publisherId = await env.createUser({ email: `pub-${randomUUID()}@example.com`, password: 'publisher passphrase long', role: 'publisher' });
    listingId = await insertListing(env.db, { publisherId, title: 'Journey agent', summary: 'Walks', description: 'Walks the journey.', quotaUnits: 10 });
  });

  after(async function () {
    this.timeout(30_000);
    await env?.close();
  });

  it('user.email_verified: one row when the link is followed, with the user as actor and only an email hash', async function () {
    this.timeout(30_000);
    const email = 'verify-me@example.com';
    const res = await fetch(`${env.env.ISSUER_URL!}/account/sign-up`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'JourneyUA/1' }, body: JSON.stringify({ name: 'V', email, password: PASSWORD }) });
    expect(res.status).to.equal(202);
    expect(await env.db('audit_log').where({ event: 'user.email_verified' })).to.deep.equal([]);
    const link = await mailLink(env.env.DATA_DIR!, email, 'verify-email');
    const landed = await new HttpBrowser().request(link, { headers: { 'user-agent': 'JourneyUA/1' } });
    expect(landed.status).to.equal(302);
    const userId = (await env.db('user').where({ email }).first()).id;
    const [row, ...more] = await rowsOf(env, 'user.email_verified', 1);
    expect(more).to.deep.equal([]);
    expect(auditRow(row)).to.deep.equal({
      event: 'user.email_verified', outcome: 'success', actor_user_id: userId, actor_client_id: null, subject_type: null, subject_id: null,
      request_id: null, ip_prefix: null, user_agent: 'JourneyUA/1', properties: { emailHash: `emailhash:${emailHash(email, env.config.secrets.authSecret)}` },
    });
    // The link is single use: following it again verifies nothing and records nothing.
    await new HttpBrowser().request(link);
    await new Promise((r) => setTimeout(r, 300));
    expect(await env.db('audit_log').where({ event: 'user.email_verified' })).to.have.length(1);
  });

  it('token.revoked: a refresh token revoked at the revocation endpoint, not rotation or an unknown token', async function () {
    this.timeout(60_000);
    const userId = await env.createUser({ email: 'revoke-me@example.com', password: PASSWORD });
    const config = await discover(env.env.ISSUER_URL!, CLIENT_ID);
    const tokens = await signedInTokens(config, new HttpBrowser(), { email: 'revoke-me@example.com' });
    const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    await oidc.tokenRevocation(config, 'not-a-token-we-issued');
    await oidc.tokenRevocation(config, rotated.refresh_token!);
    const [row, ...more] = await rowsOf(env, 'token.revoked', 1);
    expect(more).to.deep.equal([]);
    const grantId = (auditRow(row).properties as { grantId: unknown }).grantId;
    expect(grantId).to.be.a('string').with.length.above(10);
    expect(auditRow(row)).to.deep.include({ event: 'token.revoked', outcome: 'success', actor_user_id: userId, actor_client_id: CLIENT_ID, subject_type: null, subject_id: null, ip_prefix: '127.0.0.0/24' });
    expect(auditRow(row).properties).to.deep.equal({ tokenType: 'refresh_token', grantId, reason: 'client_request' });
    expect(String(row!.request_id)).to.match(/^[0-9a-f-]{36}$|^\S{8,}$/);
    expect(JSON.stringify(row)).to.not.include(rotated.refresh_token!);
    const refused = await oidc.refreshTokenGrant(config, rotated.refresh_token!).then(() => 'worked', (e: oidc.ResponseBodyError) => e.error);
    expect(refused).to.equal('invalid_grant');
  });

  it('sign-up → verify → sign-in → code+PKCE → API → checkout → webhook → revoke: events arrive, nothing planted leaks', async function () {
    this.timeout(120_000);
    const tag = randomBytes(6).toString('hex');
    const email = `journey.${tag}@example.com`;
    const password = `planted ${tag} long passphrase`;
    const wrongPassword = `wrong ${tag} other passphrase`;
    const cardEmail = `cardholder.${tag}@example.com`;
    const issuer = env.env.ISSUER_URL!;
    const origin = new URL(issuer).origin;
    const planted: Record<string, string> = { password, wrongPassword, email, cardEmail, webhookSecret: WEBHOOK_SECRET };

    // Sign-up and the verification link from the development outbox.
    const signUp = await fetch(`${issuer}/account/sign-up`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Journey', email, password }) });
    expect(signUp.status).to.equal(202);
    const link = await mailLink(env.env.DATA_DIR!, email, 'verify-email');
    planted.verificationToken = new URL(link).searchParams.get('token')!;
    const landed = await new HttpBrowser().get(link, origin);
    expect(landed.status).to.equal(200);
    expect(landed.text).to.contain('Email confirmed');
    const userId = String((await env.db('user').where({ email }).first()).id);

    // Authorization code + PKCE, one wrong password first.
    const config = await discover(issuer, CLIENT_ID);
    const browser = new HttpBrowser();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    planted.verifier = verifier;
    const authUrl = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: SCOPE, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, prompt: 'consent' });
    let page = await browser.get(authUrl.href, origin);
    page = await browser.submit(page, LOGIN_FORM, { email, password: wrongPassword }, origin);
    expect(page.status).to.equal(401);
    page = await browser.submit(page, LOGIN_FORM, { email, password }, origin);
    page = await browser.submit(page, CONSENT_FORM, { decision: 'allow' }, origin);
    const callback = new URL(page.location!);
    planted.code = callback.searchParams.get('code')!;
    expect(planted.code).to.be.a('string').with.length.above(10);
    for (const c of await browser.jar.getCookies(issuer)) planted[`cookie ${c.key}`] = c.value;
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    Object.assign(planted, { accessToken: tokens.access_token, refreshToken: tokens.refresh_token!, idToken: tokens.id_token! });

    // The API with the bearer token: reads, a refused returnUrl, a checkout.
    const call = (method: string, p: string, json?: unknown) =>
      fetch(`${apiUrl}${p}`, { method, headers: { authorization: `Bearer ${tokens.access_token}`, ...(json ? { 'content-type': 'application/json' } : {}) }, body: json ? JSON.stringify(json) : undefined });
    expect((await call('GET', '/v1/me')).status).to.equal(200);
    expect((await call('GET', '/v1/listings')).status).to.equal(200);
    const refused = await call('POST', '/v1/checkout/sessions', { listingId, returnUrl: `https://evil.example/${tag}` });
    expect(refused.status).to.equal(422);
    const checkout = await call('POST', '/v1/checkout/sessions', { listingId, returnUrl: `${FRONTEND}/done` });
    expect(checkout.status, await checkout.clone().text()).to.equal(201);

    // Stripe's signed webhook grants the entitlement.
    const sessionId = `cs_test_${tag}`;
    const event = stripeEvent('checkout.session.completed', {
      id: sessionId, object: 'checkout.session', mode: 'payment', status: 'complete', payment_status: 'paid', client_reference_id: userId,
      metadata: { user_id: userId, listing_id: listingId }, customer: `cus_${tag}`, payment_intent: `pi_${tag}`, customer_details: { email: cardEmail, name: `Card Holder ${tag}` },
    });
    const signed = signedEvent(WEBHOOK_SECRET, event);
    Object.assign(planted, { webhookBody: signed.payload, webhookSignature: signed.signature });
    const delivered = await fetch(`${apiUrl}/v1/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signed.signature }, body: signed.payload });
    expect(delivered.status).to.equal(200);
    // Stored, then applied by the API's worker (and audited by it: webhook.processed).
    expect((await eventSettled(env.db, event.id as string)).status).to.equal('processed');
    expect(await env.db('entitlements').where({ user_id: userId, listing_id: listingId, status: 'active' })).to.have.length(1);

    // Refresh (rotation), then revoke the new refresh token at the revocation endpoint.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    Object.assign(planted, { refreshedAccess: refreshed.access_token, refreshedRefresh: refreshed.refresh_token!, refreshedId: refreshed.id_token ?? '' });
    await oidc.tokenRevocation(config, refreshed.refresh_token!);
    await expectInvalidGrant(oidc.refreshTokenGrant(config, refreshed.refresh_token!));

    // SIGTERM: graceful shutdown flushes what posthog-node still holds (flushAt 20, 10 s timer).
    expect(await api.stop(10_000)).to.equal(0);
    expect(await authz.stop(10_000)).to.equal(0);

    const events = posthog.events();
    // Earlier tests of this suite sent events too: each expected (event, distinctId) pair must be there.
    const distinct = (name: string) => [...new Set(events.filter((e) => e.event === name).map((e) => e.distinct_id))];
    const expected: Record<string, string[]> = {
      'user.signed_up': ['portcullis'],
      'user.email_verified': [userId],
      'sign_in.failed': [CLIENT_ID],
      'sign_in.succeeded': [userId],
      'authorization.granted': [userId],
      'return_url.rejected': [userId],
      'checkout.created': [userId],
      'webhook.processed': ['portcullis'],
      'entitlement.granted': [userId],
      'token.revoked': [userId],
    };
    for (const [name, ids] of Object.entries(expected)) expect(distinct(name), name).to.include.members(ids);
    // Nothing of the journey user's is sent under another id.
    for (const e of events.filter((x) => x.properties.subjectId === userId)) expect(e.distinct_id).to.equal(userId);
    const rows: Record<string, unknown>[] = await env.db('audit_log').select('*');
    const rowEvents = new Set(rows.map((r) => r.event));
    for (const name of Object.keys(expected)) expect(rowEvents.has(name), `audit_log has ${name}`).to.equal(true);
    const mine = (event: string) => rows.filter((r) => r.event === event && r.actor_user_id === userId);
    expect(mine('entitlement.granted')).to.have.length(1);
    expect(mine('entitlement.granted')[0]).to.deep.include({ subject_type: 'entitlement', outcome: 'success' });
    expect(mine('token.revoked')).to.have.length(1);
    expect(mine('token.revoked')[0]).to.deep.include({ actor_client_id: CLIENT_ID, outcome: 'success' });

    const logs = authz.output() + api.output();
    // The logs really were captured (JSON lines, request lines of both services).
    expect(logs).to.match(/"level":"info"/);
    expect(logs).to.include('/v1/checkout/sessions');
    expect(logs).to.include('/token');
    const places = { 'PostHog batches': posthog.bodies.join('\n'), 'audit_log rows': JSON.stringify(rows), 'process logs': logs };
    for (const [what, value] of Object.entries(planted)) {
      expect(value, `${what} was planted`).to.be.a('string').with.length.above(7);
      for (const [where, text] of Object.entries(places)) expect(text.includes(value), `${what} found in ${where}`).to.equal(false);
    }
    // The raw email never appears, in any case; only its keyed hash.
    for (const text of Object.values(places)) expect(text.toLowerCase()).to.not.include(email);
  });
}

async function expectInvalidGrant(p: Promise<unknown>): Promise<void> {
  const error = await p.then(() => 'worked', (e: oidc.ResponseBodyError) => e.error);
  expect(error).to.equal('invalid_grant');
}

describe('audit journey (SQLite): real processes, PostHog on loopback', () => journey('sqlite'));
describeWithService('audit journey (PostgreSQL): real processes, PostHog on loopback', PG_URL, PG_SKIP_REASON, (url) => journey('pg', url));
