import { expect } from 'chai';
import { listenLoopback } from '../helpers/loopback.js';
import path from 'node:path';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import * as OTPAuth from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startSystem, type System, type Service } from '../helpers/system.js';
import { mailLink as outboxLink } from '../helpers/outbox.js';
import { ARTIFACTS, HAS_CHROMIUM, CHROMIUM, launch, unlabelledInputs, watch } from '../helpers/browser.js';
import { discover } from '../authz-server/oidc.flow.js';

const PASSWORD = 'a very long passphrase 42';

(HAS_CHROMIUM ? describe : describe.skip)(`browser: accounts and sign-in in Chromium${HAS_CHROMIUM ? '' : ` — skipped: no Chromium at ${CHROMIUM}`}`, function () {
  this.timeout(120_000);
  let env: System;
  let server: Service;
  let browser: Browser;
  let config: oidc.Configuration;
  const consoleErrors: string[] = [];
  let callback: Awaited<ReturnType<typeof listenLoopback>>;
  let redirect: string; // the agent's loopback redirect URI, on a port of this file's own

  before(async () => {
    env = await startSystem({ backend: 'sqlite', authz: 0, hosting: 'process' });
    server = await env.startAuthz();
    callback = await listenLoopback('/callback');
    redirect = callback.url;
    await env.createClient({ clientId: 'agent', name: 'Agent CLI', type: 'public', redirectUris: [redirect], scopes: ['openid', 'offline_access', 'email'] });
    config = await discover(server.issuer, 'agent');
    browser = await launch();
  });
  after(async () => {
    await callback?.close();
    await browser?.close();
    await env?.close();
  });
  afterEach(() => expect(consoleErrors.splice(0), 'console errors').to.deep.equal([]));

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const w = watch(page);
    page.on('close', () => consoleErrors.push(...w.errors));
    return { context, page };
  }
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  async function expectLabelled(page: Page) {
    expect(await unlabelledInputs(page), page.url()).to.deep.equal([]);
  }
  const mailLink = (to: string, kind: string) => outboxLink(env.env.DATA_DIR!, to, kind);

  /** Starts an authorization request; returns the PKCE verifier and state to redeem the code. */
  async function startAuthorization(page: Page) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: redirect, scope: 'openid email offline_access', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, prompt: 'consent' });
    await page.goto(url.href);
    return { verifier, state };
  }
  async function consentAndRedeem(page: Page, flow: { verifier: string; state: string }, name: string) {
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await expectLabelled(page);
    await shot(page, `${name}-consent`);
    await Promise.all([page.waitForURL(`${redirect}**`), page.getByRole('button', { name: 'Allow' }).click()]);
    return oidc.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
  }
  async function signIn(page: Page, email: string, password: string) {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('sign-up → verification link → sign-in through an authorization request → consent → code', async () => {
    const { context, page } = await newPage();
    await page.goto(`${server.issuer}/account/sign-up`);
    await expectLabelled(page);
    await shot(page, '01-sign-up');
    await page.getByLabel('Name').fill('Bea');
    await page.getByLabel('Email').fill('bea@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    await shot(page, '02-check-email');

    await page.goto(await mailLink('bea@example.com', 'verify-email'));
    await page.getByRole('heading', { name: 'Email confirmed' }).waitFor();
    await shot(page, '03-verified');

    const flow = await startAuthorization(page);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await expectLabelled(page);
    await shot(page, '04-sign-in');
    await signIn(page, 'bea@example.com', PASSWORD);
    const tokens = await consentAndRedeem(page, flow, '05');
    // OpenID Connect Core §5.4: with an access token usable at userinfo, the email is read there.
    expect((await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).email).to.equal('bea@example.com');
    expect(tokens.claims()!.amr).to.deep.equal(['pwd']);
    await context.close();
  });

  it('2FA enrolment, then a sign-in that demands the TOTP; a backup code works once', async () => {
    const { context, page } = await newPage();
    const first = await startAuthorization(page);
    await signIn(page, 'bea@example.com', PASSWORD);
    await consentAndRedeem(page, first, '06');

    await page.goto(`${server.issuer}/account`);
    await expectLabelled(page);
    await shot(page, '07-account');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    await shot(page, '08-enrol');
    const totp = OTPAuth.URI.parse(await page.getByLabel('Setup link').inputValue()) as OTPAuth.TOTP;
    const backupCodes = await page.locator('#backup-codes code').allTextContents();
    expect(backupCodes).to.have.length(10);
    await page.getByLabel('Authentication code').fill(totp.generate());
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('Two-factor authentication is on.').first().waitFor();
    await context.close();

    const second = await newPage();
    const flow = await startAuthorization(second.page);
    await signIn(second.page, 'bea@example.com', PASSWORD);
    await second.page.getByRole('heading', { name: 'Two-factor authentication' }).waitFor();
    await expectLabelled(second.page);
    await shot(second.page, '09-totp');
    await second.page.getByLabel('Authentication code').fill('000000');
    await second.page.getByRole('button', { name: 'Verify' }).click();
    await second.page.getByText('That code is not valid. Try again.').waitFor();
    await second.page.getByLabel('Authentication code').fill(totp.generate());
    await second.page.getByRole('button', { name: 'Verify' }).click();
    const tokens = await consentAndRedeem(second.page, flow, '10');
    expect(tokens.claims()!.amr).to.deep.equal(['pwd', 'otp']);
    expect(tokens.claims()!.acr).to.equal('urn:portcullis:loa:2');
    await second.context.close();

    for (const [attempt, expectOk] of [[1, true], [2, false]] as const) {
      const { context: ctx, page: p } = await newPage();
      const f = await startAuthorization(p);
      await signIn(p, 'bea@example.com', PASSWORD);
      await p.getByLabel('Authentication code').fill(backupCodes[0]!);
      await p.getByRole('button', { name: 'Verify' }).click();
      if (expectOk) {
        const t = await consentAndRedeem(p, f, `11-backup-${attempt}`);
        expect(decodeJwt(t.id_token!).amr).to.deep.equal(['pwd', 'otp']);
      } else {
        await p.getByText('That code is not valid. Try again.').waitFor();
        await shot(p, '12-backup-reused');
      }
      await ctx.close();
    }
  });

  it('password reset through the pages', async () => {
    const { context, page } = await newPage();
    await page.goto(`${server.issuer}/account/forgot-password`);
    await expectLabelled(page);
    await page.getByLabel('Email').fill('bea@example.com');
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();
    await page.goto(await mailLink('bea@example.com', 'reset-password'));
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await expectLabelled(page);
    await shot(page, '13-reset');
    await page.getByLabel('New password').fill('an entirely new passphrase');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { name: 'Password changed' }).waitFor();
    const res = await fetch(`${server.issuer}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: server.issuer }, body: JSON.stringify({ email: 'bea@example.com', password: 'an entirely new passphrase' }) });
    expect(res.status).to.equal(200);
    await context.close();
  });
});
