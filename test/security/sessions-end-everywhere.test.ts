import { expect } from 'chai';
import { adminHere } from '../helpers/admin.js';
import { listenAt } from '../helpers/loopback.js';
import path from 'node:path';
import * as oidc from 'openid-client';
import * as OTPAuth from 'otpauth';
import type { Browser, BrowserContext, Cookie, Page } from 'playwright-core';
import { ARTIFACTS, CHROMIUM, HAS_CHROMIUM, launch } from '../helpers/browser.js';
import { mailLink } from '../helpers/outbox.js';
import { PASSWORD, REDIRECT, describeEachBackend, type Stack } from './stack.js';

/**
 * Threat (security round 2, item 1): a session that ends must end everywhere. A thief who holds
 * a copy of the victim's cookies — the better-auth session and the provider's `portcullis.oidc`
 * — replays them in a real browser after each way the session can end, and must meet a sign-in
 * page, never the consent page; `prompt=none` must answer login_required. Before each ending
 * the same replay reaches consent, so every test also proves the attack it defends against.
 * Item 5: a planted OpenID session is never adopted: the consent page names the account, and
 * "Not you?" leads to a fresh sign-in whose code is for the person who signed in.
 */
const suite = HAS_CHROMIUM ? describeEachBackend : (title: string) => describe.skip(`${title} — skipped: no Chromium at ${CHROMIUM}`, () => undefined);

