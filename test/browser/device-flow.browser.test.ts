import { expect } from 'chai';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { startSystem, type System } from '../helpers/system.js';
import { HAS_CHROMIUM, CHROMIUM, launch } from '../helpers/browser.js';
import { REDIRECT } from '../authz-server/oidc.flow.js';
import { deviceConfig } from '../authz-server/device-flow.flow.js';
import { VIEWPORTS, checkPage, openPage, type Viewport } from './page-checks.js';

const PASSWORD = 'a very long passphrase 42';
const WARNING = 'If someone sent you this code, called or messaged you about it, or a page asked you to enter it: stop. Approving gives them access to your account.';

/**
 * RFC 8628 as a person meets it: an agent without a browser (openid-client's device functions)
 * prints a code; the person enters it on a phone or a desktop in Chromium, compares it on the
 * confirmation and consent pages, signs in and allows or cancels. Every device page is checked
 * at both widths with axe-core (page-checks.ts). The device-code buckets run at their real size
 * (RATE_LIMIT_MULTIPLIER=1), so the last test meets the "too many attempts" page.
 */
(HAS_CHROMIUM ? describe : describe.skip)(`browser: device sign-in (RFC 8628)${HAS_CHROMIUM ? '' : ` — skipped: no Chromium at ${CHROMIUM}`}`, function () {
  this.timeout(180_000);
  let env: System;
  let issuer: string;
  let api: string;
  let browser: Browser;
  let agent: oidc.Configuration;
  const consoleErrors: string[] = [];

  before(async () => {
    env = await startSystem({ backend: 'sqlite', env: { RATE_LIMIT_MULTIPLIER: '1' }, authz: 0, hosting: 'process' });
    issuer = (await env.startAuthz()).issuer;
    api = env.config.api.audience;
    await env.createClient({ clientId: 'build-agent', name: 'Build agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access', 'email', 'listings:read'], deviceCode: true });
    agent = await deviceConfig(issuer, 'build-agent');
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await env?.close();
  });
  afterEach(() => expect(consoleErrors.splice(0), 'console errors').to.deep.equal([]));

  const newPage = (vp: Viewport) => openPage(browser, vp, consoleErrors);
  const heading = (page: Page, name: string) => page.getByRole('heading', { name, exact: true, level: 1 }).waitFor();
  const main = (page: Page) => page.locator('main').innerText();

  for (const vp of VIEWPORTS) {
    it(`at ${vp.width} px: code typed, compared on the confirmation and consent pages, signed in, allowed; the agent's poller gets tokens for the API`, async () => {
      const email = `device-${vp.name}@example.com`;
      const userId = await env.createUser({ email, password: PASSWORD });
      const r = await oidc.initiateDeviceAuthorization(agent, { scope: 'openid offline_access email listings:read', resource: api });
      const polling = oidc.pollDeviceAuthorizationGrant(agent, r);
      const { context, page } = await newPage(vp);

      await page.goto(r.verification_uri);
      await heading(page, 'Connect a device');
      await checkPage(page, vp, 'device-input');
      // As people type it: the phone in lower case without the dash.
      await page.getByLabel('Code').fill(vp.name === 'phone' ? r.user_code.replace('-', '').toLowerCase() : r.user_code);
      await page.getByRole('button', { name: 'Continue' }).click();

      await heading(page, 'Connect this device?');
      const confirm = await main(page);
      for (const t of [r.user_code, 'Build agent is asking to:', 'Confirm who you are', 'See your email address', 'Read marketplace listings', WARNING]) expect(confirm, vp.name).to.contain(t);
      await checkPage(page, vp, 'device-confirm');
      await page.getByRole('button', { name: 'Continue' }).click();

      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await heading(page, 'Allow access?');
      const consent = await main(page);
      for (const t of [r.user_code, 'Build agent is asking to:', WARNING, 'After you answer, the device that shows this code gets the answer.']) expect(consent, vp.name).to.contain(t);
      await checkPage(page, vp, 'device-consent');
      await page.getByRole('button', { name: 'Allow' }).click();

      await heading(page, 'Device connected');
      expect(await main(page)).to.contain('Build agent can now use your account');
      await checkPage(page, vp, 'device-success');
      await context.close();

      const tokens = await polling;
      expect(decodeJwt(tokens.access_token)).to.deep.include({ aud: api, sub: userId, client_id: 'build-agent', scope: 'listings:read' });
      expect(tokens.refresh_token).to.be.a('string');
    });
  }

  for (const vp of VIEWPORTS) {
    it(`at ${vp.width} px: the link with the code (verification_uri_complete) lands on the confirmation; Cancel, and the agent gets access_denied`, async () => {
      const r = await oidc.initiateDeviceAuthorization(agent, { scope: 'openid' });
      const polling = oidc.pollDeviceAuthorizationGrant(agent, r).then(
        () => 'tokens',
        (e: oidc.ResponseBodyError) => e.error,
      );
      const { context, page } = await newPage(vp);
      await page.goto(r.verification_uri_complete!);
      await heading(page, 'Connect this device?');
      expect(await main(page)).to.contain(r.user_code);
      await page.getByRole('button', { name: 'Cancel' }).click();
      await heading(page, 'Request denied');
      await checkPage(page, vp, 'device-denied');
      await context.close();
      expect(await polling).to.equal('access_denied');
    });

    it(`at ${vp.width} px: a wrong code is refused on the input page, the typed text kept`, async () => {
      const { context, page } = await newPage(vp);
      await page.goto(`${issuer}/device`);
      expect(await submitCode(page, 'bbbb-bbbb')).to.equal(400);
      expect(await page.getByRole('alert').innerText()).to.equal('That code is not valid. Check the code on your device and enter it again.');
      expect(await page.getByLabel('Code').inputValue()).to.equal('bbbb-bbbb');
      await checkPage(page, vp, 'device-wrong-code');
      await context.close();
    });
  }

  /** Types a code and submits it; the status of the answer, once its page has loaded. */
  async function submitCode(page: Page, code: string): Promise<number> {
    await page.getByLabel('Code').fill(code);
    const answer = page.waitForResponse((res) => res.request().method() === 'POST' && new URL(res.url()).pathname === '/device');
    await page.getByRole('button', { name: 'Continue' }).click();
    const status = (await answer).status();
    await page.waitForLoadState();
    return status;
  }

  for (const vp of VIEWPORTS) {
    it(`at ${vp.width} px: too many codes tried from this address: 429 and the page says how long to wait`, async () => {
      const { context, page } = await newPage(vp);
      await page.goto(`${issuer}/device`);
      const statuses: number[] = [];
      while (statuses.at(-1) !== 429 && statuses.length < 25) {
        statuses.push(await submitCode(page, 'bbbb-bbbb'));
        if (statuses.at(-1) === 400) await page.getByLabel('Code').waitFor();
      }
      expect(statuses.slice(0, -1).every((x) => x === 400) && statuses.at(-1) === 429, statuses.join(' ')).to.equal(true);
      await heading(page, 'Too many attempts');
      expect(await page.getByRole('alert').innerText()).to.match(/^Too many codes were tried\. Try again in \d+ seconds\.$/);
      await checkPage(page, vp, 'device-limited');
      await context.close();
    });
  }
});
