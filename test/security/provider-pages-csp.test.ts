import { expect } from 'chai';
import { listenAt } from '../helpers/loopback.js';
import path from 'node:path';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ARTIFACTS, CHROMIUM, HAS_CHROMIUM, launch, watch } from '../helpers/browser.js';
import { PASSWORD, describeEachBackend, type Stack } from './stack.js';

/**
 * Security round 2, item 2: the pages oidc-provider renders itself — the form_post response
 * (OAuth 2.0 Form Post Response Mode §2), the logout of a browser without an OpenID session
 * (RP-Initiated Logout §3) and the logout that precedes signing in as another account — submit
 * themselves with one inline script. Under the strict CSP they stopped on a blank page. Now the
 * response's CSP allows exactly that script's hash and posting to exactly the validated target;
 * Chromium must reach the client, with no CSP violation in its console.
 */
const suite = HAS_CHROMIUM ? describeEachBackend : (title: string) => describe.skip(`${title} — skipped: no Chromium at ${CHROMIUM}`, () => undefined);

const PORT = 8766;
const CALLBACK = `http://127.0.0.1:${PORT}/cb`;
const SIGNED_OUT = `http://127.0.0.1:${PORT}/signed-out`;

suite('security: provider-rendered pages work under the strict CSP (Chromium)', (stack, backend) => {
  let s: Stack;
  let browser: Browser;
  let client: oidc.Configuration;
  let rp: Awaited<ReturnType<typeof listenAt>>;
  /** What reached the relying party: method, path and (form) body. */
  const received: { method: string; path: string; body: URLSearchParams }[] = [];
  const contexts: BrowserContext[] = [];
  let consoleErrors: string[] = [];
  let n = 0;

  before(async function () {
    this.timeout(60_000);
    s = stack();
    await s.env.createClient({ clientId: `csp-rp-${backend}`, name: 'Form-post RP', type: 'public', redirectUris: [CALLBACK], postLogoutRedirectUris: [SIGNED_OUT], scopes: ['openid', 'email'] }).catch((err: Error) => {
      if (!/exists|unique/i.test(err.message)) throw err;
    });
    client = await oidc.discovery(new URL(s.issuer), `csp-rp-${backend}`, { redirect_uris: [CALLBACK] }, oidc.None(), { execute: [oidc.allowInsecureRequests] });
    rp = await listenAt(CALLBACK, (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const url = new URL(req.url!, CALLBACK);
        if (url.pathname === '/favicon.ico') return void res.writeHead(404).end();
        received.push({ method: req.method!, path: url.pathname, body: req.method === 'POST' ? new URLSearchParams(body) : url.searchParams });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('relying party reached');
      });
    });
    browser = await launch();
  });
  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
    const errors = consoleErrors;
    consoleErrors = [];
    expect(errors, 'console errors (CSP violations among them)').to.deep.equal([]);
  });
  after(async () => {
    await browser?.close();
    await rp?.close();
  });

  async function profile(): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const w = watch(page);
    page.on('close', () => consoleErrors.push(...w.errors));
    return page;
  }
  const email = (what: string) => `csp-${what}-${backend}-${++n}@example.com`;

  async function authorize(page: Page, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(client, { redirect_uri: CALLBACK, scope: 'openid email', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, ...extra });
    await page.goto(url.href);
    return { verifier, state };
  }
  async function signIn(page: Page, who: string) {
    await page.getByLabel('Email').fill(who);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  async function allowAndReachRp(page: Page, shot: string) {
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, `${shot}-${backend}.png`), fullPage: true });
    await Promise.all([page.waitForURL(`http://127.0.0.1:${PORT}/**`), page.getByRole('button', { name: 'Allow' }).click()]);
  }
  /** The last request that reached the RP, once it has. */
  const arrived = () => received.at(-1)!;

  it('response_mode=form_post delivers the code to the client by POST, and openid-client redeems it', async function () {
    this.timeout(60_000);
    const who = email('form-post');
    await s.user(who);
    const page = await profile();
    let csp = '';
    page.on('response', (r) => {
      if (r.request().method() === 'GET' && /\/auth\/[^/]+$/.test(new URL(r.url()).pathname)) csp = r.headers()['content-security-policy'] ?? csp;
    });
    const flow = await authorize(page, { response_mode: 'form_post' });
    await signIn(page, who);
    await allowAndReachRp(page, 'form-post-consent');
    expect(await page.textContent('body')).to.equal('relying party reached');
    const got = arrived();
    expect([got.method, got.path]).to.deep.equal(['POST', '/cb']);
    expect(got.body.get('state')).to.equal(flow.state);
    expect(got.body.get('iss')).to.equal(s.issuer);
    // Exactly the one inline script and exactly the client's origin; nothing else.
    expect(csp).to.match(/script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).to.match(new RegExp(`form-action http://127\\.0\\.0\\.1:${PORT}(;|$)`));
    expect(csp).to.contain("default-src 'none'");
    expect(csp).not.to.contain("'unsafe-inline'");
    const request = new Request(CALLBACK, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: got.body });
    const tokens = await oidc.authorizationCodeGrant(client, request, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    // OpenID Connect Core §5.4: with an access token usable at userinfo, the email is read there.
    expect((await oidc.fetchUserInfo(client, tokens.access_token, tokens.claims()!.sub)).email).to.equal(who);
  });

  it('discovery advertises form_post among the response modes (it delivers)', async () => {
    const d = (await (await fetch(`${s.issuer}/.well-known/openid-configuration`)).json()) as { response_modes_supported: string[] };
    expect(d.response_modes_supported).to.include('form_post');
  });

  it('RP-initiated logout with no OpenID session returns to the client\'s post_logout_redirect_uri', async function () {
    this.timeout(60_000);
    const page = await profile();
    const url = new URL(`${s.issuer}/session/end`);
    url.search = new URLSearchParams({ client_id: `csp-rp-${backend}`, post_logout_redirect_uri: SIGNED_OUT, state: 'logout-state' }).toString();
    await page.goto(url.href, { waitUntil: 'commit' }); // the page submits itself at once
    await page.waitForURL(`${SIGNED_OUT}**`);
    expect(new URL(page.url()).searchParams.get('state')).to.equal('logout-state');
    expect(arrived().path).to.equal('/signed-out');
  });

  it('RP-initiated logout with a session: our confirmation page, then back to the client and the better-auth session ended', async function () {
    this.timeout(60_000);
    const who = email('logout');
    await s.user(who);
    const page = await profile();
    await authorize(page);
    await signIn(page, who);
    await allowAndReachRp(page, 'logout-consent');
    const url = new URL(`${s.issuer}/session/end`);
    url.search = new URLSearchParams({ client_id: `csp-rp-${backend}`, post_logout_redirect_uri: SIGNED_OUT, state: 'bye' }).toString();
    await page.goto(url.href);
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    await Promise.all([page.waitForURL(`${SIGNED_OUT}**`), page.getByRole('button', { name: 'Sign out', exact: true }).click()]);
    const cookies = await page.context().cookies(s.issuer);
    const session = await page.context().request.get(`${s.issuer}/api/auth/get-session`);
    expect(await session.json(), cookies.map((c) => c.name).join(',')).to.equal(null);
  });

  it('prompt=login as another account while one is signed in: the old OpenID session ends, the code is the new account\'s', async function () {
    this.timeout(60_000);
    const first = email('first');
    const second = email('second');
    await s.user(first);
    const secondId = await s.user(second);
    const page = await profile();
    await authorize(page);
    await signIn(page, first);
    await allowAndReachRp(page, 'switch-first-consent');
    const firstId = (await s.db('user').where({ email: first }).first()).id as string;
    expect(await s.count('oidc_models', { model: 'Session', account_id: firstId })).to.equal(1);

    const flow = await authorize(page, { prompt: 'login' });
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await signIn(page, second);
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    expect(await page.locator('p.account').innerText()).to.equal(`Signed in as ${second}.`);
    await Promise.all([page.waitForURL(`${CALLBACK}**`), page.getByRole('button', { name: 'Allow' }).click()]);
    const tokens = await oidc.authorizationCodeGrant(client, new URL(page.url()), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    expect(tokens.claims()!.sub).to.equal(secondId);
    expect(await s.count('oidc_models', { model: 'Session', account_id: firstId }), 'the first account\'s OpenID session').to.equal(0);
  });
});
