import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import type { Knex } from 'knex';
import { CONSENT_FORM, HttpBrowser, LOGIN_FORM } from '../helpers/http-browser.js';
import { startSystem, type System, type Backend } from '../helpers/system.js';
import { PG_SKIP_REASON, PG_URL, describeWithService } from '../helpers/services.js';
import { auditRow, type AuditRow } from '../helpers/audit-row.js';
import { describeEachBackend, type Stack } from '../security/stack.js';
import { PASSWORD, REDIRECT } from './oidc.flow.js';
import { CONFIRM_FORM, DEVICE_GRANT, INPUT_FORM, USER_CODE, deviceConfig, enterCode, hidden, personAnswers, pollOnce } from './device-flow.flow.js';

const SCOPE = 'openid offline_access email listings:read usage:read';
const WARNING = 'If someone sent you this code, called or messaged you about it, or a page asked you to enter it: stop. Approving gives them access to your account.';
const PENDING = { error: 'authorization_pending', error_description: "authorization request is still pending as the end-user hasn't yet completed the user interaction steps" };

/** audit_log rows of one event for one client, oldest first (written off the request path). */
async function audited(db: Knex, event: string, clientId: string, n = 1): Promise<AuditRow[]> {
  for (let i = 0; ; i++) {
    const rows = await db('audit_log').where({ event, actor_client_id: clientId }).orderBy([{ column: 'created_at', order: 'asc' }, { column: 'id', order: 'asc' }]);
    if (rows.length >= n || i >= 40) return rows.map((r: Record<string, unknown>) => auditRow(r));
    await sleep(50);
  }
}

const oauthError = (err: unknown) => {
  expect(err, 'an OAuth error response').to.be.instanceOf(oidc.ResponseBodyError);
  const e = err as oidc.ResponseBodyError;
  return { status: e.status, error: e.error, error_description: e.error_description };
};

