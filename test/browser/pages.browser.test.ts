import { expect } from 'chai';
import { listenLoopback } from '../helpers/loopback.js';
import * as oidc from 'openid-client';
import * as OTPAuth from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { startSystem, type System, type Service } from '../helpers/system.js';
import { mailLink as outboxLink, outbox } from '../helpers/outbox.js';
import { HAS_CHROMIUM, CHROMIUM, launch } from '../helpers/browser.js';
import { discover } from '../authz-server/oidc.flow.js';
import { VIEWPORTS, checkPage, openPage, type Viewport } from './page-checks.js';

const PASSWORD = 'a very long passphrase 42';
const MARKETPLACE = 'https://marketplace.example';

/**
 * Every page a person meets, in Chromium at a desktop width and at 390 px: the account area's
 * own sign-in, the way back from every terminal page, a new confirmation mail after a failed
 * sign-in, two-factor enrolment that survives a wrong code, the account page, sign-up's field
 * errors, error pages and 404s. Each page is screenshotted (test-artifacts/pages-*.png) and
 * checked by axe-core (page-checks.ts).
 */
(HAS_CHROMIUM ? describe : describe.skip)(`browser: pages in Chromium${HAS_CHROMIUM ? '' : ` — skipped: no Chromium at ${CHROMIUM}`}`, function () {
  this.timeout(180_000);
  let env: System;
  let server: Service;
  let browser: Browser;
  let config: oidc.Configuration;
  let callback: Awaited<ReturnType<typeof listenLoopback>>;
  let redirect: string; // the agent's loopback redirect URI, on a port of this file's own
  const consoleErrors: string[] = [];

  before(async () => {
    env = await startSystem({ backend: 'sqlite', env: { FRONTEND_URL: MARKETPLACE }, authz: 0, hosting: 'process' });
    server = await env.startAuthz();
    callback = await listenLoopback('/callback');
    redirect = callback.url;
    await env.createClient({ clientId: 'agent', name: 'Agent CLI', type: 'public', redirectUris: [redirect], postLogoutRedirectUris: [], scopes: ['openid', 'offline_access', 'email'] });
    config = await discover(server.issuer, 'agent');
    browser = await launch();
  });
  after(async () => {
    await callback?.close();
    await browser?.close();
    await env?.close();
  });
  afterEach(() => expect(consoleErrors.splice(0), 'console errors').to.deep.equal([]));

  const url = (p: string) => `${server.issuer}${p}`;
  const mailLink = (to: string, kind: string) => outboxLink(env.env.DATA_DIR!, to, kind);
  const mails = async (to: string, kind: string) => (await outbox(env.env.DATA_DIR!)).filter((m) => m.to === to && m.kind === kind).length;

  const newPage = (vp: Viewport) => openPage(browser, vp, consoleErrors);
  async function signIn(page: Page, email: string, password = PASSWORD) {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  async function startAuthorization(page: Page) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const u = oidc.buildAuthorizationUrl(config, { redirect_uri: redirect, scope: 'openid email', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, prompt: 'consent' });
    await page.goto(u.href);
    return { verifier, state };
  }
  const heading = (page: Page, name: string) => page.getByRole('heading', { name, exact: true }).waitFor();
  const hrefOf = (page: Page, name: string) => page.getByRole('link', { name, exact: true }).getAttribute('href');

  for (const vp of VIEWPORTS) {
    describe(`at ${vp.width} px`, () => {
      const who = (name: string) => `${name}-${vp.name}@example.com`;

      it('GET / and unknown paths: HTML pages for browsers, the JSON error for API clients', async () => {
        const { context, page } = await newPage(vp);
        const home = await page.goto(url('/'));
        expect([home!.status(), home!.headers()['content-type']]).to.deep.equal([200, 'text/html; charset=utf-8']);
        await heading(page, 'Portcullis');
        expect(await hrefOf(page, 'Sign in to your account')).to.equal('/account/sign-in');
        expect(await hrefOf(page, 'Go to the marketplace')).to.equal(MARKETPLACE);
        await checkPage(page, vp, 'home');
        const missing = await page.goto(url('/no-such-page'));
        expect(missing!.status()).to.equal(404);
        await heading(page, 'Page not found');
        expect(await page.locator('main code').textContent()).to.equal(missing!.headers()['x-request-id']);
        await checkPage(page, vp, 'not-found');
        await context.close();

        for (const path of ['/', '/no-such-page']) {
          for (const accept of [undefined, 'application/json', '*/*']) {
            const res = await fetch(url(path), { headers: accept ? { accept } : {} });
            const body = (await res.json()) as { error: { requestId: string } };
            expect([res.status, res.headers.get('content-type'), body], `${path} ${accept}`).to.deep.equal([
              404, 'application/json; charset=utf-8', { error: { code: 'NOT_FOUND', message: 'No such resource.', requestId: res.headers.get('x-request-id') } },
            ]);
          }
        }
      });

      it('the account area signs in without an application; every terminal page offers the next step', async () => {
        await env.createUser({ email: who('ada'), password: PASSWORD });
        const { context, page } = await newPage(vp);
        await page.goto(url('/account'));
        await heading(page, 'Sign in first');
        await checkPage(page, vp, 'sign-in-required');
        await page.getByRole('link', { name: 'Sign in to your account' }).click();
        await heading(page, 'Sign in');
        expect(await page.getByText('to manage your Portcullis account').count()).to.equal(1);
        expect(await hrefOf(page, 'Create an account')).to.equal('/account/sign-up');
        await checkPage(page, vp, 'account-sign-in');
        await signIn(page, who('ada'), 'not the password at all');
        await page.getByText('Incorrect email or password.').waitFor();
        expect(await hrefOf(page, 'Send it again')).to.equal('/account/confirm-email');
        await checkPage(page, vp, 'account-sign-in-failed');
        await signIn(page, who('ada'));
        await page.waitForURL(url('/account'));
        await heading(page, 'Your account');
        await checkPage(page, vp, 'account');

        // Sessions by browser and OS, never the raw user agent; this one marked.
        const session = (await page.locator('.sessions li').textContent())!;
        expect(session).to.match(/^Chrome \d+ on Linux — this device \(this browser\)/);
        expect(await page.locator('main').textContent()).not.to.contain('Mozilla/5.0');
        expect(await hrefOf(page, '← Back to the marketplace')).to.equal(MARKETPLACE);
        // Both sign-out buttons side by side, inside the card.
        const [out, everywhere, main] = await Promise.all([
          page.getByRole('button', { name: 'Sign out', exact: true }).boundingBox(),
          page.getByRole('button', { name: 'Sign out everywhere' }).boundingBox(),
          page.locator('main').boundingBox(),
        ]);
        expect(Math.abs(out!.y - everywhere!.y), 'same row').to.be.lessThan(1);
        expect(out!.height).to.equal(everywhere!.height);
        expect(everywhere!.x).to.be.greaterThan(out!.x + out!.width);
        expect(everywhere!.x + everywhere!.width).to.be.at.most(main!.x + main!.width);

        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        await heading(page, 'Signed out');
        expect(await hrefOf(page, 'Back to the marketplace')).to.equal(MARKETPLACE);
        await checkPage(page, vp, 'signed-out');
        await page.getByRole('link', { name: 'Sign in again' }).click();
        await signIn(page, who('ada'));
        await page.waitForURL(url('/account'));
        await page.getByRole('button', { name: 'Sign out everywhere' }).click();
        await heading(page, 'Signed out everywhere');
        await checkPage(page, vp, 'signed-out-everywhere');
        await page.getByRole('link', { name: 'Sign in again' }).click();
        await heading(page, 'Sign in');
        await context.close();
      });

      it('sign-up shows every field\'s error at once, next to its field; sign-up and sign-in link to each other', async () => {
        const { context, page } = await newPage(vp);
        await page.goto(url('/account/sign-up'));
        await checkPage(page, vp, 'sign-up');
        await page.getByLabel('Email').fill('not-an-email');
        await page.getByLabel('Password').fill('short');
        await page.getByRole('button', { name: 'Create account' }).click();
        await page.getByText('Check the 3 problems below.').waitFor();
        const described = async (label: string) => {
          const input = page.getByLabel(label, { exact: true });
          expect(await input.getAttribute('aria-invalid'), label).to.equal('true');
          const ids = (await input.getAttribute('aria-describedby'))!.split(' ');
          return (await Promise.all(ids.map((id) => page.locator(`#${id}`).textContent()))).join(' ');
        };
        expect(await described('Name')).to.equal('Enter your name.');
        expect(await described('Email')).to.equal('Enter a valid email address.');
        expect(await described('Password')).to.match(/^The password must be at least 12 characters\./);
        expect(await page.getByLabel('Email').inputValue()).to.equal('not-an-email');
        await checkPage(page, vp, 'sign-up-errors');
        await page.getByRole('link', { name: 'Sign in', exact: true }).click();
        await heading(page, 'Sign in');
        await page.getByRole('link', { name: 'Create an account' }).click();
        await heading(page, 'Create an account');
        await context.close();
      });

      it('the application\'s sign-in leads to sign-up and back to the same authorization request', async () => {
        const { context, page } = await newPage(vp);
        const flow = await startAuthorization(page);
        await heading(page, 'Sign in');
        const signInUrl = page.url();
        await checkPage(page, vp, 'interaction-sign-in');
        await page.getByRole('link', { name: 'Create an account' }).click();
        await heading(page, 'Create an account');
        await page.getByLabel('Name').fill('Nell');
        await page.getByLabel('Email').fill(who('nell'));
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Create account' }).click();
        await heading(page, 'Check your email');
        await checkPage(page, vp, 'sign-up-sent');
        const back = await hrefOf(page, 'Continue signing in');
        expect(url(back!)).to.equal(`${signInUrl}/`);

        await page.goto(await mailLink(who('nell'), 'verify-email'));
        await heading(page, 'Email confirmed');
        expect(await hrefOf(page, 'Sign in to your account')).to.equal('/account/sign-in');
        await checkPage(page, vp, 'verified');
        await page.goto(url(back!));
        await heading(page, 'Sign in');
        expect(await page.getByText('to continue to Agent CLI').count()).to.equal(1);
        await signIn(page, who('nell'));
        await heading(page, 'Allow access?');
        await checkPage(page, vp, 'consent');
        await Promise.all([page.waitForURL(`${redirect}**`), page.getByRole('button', { name: 'Allow' }).click()]);
        const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
        const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
        expect(info.email).to.equal(who('nell'));

        // RP-initiated logout: the confirmation and the signed-out page, which leads on.
        await page.goto(url(`/session/end?client_id=agent`));
        await heading(page, 'Sign out?');
        await checkPage(page, vp, 'logout-confirm');
        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        await heading(page, 'Signed out');
        expect(await hrefOf(page, 'Sign in to your account')).to.equal('/account/sign-in');
        await checkPage(page, vp, 'logout-done');
        await context.close();
      });

      it('a failed sign-in offers a new confirmation mail; an unconfirmed account gets one and can then sign in', async () => {
        const email = who('una');
        const signUp = await fetch(url('/account/sign-up'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Una', email, password: PASSWORD }) });
        expect(signUp.status).to.equal(202);
        await mailLink(email, 'verify-email'); // the sign-up's own mail leaves off the request path
        const before = await mails(email, 'verify-email');
        const { context, page } = await newPage(vp);
        await startAuthorization(page);
        await signIn(page, email);
        await page.getByText('Incorrect email or password.').waitFor();
        await checkPage(page, vp, 'interaction-sign-in-failed');
        await page.getByRole('link', { name: 'Send it again' }).click();
        await heading(page, 'Send the confirmation link again');
        await checkPage(page, vp, 'confirm-email');
        await page.getByLabel('Email').fill(email);
        await page.getByRole('button', { name: 'Send the link' }).click();
        await heading(page, 'Check your email');
        await checkPage(page, vp, 'confirm-email-sent');
        for (let i = 0; i < 100 && (await mails(email, 'verify-email')) === before; i++) await new Promise((r) => setTimeout(r, 50));
        expect(await mails(email, 'verify-email')).to.equal(before + 1);
        await page.goto(await mailLink(email, 'verify-email'));
        await heading(page, 'Email confirmed');
        await page.getByRole('link', { name: 'Sign in to your account' }).click();
        await signIn(page, email);
        await page.waitForURL(url('/account'));
        await context.close();
      });

      it('two-factor enrolment: the key for manual entry, a wrong code keeps the same setup, then the account\'s own sign-in asks for the code', async () => {
        const email = who('tess');
        await env.createUser({ email, password: PASSWORD });
        const { context, page } = await newPage(vp);
        await page.goto(url('/account/sign-in'));
        await signIn(page, email);
        await page.waitForURL(url('/account'));
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
        await heading(page, 'Set up two-factor authentication');
        await checkPage(page, vp, 'enrol');
        const setup = async () => ({
          link: await page.getByLabel('Setup link').inputValue(),
          key: (await page.locator('#setup-key').textContent())!,
          qr: await page.getByRole('img', { name: 'QR code for your authenticator app' }).getAttribute('src'),
          codes: await page.locator('#backup-codes code').allTextContents(),
        });
        const first = await setup();
        const totp = OTPAuth.URI.parse(first.link) as OTPAuth.TOTP;
        expect(first.key.replaceAll(' ', '')).to.equal(totp.secret.base32);
        expect(first.codes).to.have.length(10);

        // Someone holding only the session cookie (not this browser's setup mark) sees no secret.
        const thief = await browser.newContext();
        await thief.addCookies((await context.cookies()).filter((c) => c.name.includes('session_token')));
        const thiefPage = await thief.newPage();
        await thiefPage.goto(url('/account'));
        const token = await thiefPage.locator('form[action="/account/2fa/enable"] input[name=_csrf]').getAttribute('value');
        const stolen = await thiefPage.request.post(url('/account/2fa/verify'), { form: { _csrf: token!, code: '000000' }, headers: { origin: server.issuer } });
        const stolenText = await stolen.text();
        expect(stolenText).to.contain('That code is not valid. Start the setup again.');
        expect(stolenText).not.to.contain(totp.secret.base32);
        for (const code of first.codes) expect(stolenText).not.to.contain(code);
        await thief.close();

        await page.getByLabel('Authentication code').fill(String((Number(totp.generate()) + 1) % 1_000_000).padStart(6, '0'));
        await page.getByRole('button', { name: 'Turn on' }).click();
        await page.getByText('That code is not valid.').waitFor();
        await heading(page, 'Set up two-factor authentication');
        expect(await setup()).to.deep.equal(first);
        await checkPage(page, vp, 'enrol-retry');
        await page.getByLabel('Authentication code').fill(totp.generate());
        await page.getByRole('button', { name: 'Turn on' }).click();
        await page.getByText('Two-factor authentication is on.').first().waitFor();

        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        await page.getByRole('link', { name: 'Sign in again' }).click();
        await signIn(page, email);
        await heading(page, 'Two-factor authentication');
        await checkPage(page, vp, 'account-totp');
        await page.getByLabel('Authentication code').fill('000000');
        await page.getByRole('button', { name: 'Verify' }).click();
        await page.getByText('That code is not valid. Try again.').waitFor();
        await page.getByLabel('Authentication code').fill(totp.generate());
        await page.getByRole('button', { name: 'Verify' }).click();
        await page.waitForURL(url('/account'));
        await page.getByText('Two-factor authentication is on.').first().waitFor();
        await context.close();
      });

      it('error pages: a title and a next step for people, the request id, the provider\'s words folded away for the developer', async () => {
        const { context, page } = await newPage(vp);
        const res = await page.goto(url(`/auth?client_id=agent&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://evil.example/cb')}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`));
        expect(res!.status()).to.equal(400);
        await heading(page, 'This application is not set up correctly');
        expect(await page.getByRole('alert').textContent()).to.contain('Tell the application\'s developer');
        expect(await page.locator('main p.muted code').textContent()).to.equal(res!.headers()['x-request-id']);
        const details = page.locator('details');
        expect(await details.getAttribute('open')).to.equal(null);
        expect(await details.textContent()).to.contain('invalid_redirect_uri').and.to.contain('redirect_uri did not match any of the client\'s registered redirect_uris');
        expect(await page.getByText('redirect_uri did not match').isVisible()).to.equal(false);
        expect(await hrefOf(page, 'Go to your account')).to.equal('/account');
        await checkPage(page, vp, 'error-redirect-uri');
        await page.goto(url('/auth?client_id=no-such-client&response_type=code&scope=openid'));
        await heading(page, 'Unknown application');
        await checkPage(page, vp, 'error-unknown-client');

        await page.goto(url('/interaction/not-a-real-uid'));
        await heading(page, 'Sign-in expired');
        expect(await hrefOf(page, 'Go to the Portcullis start page')).to.equal('/');
        await checkPage(page, vp, 'interaction-expired');
        await page.goto(url('/account/verified?error=invalid_token'));
        await heading(page, 'Link expired');
        expect(await hrefOf(page, 'Send a new confirmation link')).to.equal('/account/confirm-email');
        await checkPage(page, vp, 'verify-link-expired');
        await page.goto(url('/account/reset-password'));
        await heading(page, 'Link expired');
        expect(await hrefOf(page, 'Ask for a new reset link')).to.equal('/account/forgot-password');
        await checkPage(page, vp, 'reset-link-expired');
        await context.close();
      });

      it('password reset pages: forgot, sent, new password, changed — each leads on', async () => {
        const email = who('rex');
        await env.createUser({ email, password: PASSWORD });
        const { context, page } = await newPage(vp);
        await page.goto(url('/account/forgot-password'));
        await checkPage(page, vp, 'forgot-password');
        await page.getByLabel('Email').fill(email);
        await page.getByRole('button', { name: 'Send reset link' }).click();
        await heading(page, 'Check your email');
        await checkPage(page, vp, 'forgot-password-sent');
        await page.goto(await mailLink(email, 'reset-password'));
        await heading(page, 'Choose a new password');
        await checkPage(page, vp, 'reset-password');
        await page.getByLabel('New password').fill('an entirely new passphrase');
        await page.getByRole('button', { name: 'Change password' }).click();
        await heading(page, 'Password changed');
        await checkPage(page, vp, 'password-changed');
        await page.getByRole('link', { name: 'Sign in to your account' }).click();
        await signIn(page, email, 'an entirely new passphrase');
        await page.waitForURL(url('/account'));
        await context.close();
      });
    });
  }
});
