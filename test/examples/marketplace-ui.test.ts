import { expect } from 'chai';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, CHROMIUM, HAS_CHROMIUM, launch, watch } from '../helpers/browser.js';
import { insertListing } from '../helpers/listings.js';
import { runNode, SOURCE_FLAGS, type Proc } from '../helpers/process.js';
import { PASSWORD, sharedStack, type Stack } from '../security/stack.js';

const UI = 'http://localhost:3000';

/**
 * examples/marketplace-ui, a backend-for-frontend on the development demo client
 * `marketplace-ui`, in Chromium against real authz-server and resource-api processes (and the
 * fake Stripe): sign in with OIDC, see listings, buy through Stripe Checkout, see the entitlement
 * once Stripe's webhook arrived, sign out through RP-initiated logout. The browser never holds a
 * token: only the app's own HttpOnly session cookie.
 */
(HAS_CHROMIUM ? describe : describe.skip)(`examples/marketplace-ui in Chromium${HAS_CHROMIUM ? '' : ` — skipped: no Chromium at ${CHROMIUM}`}`, function () {
  this.timeout(120_000);
  let s: Stack;
  let ui: Proc;
  let browser: Browser;
  let errors: string[] = [];

  before(async () => {
    s = await sharedStack();
    ui = runNode([...SOURCE_FLAGS, 'examples/marketplace-ui/server.ts'], {
      PATH: process.env.PATH, PORTCULLIS_ISSUER: s.issuer, PORTCULLIS_API: s.apiUrl, PORTCULLIS_RESOURCE: s.env.config.api.audience, UI_URL: UI,
    });
    await ui.waitFor(/marketplace-ui listening/, 30_000);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await ui?.stop(3000);
  });

  async function open(): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    errors = watch(page).errors;
    return page;
  }
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `marketplace-ui-${name}.png`), fullPage: true });

  it('signs in with OIDC, buys through Checkout, shows the entitlement after the webhook, signs out', async () => {
    const email = 'ui-buyer@example.com';
    const userId = await s.user(email);
    const publisherId = await s.user('ui-publisher@example.com', 'publisher');
    const title = 'Translator agent (UI example)';
    const listingId = await insertListing(s.db, { publisherId, title, quotaUnits: 40 });

    let page = await open();
    await page.goto(UI);
    await shot(page, '1-welcome');
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${UI}/`);
    await page.getByText(`Signed in as ${email}.`).waitFor();
    await shot(page, '2-signed-in');
    // Backend-for-frontend: the browser's only cookie on the app is its HttpOnly session id.
    const cookies = await page.context().cookies(UI);
    expect(cookies.map((c) => [c.name, c.httpOnly])).to.deep.equal([['marketplace.sid', true], ['marketplace.sid.sig', true]]);

    // The app sends the browser to the Checkout URL the API returned (Stripe itself is outside
    // this machine's network: the redirect is what is checked).
    const [buy] = await Promise.all([page.waitForResponse((r) => r.url() === `${UI}/buy`), page.getByRole('button', { name: `Buy ${title}` }).click()]);
    expect(buy.status()).to.equal(302);
    expect(buy.headers().location).to.match(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/);
    const created = s.stripe.calls.filter((c) => c.path === '/v1/checkout/sessions').at(-1)!;
    expect(created.params.success_url).to.match(/^http:\/\/localhost:3000\/\?checkout=success/);

    const delivered = await s.deliver(s.purchase(userId, listingId));
    expect(delivered.status).to.equal(200);
    // Back from Checkout (Stripe's success_url), in a fresh tab of the same browser profile: the
    // one that tried to reach Stripe is still busy failing to.
    await page.close();
    page = await page.context().newPage();
    await page.goto(`${UI}/?checkout=success`);
    await page.getByText('Thank you: your purchase is being confirmed.').waitFor();
    expect(await page.locator('#usage').innerText()).to.contain(`${title}: 40 of 40 units left (active)`);
    await shot(page, '3-entitled');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign out?' }).waitFor();
    await Promise.all([page.waitForURL(`${UI}/`), page.getByRole('button', { name: 'Sign out', exact: true }).click()]);
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    expect(await s.count('session', { userId }), 'the authorization server\'s session ended too').to.equal(0);
    expect(errors).to.deep.equal([]);
  });
});