describeEachBackend('device authorization grant (RFC 8628)', (stack: () => Stack, backend: Backend) => {
  let s: Stack;
  let api: string;
  let publicAgent: oidc.Configuration;
  let userId: string;
  const email = `device-flow-${backend}@example.com`;

  before(async function () {
    this.timeout(30_000);
    s = stack();
    api = s.env.config.api.audience;
    await s.env.createClient({ clientId: 'device-flow-public', name: 'Build agent', type: 'public', redirectUris: [REDIRECT], scopes: SCOPE.split(' '), deviceCode: true });
    publicAgent = await deviceConfig(s.issuer, 'device-flow-public');
    userId = await s.user(email);
  });

  it('advertises the device authorization endpoint and grant in discovery', async () => {
    const meta = publicAgent.serverMetadata();
    expect(meta.device_authorization_endpoint).to.equal(`${s.issuer}/device/auth`);
    expect(meta.grant_types_supported).to.include(DEVICE_GRANT);
  });

  it('approve: the device gets tokens for the API (resource), after the person compared the code on the confirmation and consent pages; audited without any code', async function () {
    this.timeout(40_000);
    const r = await oidc.initiateDeviceAuthorization(publicAgent, { scope: SCOPE, resource: api });
    expect(r.user_code).to.match(USER_CODE);
    expect(r).to.deep.include({ verification_uri: `${s.issuer}/device`, verification_uri_complete: `${s.issuer}/device?user_code=${r.user_code}`, interval: 5, expires_in: 600 });
    expect(r.device_code).to.be.a('string').with.length.at.least(40);
    const polling = oidc.pollDeviceAuthorizationGrant(publicAgent, r);

    const pages = await personAnswers(new HttpBrowser(), s.issuer, r.user_code, { email });
    // The confirmation, before anything else: the code, who asks for what, the warning.
    expect(pages.confirm.text).to.include(`<p class="key" id="user-code"><strong>${r.user_code}</strong></p>`);
    expect(pages.confirm.text).to.include('<p><strong>Build agent</strong> is asking to:</p>');
    for (const scope of SCOPE.split(' ')) expect(pages.confirm.text).to.include(`<small>(${scope})</small>`);
    expect(pages.confirm.text).to.include(WARNING);
    expect(pages.login?.status, 'sign-in').to.equal(200);
    // The consent page of a device interaction shows the code and the warning again.
    expect(pages.consent?.status, 'consent').to.equal(200);
    expect(pages.consent!.text).to.include(`<p class="key" id="user-code"><strong>${r.user_code}</strong></p>`);
    expect(pages.consent!.text).to.include(WARNING);
    expect(pages.consent!.text).to.include('After you answer, the device that shows this code gets the answer.');
    expect(pages.consent!.text, 'no switch that would restart an authorization URL').not.to.include('/switch-account');
    expect(pages.final.status).to.equal(200);
    expect(pages.final.text).to.include('<h1>Device connected</h1>');

    const tokens = await polling;
    expect(tokens.token_type).to.equal('bearer');
    expect(tokens.refresh_token).to.be.a('string');
    expect(tokens.claims()?.sub).to.equal(userId);
    expect(decodeJwt(tokens.access_token)).to.deep.include({ aud: api, client_id: 'device-flow-public', sub: userId, scope: 'listings:read usage:read' });

    const [approved] = await audited(s.db, 'device.approved', 'device-flow-public');
    expect(approved).to.deep.include({ event: 'device.approved', outcome: 'success', actor_user_id: userId, actor_client_id: 'device-flow-public' });
    expect(approved!.properties).to.have.keys('scope', 'grantId');
    expect(approved!.properties.scope).to.equal('openid offline_access email listings:read usage:read');
    const everything = JSON.stringify(await s.db('audit_log').where({ actor_client_id: 'device-flow-public' }));
    for (const secret of [r.user_code, r.user_code.replace('-', ''), r.device_code]) expect(everything, 'no code in the audit log').not.to.include(secret);

    // RFC 8628 §3.5 / RFC 6749 §10.5: the device code is redeemed once; reuse also ends the grant.
    expect(await pollOnce(s.issuer, { device_code: r.device_code, client_id: 'device-flow-public' })).to.deep.equal({ status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } });
    const refresh = await oidc.refreshTokenGrant(publicAgent, tokens.refresh_token!).then(() => undefined, oauthError);
    expect(refresh).to.deep.equal({ status: 400, error: 'invalid_grant', error_description: 'grant request is invalid' });
    const [reused] = await audited(s.db, 'device_code.reuse_detected', 'device-flow-public');
    expect(reused).to.deep.include({ outcome: 'denied', properties: { grantId: approved!.properties.grantId, grantRevoked: true } });
  });

  it('deny on the consent page: the page says so, the device gets access_denied; audited', async function () {
    this.timeout(40_000);
    const r = await oidc.initiateDeviceAuthorization(publicAgent, { scope: 'openid listings:read', resource: api });
    const polling = oidc.pollDeviceAuthorizationGrant(publicAgent, r).then(() => undefined, oauthError);
    const pages = await personAnswers(new HttpBrowser(), s.issuer, r.user_code, { email, decision: 'deny' });
    expect(pages.consent?.status).to.equal(200);
    expect([pages.final.status, /<h1>Request denied<\/h1>/.test(pages.final.text)]).to.deep.equal([200, true]);
    expect(await polling).to.deep.equal({ status: 400, error: 'access_denied', error_description: 'The user denied the request.' });
    const denied = await audited(s.db, 'device.denied', 'device-flow-public');
    expect(denied.at(-1)).to.deep.include({ outcome: 'denied', actor_user_id: userId, properties: { scope: 'openid listings:read', reason: 'access_denied' } });
  });

  it('cancel on the confirmation page: no sign-in, the device gets access_denied; audited as user_aborted', async () => {
    const r = await oidc.initiateDeviceAuthorization(publicAgent, { scope: 'openid' });
    const pages = await personAnswers(new HttpBrowser(), s.issuer, r.user_code, { email, decision: 'cancel' });
    expect([pages.login, pages.consent]).to.deep.equal([undefined, undefined]);
    expect([pages.final.status, /<h1>Request denied<\/h1>/.test(pages.final.text)]).to.deep.equal([200, true]);
    expect(await pollOnce(s.issuer, { device_code: r.device_code, client_id: 'device-flow-public' })).to.deep.equal({
      status: 400, body: { error: 'access_denied', error_description: 'End-User aborted interaction' },
    });
    const denied = await audited(s.db, 'device.denied', 'device-flow-public', 2);
    expect(denied.at(-1)).to.deep.include({ outcome: 'denied', actor_user_id: null, properties: { scope: 'openid', reason: 'user_aborted' } });
  });

  it('"Not you?" on a device consent page: no restart through an authorization URL; the consent still answers', async () => {
    const r = await oidc.initiateDeviceAuthorization(publicAgent, { scope: 'openid' });
    const browser = new HttpBrowser();
    const { confirm } = await enterCode(browser, s.issuer, r.user_code);
    let page = await browser.submit(confirm, CONFIRM_FORM, { xsrf: hidden(confirm, 'xsrf'), user_code: hidden(confirm, 'user_code'), confirm: 'yes' }, s.issuer);
    page = await browser.submit(page, LOGIN_FORM, { email, password: PASSWORD }, s.issuer);
    const consent = /<form method="post" action="([^"]*)\/consent"/.exec(page.text)![1]!;
    expect(page.text).to.include('Not you? Choose Deny, <a href="/account">sign out</a>, and start again on the device.');
    const refused = await browser.request(new URL(`${consent}/switch-account`, s.issuer).href, { form: {} });
    expect(refused.status).to.equal(400);
    expect(refused.text).to.include('To use another account for a device, choose Deny, sign out, and start again on the device.');
    const done = await browser.submit(page, CONSENT_FORM, { decision: 'allow' }, s.issuer);
    expect(done.text).to.include('<h1>Device connected</h1>');
  });

  it('an account with two-factor authentication: the password alone leaves the device pending; the code is asked before consent', async function () {
    this.timeout(60_000);
    const twoFactor = `device-2fa-${backend}@example.com`;
    const { userId: id, totp } = await s.twoFactorUser(twoFactor);

    const r = await oidc.initiateDeviceAuthorization(publicAgent, { scope: SCOPE, resource: api });
    const phone = new HttpBrowser();
    const { confirm } = await enterCode(phone, s.issuer, r.user_code);
    const signIn = await phone.submit(confirm, CONFIRM_FORM, { xsrf: hidden(confirm, 'xsrf'), user_code: hidden(confirm, 'user_code'), confirm: 'yes' }, s.issuer);
    const afterPassword = await phone.submit(signIn, LOGIN_FORM, { email: twoFactor, password: PASSWORD }, s.issuer);
    // The password step ends on the code step, never on consent, and the device has nothing.
    expect(afterPassword.status).to.equal(200);
    expect(afterPassword.text).to.match(/<form method="post" action="[^"]*\/totp"/);
    expect(CONSENT_FORM.test(afterPassword.text), 'no consent page before the code').to.equal(false);
    const uid = /\/interaction\/([^/"]+)\/totp/.exec(afterPassword.text)![1]!;
    const skip = await phone.request(`${s.issuer}/interaction/${uid}/consent`, { form: { decision: 'allow' } });
    expect([skip.status, skip.location]).to.deep.equal([400, null]);
    const wrong = await phone.request(`${s.issuer}/interaction/${uid}/totp`, { form: { code: '000000' } });
    expect([wrong.status, wrong.location]).to.deep.equal([401, null]);
    expect(await pollOnce(s.issuer, { device_code: r.device_code, client_id: 'device-flow-public' })).to.deep.equal({ status: 400, body: PENDING });

    // With the code: consent, then tokens for the device, for this person.
    const next = await phone.request(`${s.issuer}/interaction/${uid}/totp`, { form: { code: totp.generate({ timestamp: Date.now() + 30_000 }) } });
    expect(next.status).to.equal(303);
    const consent = await phone.get(next.location!, s.issuer);
    expect(CONSENT_FORM.test(consent.text), consent.text.slice(0, 300)).to.equal(true);
    const done = await phone.submit(consent, CONSENT_FORM, { decision: 'allow' }, s.issuer);
    expect(done.text).to.include('<h1>Device connected</h1>');
    const tokens = await oidc.pollDeviceAuthorizationGrant(publicAgent, r);
    expect(decodeJwt(tokens.access_token)).to.deep.include({ sub: id, client_id: 'device-flow-public', aud: api });
  });

  it('a code once answered cannot be entered again', async () => {
    const r = await oidc.initiateDeviceAuthorization(publicAgent, { scope: 'openid' });
    await personAnswers(new HttpBrowser(), s.issuer, r.user_code, { email, decision: 'cancel' });
    const { confirm } = await enterCode(new HttpBrowser(), s.issuer, r.user_code);
    expect(confirm.status).to.equal(400);
    expect(confirm.text).to.include('That code was already used. Start again on your device to get a new code.');
    expect(CONFIRM_FORM.test(confirm.text)).to.equal(false);
  });

  it('polling faster than the interval: slow_down (RFC 8628 §3.5), pending again once the interval has passed', async function () {
    this.timeout(20_000);
    const r = await oidc.initiateDeviceAuthorization(publicAgent, { scope: 'openid' });
    const poll = () => pollOnce(s.issuer, { device_code: r.device_code, client_id: 'device-flow-public' });
    expect(await poll()).to.deep.equal({ status: 400, body: PENDING });
    expect(await poll()).to.deep.equal({ status: 400, body: { error: 'slow_down', error_description: 'poll at most every 5 seconds' } });
    expect(await poll()).to.deep.equal({ status: 400, body: { error: 'slow_down', error_description: 'poll at most every 5 seconds' } });
    await sleep(5_100);
    expect(await poll()).to.deep.equal({ status: 400, body: PENDING });
  });

  it('the code is read whatever the case, spaces or dash (RFC 8628 §6.1); a wrong one is refused with the typed text kept', async () => {
    const r = await oidc.initiateDeviceAuthorization(publicAgent, { scope: 'openid' });
    const bare = r.user_code.replace('-', '');
    for (const typed of [r.user_code, r.user_code.toLowerCase(), bare.toLowerCase(), ` ${bare.slice(0, 4).toLowerCase()} ${bare.slice(4)} `, `${bare.slice(0, 2)}.${bare.slice(2)}`]) {
      const { confirm } = await enterCode(new HttpBrowser(), s.issuer, typed);
      expect(confirm.status, typed).to.equal(200);
      expect(hidden(confirm, 'user_code'), typed).to.equal(r.user_code);
      expect(confirm.text, typed).to.include(`<strong>${r.user_code}</strong>`);
    }
    // One letter off: not a code (a neighbour in the alphabet, never the same letter).
    const wrong = `${r.user_code.slice(0, -1)}${r.user_code.endsWith('B') ? 'C' : 'B'}`;
    const { confirm } = await enterCode(new HttpBrowser(), s.issuer, wrong);
    expect(confirm.status).to.equal(400);
    expect(confirm.text).to.include('That code is not valid. Check the code on your device and enter it again.');
    expect(confirm.text).to.include(`value="${wrong}"`);
    expect(INPUT_FORM.test(confirm.text) && !CONFIRM_FORM.test(confirm.text)).to.equal(true);
  });

  it('verification_uri_complete: the code arrives filled in and the confirmation still asks', async () => {
    const r = await oidc.initiateDeviceAuthorization(publicAgent, { scope: 'openid' });
    const browser = new HttpBrowser();
    const auto = await browser.request(r.verification_uri_complete!);
    // oidc-provider posts the code with its form token, by an inline script pinned by hash.
    expect(auto.status).to.equal(200);
    expect(auto.headers.get('content-security-policy')).to.match(/^default-src 'none'; frame-ancestors 'none'; base-uri 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'$/);
    const confirm = await browser.submit(auto, /<form method="post" action="([^"]+)"/, { xsrf: hidden(auto, 'xsrf'), user_code: hidden(auto, 'user_code') }, s.issuer);
    expect(confirm.status).to.equal(200);
    expect(confirm.text).to.include(`<p class="key" id="user-code"><strong>${r.user_code}</strong></p>`);
    expect(confirm.text).to.include(WARNING);
  });

  it('the device pages have the pages\' layout and CSP: no script, a nonce for the style, no framing', async () => {
    const { input, confirm } = await enterCode(new HttpBrowser(), s.issuer, 'BBBB-BBBB');
    for (const page of [input, confirm]) {
      expect(page.headers.get('content-security-policy')).to.match(/^default-src 'none'; style-src 'nonce-[A-Za-z0-9+/=]+'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'$/);
      expect(page.headers.get('cache-control')).to.equal('no-store');
      expect(page.text).not.to.include('<script');
      expect(page.text).to.include('<label for="user_code">Code</label>');
    }
  });

  it('a confidential client authenticates at the device endpoint; a second sign-in in the same browser is confirmed on the confirmation page alone', async function () {
    this.timeout(30_000);
    const created = await s.env.createClient({ clientId: 'device-flow-confidential', name: 'Render farm', type: 'confidential', redirectUris: ['https://farm.example/cb'], scopes: ['openid', 'listings:read'], deviceCode: true });
    const basic = Buffer.from(`device-flow-confidential:${created.clientSecret}`).toString('base64');
    const anonymous = await fetch(`${s.issuer}/device/auth`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=device-flow-confidential&scope=openid' });
    expect([anonymous.status, await anonymous.json()]).to.deep.equal([401, { error: 'invalid_client', error_description: 'client authentication failed' }]);

    const farm = await deviceConfig(s.issuer, 'device-flow-confidential', created.clientSecret);
    const browser = new HttpBrowser();
    const first = await oidc.initiateDeviceAuthorization(farm, { scope: 'openid listings:read', resource: api });
    const pages = await personAnswers(browser, s.issuer, first.user_code, { email });
    expect(pages.consent?.status, 'consent the first time').to.equal(200);
    expect(pages.final.text).to.include('<h1>Device connected</h1>');
    expect(decodeJwt((await pollOnce(s.issuer, { device_code: first.device_code }, basic)).body.access_token as string)).to.deep.include({ aud: api, client_id: 'device-flow-confidential' });

    // A web client's grant covers the scopes already: no consent page, so the confirmation —
    // code, client, scopes, account, warning — is where the person decides.
    const second = await oidc.initiateDeviceAuthorization(farm, { scope: 'openid listings:read', resource: api });
    const again = await personAnswers(browser, s.issuer, second.user_code, { email });
    expect(again.confirm.text).to.include(`You are signed in as <strong>${email}</strong>`);
    expect(again.confirm.text).to.include(WARNING);
    expect([again.login, again.consent]).to.deep.equal([undefined, undefined]);
    expect(again.final.text).to.include('<h1>Device connected</h1>');
    const tokens = await pollOnce(s.issuer, { device_code: second.device_code }, basic);
    expect(tokens.status).to.equal(200);
    const approvals = await audited(s.db, 'device.approved', 'device-flow-confidential', 2);
    expect(approvals.map((a) => [a.actor_user_id, a.properties.scope])).to.deep.equal([[userId, 'openid listings:read'], [userId, 'openid listings:read']]);
  });

  it('a device-only client (clients:create --device without a redirect URI) has no code flow', async () => {
    const created = await s.env.createClient({ name: 'Headless', clientId: 'device-flow-only', type: 'public', redirectUris: [], scopes: ['openid'], deviceCode: true });
    expect(created.metadata).to.deep.include({ redirect_uris: [], response_types: [], grant_types: ['refresh_token', DEVICE_GRANT] });
    const headless = await deviceConfig(s.issuer, 'device-flow-only');
    const r = await oidc.initiateDeviceAuthorization(headless, { scope: 'openid' });
    const pages = await personAnswers(new HttpBrowser(), s.issuer, r.user_code, { email });
    expect(pages.final.text).to.include('<h1>Device connected</h1>');
    expect((await pollOnce(s.issuer, { device_code: r.device_code, client_id: 'device-flow-only' })).status).to.equal(200);
    // Its authorization requests stop at the error page: it has no redirect URI to answer to.
    const auth = await new HttpBrowser().request(`${s.issuer}/auth?client_id=device-flow-only&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`);
    expect([auth.status, auth.location]).to.deep.equal([400, null]);
    expect(auth.text).to.include('<code>invalid_redirect_uri</code>');
  });

  it('a client not registered for the grant is refused at the device endpoint', async () => {
    const agent = await deviceConfig(s.issuer, 'agent');
    expect(await oidc.initiateDeviceAuthorization(agent, { scope: 'openid' }).then(() => undefined, oauthError)).to.deep.equal({
      status: 400, error: 'invalid_request', error_description: `${DEVICE_GRANT} is not allowed for this client`,
    });
  });

  it('an agent registers itself (RFC 7591) for the device grant and uses it', async () => {
    const registered = await oidc.dynamicClientRegistration(
      new URL(s.issuer),
      { client_name: 'Self-registered CLI', token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT], response_types: ['code'], scope: 'openid listings:read' },
      oidc.None(),
      { execute: [oidc.allowInsecureRequests] },
    );
    expect(registered.clientMetadata().grant_types).to.deep.equal(['authorization_code', 'refresh_token', DEVICE_GRANT]);
    const r = await oidc.initiateDeviceAuthorization(registered, { scope: 'openid listings:read', resource: api });
    const { confirm } = await enterCode(new HttpBrowser(), s.issuer, r.user_code);
    expect(confirm.text).to.include('<p><strong>Self-registered CLI</strong> <small>(name given by the app itself, not checked by us)</small> is asking to:</p>');
  });
});

/**
 * What needs its own server: the device-code buckets at their real size (RATE_LIMIT_MULTIPLIER=1)
 * and a code living a short life (DEVICE_CODE_TTL_S=12), issued first so the
 * expiry test waits for it first.
 */
function dedicated(backend: Backend, pgUrl?: string) {
  describe(`device authorization grant: guessing and expiry (${backend})`, function () {
    this.timeout(120_000);
    let env: System;
    let issuer: string;
    let agent: oidc.Configuration;
    let expiring: oidc.DeviceAuthorizationResponse;
    let issuedAt: number;

    before(async () => {
      env = await startSystem({ backend, pgUrl: pgUrl, env: { RATE_LIMIT_MULTIPLIER: '1', DEVICE_CODE_TTL_S: '12' }, authz: 0 });
      issuer = (await env.startAuthz()).issuer;
      await env.createClient({ clientId: 'tv-app', name: 'TV', type: 'public', redirectUris: [REDIRECT], scopes: ['openid'], deviceCode: true });
      await env.createUser({ email: 'late@example.com', password: 'correct horse battery staple' });
      agent = await deviceConfig(issuer, 'tv-app');
      issuedAt = Date.now();
      expiring = await oidc.initiateDeviceAuthorization(agent, { scope: 'openid' });
    });
    after(() => env?.close());

    it('an expired device code: expired_token at the token endpoint, "expired" on the page', async function () {
      // First: its code page costs the address one attempt, which the next test counts.
      await sleep(Math.max(0, issuedAt + 13_000 - Date.now()));
      expect(await pollOnce(issuer, { device_code: expiring.device_code, client_id: 'tv-app' })).to.deep.equal({ status: 400, body: { error: 'expired_token', error_description: 'device code is expired' } });
      const polled = await oidc.pollDeviceAuthorizationGrant(agent, { ...expiring, interval: 0, expires_in: 5 }).then(() => undefined, oauthError);
      expect(polled).to.deep.equal({ status: 400, error: 'expired_token', error_description: 'device code is expired' });
      const { confirm } = await enterCode(new HttpBrowser(), issuer, expiring.user_code);
      expect(confirm.status).to.equal(400);
      expect(confirm.text).to.include('That code has expired. Start again on your device to get a new code.');
    });

    it('wrong codes are refused, then rate limited per session (10) and per address (20): 429 before the lookup, the right code included; audited', async () => {
      const target = await oidc.initiateDeviceAuthorization(agent, { scope: 'openid' });
      const wrong = target.user_code === 'BBBB-BBBB' ? 'CCCC-CCCC' : 'BBBB-BBBB';
      const browser = new HttpBrowser();
      const guess = (b: HttpBrowser, xsrf: string, code: string) => b.request(`${issuer}/device`, { form: { xsrf, user_code: code } });
      // Each answer carries a new form token (oidc-provider renews it on every error page).
      let xsrf = hidden(await browser.get(`${issuer}/device`, issuer), 'xsrf');
      for (let i = 0; i < 10; i++) {
        const page = await guess(browser, xsrf, wrong);
        expect(page.status, `guess ${i + 1}`).to.equal(400);
        expect(page.text).to.include('That code is not valid.');
        xsrf = hidden(page, 'xsrf');
      }
      for (const code of [wrong, target.user_code]) {
        const limited = await guess(browser, xsrf, code);
        expect(limited.status, code).to.equal(429);
        const wait = Number(limited.headers.get('retry-after'));
        expect(wait, 'a session bucket refills one attempt a minute').to.be.within(55, 60);
        expect(limited.text).to.include(`Too many codes were tried. Try again in ${wait} seconds.`);
        expect(limited.text, 'nothing about the code').not.to.include(code);
      }
      // A fresh session from the same address: the address's bucket (20) had 13 taken (12 here, 1 by the expiry test).
      for (let i = 0; i < 7; i++) {
        const b = new HttpBrowser();
        const page = await guess(b, hidden(await b.get(`${issuer}/device`, issuer), 'xsrf'), wrong);
        expect(page.status, `fresh session ${i + 1}`).to.equal(400);
      }
      const b = new HttpBrowser();
      const limited = await guess(b, hidden(await b.get(`${issuer}/device`, issuer), 'xsrf'), target.user_code);
      expect(limited.status).to.equal(429);
      expect(Number(limited.headers.get('retry-after')), 'an address bucket refills one attempt every 30 s').to.be.within(25, 30);
      let hits: Record<string, unknown>[] = [];
      for (let i = 0; i < 40 && hits.length < 3; i++, await sleep(50)) hits = await env.db('audit_log').where({ event: 'rate_limit.hit' }).orderBy('created_at');
      expect(hits.map((h: Record<string, unknown>) => JSON.parse(String(h.properties)))).to.deep.equal([
        { route: '/device', limit: 'device-code:session' },
        { route: '/device', limit: 'device-code:session' },
        { route: '/device', limit: 'device-code:ip' },
      ]);
    });

  });
}

dedicated('sqlite');
describeWithService('device authorization grant: guessing and expiry (PostgreSQL)', PG_URL, PG_SKIP_REASON, (url) => dedicated('pg', url));