suite('security: a session that ends ends everywhere (Chromium, the thief\'s cookie jar replayed)', (stack, backend) => {
  let s: Stack;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let n = 0;
  const email = (what: string) => `ends-${what}-${backend}-${++n}@example.com`;

  let callback: Awaited<ReturnType<typeof listenAt>>;

  before(async function () {
    this.timeout(60_000);
    s = stack();
    browser = await launch();
    callback = await listenAt(REDIRECT); // the agent's loopback redirect URI
  });
  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
  });
  after(async () => {
    await browser?.close();
    await callback?.close();
  });

  /** A browser profile of its own, holding `cookies`. */
  async function profile(cookies: Cookie[] = []): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    if (cookies.length) await context.addCookies(cookies);
    return context.newPage();
  }
  const jar = (page: Page) => page.context().cookies(s.issuer);

  async function authorizationUrl(prompt: string, scope = 'openid email offline_access') {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(s.client, { redirect_uri: REDIRECT, scope, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, prompt });
    return { url: url.href, verifier, state };
  }

  /** Which page a request with prompt=consent ends on: the sign-in form or consent. */
  async function landing(page: Page): Promise<'sign-in' | 'consent'> {
    await page.goto((await authorizationUrl('consent')).url);
    const signIn = page.getByRole('heading', { name: 'Sign in' });
    const consent = page.getByRole('heading', { name: 'Allow access?' });
    await signIn.or(consent).waitFor();
    return (await signIn.isVisible()) ? 'sign-in' : 'consent';
  }

  /** What a silent (prompt=none) request returns to the client. */
  async function silent(page: Page): Promise<{ code: boolean; error: string | null }> {
    await page.goto((await authorizationUrl('none')).url);
    await page.waitForURL(`${REDIRECT}**`);
    const params = new URL(page.url()).searchParams;
    return { code: params.has('code'), error: params.get('error') };
  }

  /** Signs in through the pages, allows, and redeems the code: the person's own tokens. */
  async function signIn(page: Page, who: string, password = PASSWORD) {
    const flow = await authorizationUrl('consent');
    await page.goto(flow.url);
    await page.getByLabel('Email').fill(who);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    return allow(page, flow);
  }
  async function allow(page: Page, flow: { verifier: string; state: string }) {
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await Promise.all([page.waitForURL(`${REDIRECT}**`), page.getByRole('button', { name: 'Allow' }).click()]);
    return oidc.authorizationCodeGrant(s.client, new URL(page.url()), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
  }

  /** The victim signed in; the thief holds a copy of every cookie — the attack works so far. */
  async function victimAndStolenJar(what: string) {
    const who = email(what);
    await s.user(who);
    const victim = await profile();
    await signIn(victim, who);
    const stolen = await jar(victim);
    expect(stolen.map((c) => c.name)).to.include.members(['portcullis.oidc', 'portcullis.session_token']);
    expect(await landing(await profile(stolen)), 'before: the copied jar reaches consent without a sign-in').to.equal('consent');
    return { who, victim, stolen };
  }

  /** The provider's stored OpenID sessions of an account (ending one deletes it at once). */
  const openIdSessions = async (who: string) => s.count('oidc_models', { model: 'Session', account_id: (await s.db('user').where({ email: who }).first()).id });

  async function expectThiefSignedOut(stolen: Cookie[], what: string) {
    const thief = await profile(stolen);
    expect(await landing(thief), `${what}: the replayed jar must sign in again`).to.equal('sign-in');
    await thief.screenshot({ path: path.join(ARTIFACTS, `session-ended-${what}-${backend}.png`), fullPage: true });
    expect(await silent(await profile(stolen)), `${what}: prompt=none`).to.deep.equal({ code: false, error: 'login_required' });
  }

  it('revoking the other session on the account page: the thief signs in again and its refresh token is dead', async function () {
    this.timeout(90_000);
    const who = email('revoke');
    await s.user(who);
    const victim = await profile();
    await signIn(victim, who);
    const thief = await profile();
    const thiefTokens = await signIn(thief, who); // a phished password: a session of its own
    const thiefJar = await jar(thief);
    expect(await landing(await profile(thiefJar))).to.equal('consent');

    await victim.goto(`${s.issuer}/account`);
    await victim.getByRole('button', { name: 'Sign out this session' }).click();
    await victim.getByText('That session is signed out.').waitFor();
    expect(await openIdSessions(who), 'only the victim\'s own OpenID session is left').to.equal(1);

    await expectThiefSignedOut(thiefJar, 'revoke-one');
    const refresh = await oidc.refreshTokenGrant(s.client, thiefTokens.refresh_token!).then(() => 'worked', (e: oidc.ResponseBodyError) => e.error);
    expect(refresh, 'offline access obtained through the revoked session').to.equal('invalid_grant');
    expect(await landing(victim), 'the victim\'s own session is untouched').to.equal('consent');
  });

  it('signing out on the account page', async function () {
    this.timeout(90_000);
    const { who, victim, stolen } = await victimAndStolenJar('sign-out');
    await victim.goto(`${s.issuer}/account`);
    await victim.getByRole('button', { name: 'Sign out', exact: true }).click();
    await victim.getByRole('heading', { name: 'Signed out' }).waitFor();
    expect(await openIdSessions(who), 'the OpenID session bound to it is deleted, not only refused').to.equal(0);
    await expectThiefSignedOut(stolen, 'sign-out');
  });

  it('signing out through better-auth\'s own endpoint (POST /api/auth/sign-out)', async function () {
    this.timeout(90_000);
    const { who, victim, stolen } = await victimAndStolenJar('api-sign-out');
    await victim.goto(`${s.issuer}/account`);
    // The page's own CSP allows no script requests: the browser profile's request API, with its cookies.
    const out = await victim.context().request.post(`${s.issuer}/api/auth/sign-out`, { headers: { origin: s.issuer, 'content-type': 'application/json' }, data: '{}' });
    expect(out.status()).to.equal(200);
    expect(await openIdSessions(who)).to.equal(0);
    await expectThiefSignedOut(stolen, 'api-sign-out');
  });

  it('signing out everywhere', async function () {
    this.timeout(90_000);
    const { victim, stolen } = await victimAndStolenJar('everywhere');
    await victim.goto(`${s.issuer}/account`);
    await victim.getByRole('button', { name: 'Sign out everywhere' }).click();
    await victim.getByRole('heading', { name: 'Signed out everywhere' }).waitFor();
    await expectThiefSignedOut(stolen, 'everywhere');
  });

  it('a password reset', async function () {
    this.timeout(90_000);
    const { who, victim, stolen } = await victimAndStolenJar('reset');
    await victim.goto(`${s.issuer}/account/forgot-password`);
    await victim.getByLabel('Email').fill(who);
    await victim.getByRole('button', { name: 'Send reset link' }).click();
    await victim.getByRole('heading', { name: 'Check your email' }).waitFor();
    await victim.goto(await mailLink(s.env.env.DATA_DIR!, who, 'reset-password'));
    await victim.getByLabel('New password').fill('a fresh passphrase after the theft 77');
    await victim.getByRole('button', { name: 'Change password' }).click();
    await victim.getByRole('heading', { name: 'Password changed' }).waitFor();
    await expectThiefSignedOut(stolen, 'password-reset');
  });

  it('turning on two-factor authentication', async function () {
    this.timeout(90_000);
    const { victim, stolen } = await victimAndStolenJar('two-factor');
    await victim.goto(`${s.issuer}/account`);
    await victim.getByLabel('Password').fill(PASSWORD);
    await victim.getByRole('button', { name: 'Set up two-factor authentication' }).click();
    const uri = await victim.locator('#otpauth').inputValue();
    await victim.getByLabel('Authentication code').fill((OTPAuth.URI.parse(uri) as OTPAuth.TOTP).generate());
    await victim.getByRole('button', { name: 'Turn on' }).click();
    expect(await victim.getByRole('status').innerText()).to.equal('Two-factor authentication is on.');
    await expectThiefSignedOut(stolen, 'two-factor');
  });

  it('a ban (admin CLI)', async function () {
    this.timeout(90_000);
    const { who, stolen } = await victimAndStolenJar('ban');
    const cli = await adminHere(['users:ban', who], { ...s.env.env, LOG_LEVEL: 'warn' });
    expect(cli.code, cli.output).to.equal(0);
    await expectThiefSignedOut(stolen, 'ban');
  });

  it('the idle limit: a better-auth session past its idle deadline', async function () {
    this.timeout(90_000);
    const { who, stolen } = await victimAndStolenJar('idle');
    const user = await s.db('user').where({ email: who }).first();
    const past = new Date(Date.now() - 1000);
    await s.db('session').where({ userId: user.id }).update({ expiresAt: s.env.config.db.client === 'pg' ? past : past.toISOString() });
    await expectThiefSignedOut(stolen, 'idle');
  });

  it('the absolute limit: a session signed in 12 h ago, however active', async function () {
    this.timeout(90_000);
    const { who, stolen } = await victimAndStolenJar('absolute');
    const user = await s.db('user').where({ email: who }).first();
    const past = new Date(Date.now() - 12 * 3600_000 - 60_000);
    await s.db('session').where({ userId: user.id }).update({ createdAt: s.env.config.db.client === 'pg' ? past : past.toISOString() });
    await expectThiefSignedOut(stolen, 'absolute');
  });

  describe('session planting', () => {
    async function attackerJar(what: string) {
      const attacker = email(`attacker-${what}`);
      await s.user(attacker);
      const page = await profile();
      await signIn(page, attacker);
      return { attacker, cookies: await jar(page) };
    }

    it('a planted portcullis.oidc cookie alone is not a session: sign-in, and prompt=none answers login_required', async function () {
      this.timeout(90_000);
      const { cookies } = await attackerJar('oidc-only');
      const planted = cookies.filter((c) => c.name.startsWith('portcullis.oidc'));
      expect(planted.map((c) => c.name).sort()).to.deep.equal(['portcullis.oidc', 'portcullis.oidc.sig']);
      expect(await landing(await profile(planted))).to.equal('sign-in');
      expect(await silent(await profile(planted))).to.deep.equal({ code: false, error: 'login_required' });
    });

    it('a whole planted jar: consent names the attacker\'s account; "Not you?" signs the victim in and the code is the victim\'s', async function () {
      this.timeout(90_000);
      const { attacker, cookies } = await attackerJar('whole-jar');
      const victimEmail = email('planted-victim');
      const victimId = await s.user(victimEmail);
      const victim = await profile(cookies);
      const flow = await authorizationUrl('consent');
      await victim.goto(flow.url);
      await victim.getByRole('heading', { name: 'Allow access?' }).waitFor();
      expect(await victim.locator('p.account').innerText()).to.equal(`Signed in as ${attacker}.`);
      await victim.screenshot({ path: path.join(ARTIFACTS, `consent-names-account-${backend}.png`), fullPage: true });

      await victim.getByRole('button', { name: 'Not you? Use another account' }).click();
      await victim.getByRole('heading', { name: 'Sign in' }).waitFor();
      await victim.getByLabel('Email').fill(victimEmail);
      await victim.getByLabel('Password').fill(PASSWORD);
      await victim.getByRole('button', { name: 'Sign in' }).click();
      await victim.getByRole('heading', { name: 'Allow access?' }).waitFor();
      expect(await victim.locator('p.account').innerText()).to.equal(`Signed in as ${victimEmail}.`);
      // "Not you?" restarted the same authorization request: the client's state and PKCE pair hold.
      await Promise.all([victim.waitForURL(`${REDIRECT}**`), victim.getByRole('button', { name: 'Allow' }).click()]);
      const callback = new URL(victim.url());
      expect(callback.searchParams.get('state')).to.equal(flow.state);
      const tokens = await oidc.authorizationCodeGrant(s.client, callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
      expect(tokens.claims()!.sub).to.equal(victimId);
    });
  });
});
