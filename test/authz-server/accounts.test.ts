import { expect } from 'chai';
import * as oidc from 'openid-client';
import { HttpBrowser, LOGIN_FORM } from '../helpers/http-browser.js';
import { startSystem, type System, type Service } from '../helpers/system.js';
import { linkIn, mailFor as outboxMail, outbox } from '../helpers/outbox.js';
import { describeDevice } from '#authz/pages/device.js';
import { HOSTILE_STRINGS, body, enc, mulberry32, type Body } from '../reliability/fuzz/corpus.js';
import { PASSWORD, REDIRECT, authorize, discover, signedInTokens } from './oidc.flow.js';

describe('accounts: sign-up, verification, sign-in and password reset', function () {
  this.timeout(120_000);
  let env: System;
  let server: Service;
  let issuer: string;
  let config: oidc.Configuration;

  before(async () => {
    env = await startSystem({ backend: 'sqlite', authz: 0 });
    server = await env.startAuthz();
    issuer = server.issuer;
    await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'] });
    await env.createUser({ email: 'taken@example.com', password: PASSWORD });
    config = await discover(issuer, 'agent');
  });
  after(() => env?.close());

  /** Mail leaves off the request path: waits until the latest `kind` message for `to` arrives. */
  const mailFor = (to: string, kind: string) => outboxMail(env.env.DATA_DIR!, to, kind);
  const signUp = (body: Record<string, string>) =>
    fetch(`${issuer}/account/sign-up`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const signInApi = (email: string, password: string) =>
    fetch(`${issuer}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: issuer }, body: JSON.stringify({ email, password }) });

  it('answers a sign-up for a new and for a taken address byte for byte the same, and mails each owner', async () => {
    const fresh = await signUp({ name: 'Nina', email: 'nina@example.com', password: PASSWORD });
    const taken = await signUp({ name: 'Mallory', email: 'taken@example.com', password: 'another long passphrase' });
    expect(fresh.status).to.equal(202);
    expect(taken.status).to.equal(202);
    const [a, b] = [await fresh.text(), await taken.text()];
    expect(a).to.equal('{"status":"verification_email_sent"}');
    expect(b).to.equal(a);
    for (const h of ['content-type', 'content-length', 'cache-control', 'set-cookie']) expect(taken.headers.get(h), h).to.equal(fresh.headers.get(h));
    expect((await mailFor('nina@example.com', 'verify-email')).text).to.contain('/api/auth/verify-email?token=');
    expect((await mailFor('taken@example.com', 'sign-up-existing')).subject).to.equal('Someone tried to register with your email address');
    const takenRows = await env.db('user').where({ email: 'taken@example.com' });
    expect(takenRows).to.have.length(1);
  });

  it('refuses a NUL in the email or password as bad input (400), on the JSON API and the sign-in page, before any lookup', async () => {
    for (const [email, password] of [['taken\u0000@example.com', PASSWORD], ['taken@example.com', `${PASSWORD}\u0000`]] as const) {
      const res = await signInApi(email, password);
      expect(res.status).to.equal(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('UNSUPPORTED_CHARACTER');
    }
    const browser = new HttpBrowser();
    const { page } = await authorize(config, browser, { signIn: false });
    const refused = await browser.submit(page, LOGIN_FORM, { email: 'taken\u0000@example.com', password: PASSWORD }, issuer);
    expect(refused.status).to.equal(400);
    expect(LOGIN_FORM.test(refused.text)).to.equal(true);
    expect(await env.db('audit_log').where({ event: 'sign_in.failed' }).whereRaw("properties like '%http_5%'")).to.deep.equal([]);
  });

  it('keeps an unverified account out, with the same answer as a wrong password, until the link is followed', async () => {
    await signUp({ name: 'Vera', email: 'vera@example.com', password: PASSWORD });
    const unverified = await signInApi('vera@example.com', PASSWORD);
    const wrong = await signInApi('taken@example.com', 'wrong password 1234');
    const unknown = await signInApi('nobody@example.com', PASSWORD);
    expect(unverified.status).to.equal(401);
    const bodies = [await unverified.text(), await wrong.text(), await unknown.text()];
    expect(bodies[0]).to.equal(bodies[1]);
    expect(bodies[2]).to.equal(bodies[1]);
    expect(wrong.status).to.equal(401);
    expect(unknown.status).to.equal(401);

    const link = linkIn(await mailFor('vera@example.com', 'verify-email'));
    const browser = new HttpBrowser();
    const landed = await browser.get(link, new URL(issuer).origin);
    expect(landed.status).to.equal(200);
    expect(landed.text).to.contain('Email confirmed');
    expect((await signInApi('vera@example.com', PASSWORD)).status).to.equal(200);
    const tokens = await signedInTokens(config, new HttpBrowser(), { email: 'vera@example.com' });
    expect(tokens.access_token).to.be.a('string');
  });

  it('refuses weak passwords and malformed addresses at sign-up with 400, storing nothing', async () => {
    const before = await env.db('user').count({ n: '*' });
    for (const body of [{ name: 'A', email: 'a@example.com', password: 'short' }, { name: 'A', email: 'not-an-email', password: PASSWORD }, { name: '', email: 'b@example.com', password: PASSWORD }]) {
      const res = await signUp(body);
      expect(res.status).to.equal(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('VALIDATION_FAILED');
    }
    expect(await env.db('user').count({ n: '*' })).to.deep.equal(before);
  });

  it('answers a common password on the JSON sign-up with 400 VALIDATION_FAILED, the refusal and zxcvbn\'s advice, storing nothing', async () => {
    const before = await env.db('user').count({ n: '*' });
    const res = await signUp({ name: 'Pat', email: 'pat@example.com', password: 'password123456' });
    expect(res.status).to.equal(400);
    const body = (await res.json()) as { error: { requestId: string } };
    expect(body.error.requestId).to.be.a('string');
    expect(body).to.deep.equal({
      error: {
        code: 'VALIDATION_FAILED',
        message: 'The password is too easy to guess.',
        requestId: body.error.requestId,
        details: { field: 'password', warning: 'This is similar to a commonly used password.', suggestions: ['Add more words that are less common.'] },
      },
    });
    expect(await env.db('user').count({ n: '*' })).to.deep.equal(before);
  });

  it('resets a password with a single-use link, revoking the user\'s sessions and refresh tokens', async () => {
    await env.createUser({ email: 'rita@example.com', password: PASSWORD });
    const browser = new HttpBrowser();
    const tokens = await signedInTokens(config, browser, { email: 'rita@example.com' });
    const res = await fetch(`${issuer}/account/forgot-password`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=rita%40example.com' });
    const unknown = await fetch(`${issuer}/account/forgot-password`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=ghost%40example.com' });
    expect(res.status).to.equal(202);
    // Identical pages but for the per-response CSP nonce.
    const withoutNonce = async (r: Response) => (await r.text()).replace(/nonce="[^"]+"/g, 'nonce');
    expect(await withoutNonce(unknown)).to.equal(await withoutNonce(res));

    const link = linkIn(await mailFor('rita@example.com', 'reset-password'));
    const form = await new HttpBrowser().get(link, new URL(issuer).origin);
    const token = /name="token" value="([^"]+)"/.exec(form.text)?.[1];
    expect(token, form.text.slice(0, 300)).to.be.a('string');
    const post = (password: string) => fetch(`${issuer}/account/reset-password`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: token!, password }) });
    const done = await post('a brand new passphrase');
    expect(done.status).to.equal(200);
    expect(await done.text()).to.contain('Password changed');
    expect((await post('yet another passphrase')).status).to.equal(400);

    const refresh = await oidc.refreshTokenGrant(config, tokens.refresh_token!).then(() => 'worked', (e: oidc.ResponseBodyError) => e.error);
    expect(refresh).to.equal('invalid_grant');
    const session = await browser.request(`${issuer}/api/auth/get-session`, { headers: { accept: 'application/json' } });
    expect(JSON.parse(session.text)).to.equal(null);
    expect((await signInApi('rita@example.com', PASSWORD)).status).to.equal(401);
    expect((await signInApi('rita@example.com', 'a brand new passphrase')).status).to.equal(200);
  });

  it('refuses a password-only sign-in to a client that demands two-factor (acr_values=loa:2)', async () => {
    await env.createUser({ email: 'one-factor@example.com', password: PASSWORD });
    const { callback } = await authorize(config, new HttpBrowser(), { email: 'one-factor@example.com', extra: { acr_values: 'urn:portcullis:loa:2' } });
    expect(callback!.searchParams.get('error')).to.equal('access_denied');
    expect(callback!.searchParams.get('error_description')).to.contain('two-factor');
    const plain = await authorize(config, new HttpBrowser(), { email: 'one-factor@example.com', extra: { acr_values: 'urn:portcullis:loa:1' } });
    expect(plain.callback!.searchParams.get('code')).to.be.a('string');
  });

  it('lists the account\'s sessions, signs out one of them, and signs out everywhere', async () => {
    await env.createUser({ email: 'multi@example.com', password: PASSWORD });
    const [laptop, phone] = [new HttpBrowser(), new HttpBrowser()];
    const laptopTokens = await signedInTokens(config, laptop, { email: 'multi@example.com' });
    await signedInTokens(config, phone, { email: 'multi@example.com' });
    const sessionOf = async (b: HttpBrowser) => JSON.parse((await b.request(`${issuer}/api/auth/get-session`, { headers: { accept: 'application/json' } })).text);
    const page = await laptop.request(`${issuer}/account`);
    expect(page.text.match(/<li>/g)).to.have.length(2);
    expect(page.text).to.contain('(this browser)');
    const id = /name="id" value="([^"]+)"/.exec(page.text)![1]!;
    const revoked = await laptop.request(`${issuer}/account/sessions/revoke`, { form: { id } });
    expect(revoked.status).to.equal(303);
    expect(await sessionOf(phone)).to.equal(null);
    expect((await sessionOf(laptop)).user.email).to.equal('multi@example.com');
    const other = await laptop.request(`${issuer}/account/sessions/revoke`, { form: { id: 'someone-elses-session' } });
    expect(other.text).to.contain('No such session.');

    const everywhere = await laptop.request(`${issuer}/account/sign-out-everywhere`, { form: {} });
    expect(everywhere.status).to.equal(200);
    expect(await sessionOf(laptop)).to.equal(null);
    const refresh = await oidc.refreshTokenGrant(config, laptopTokens.refresh_token!).then(() => 'worked', (e: oidc.ResponseBodyError) => e.error);
    expect(refresh).to.equal('invalid_grant');
  });

  it('does not let a password-only session satisfy a client that demands two-factor', async () => {
    await env.createUser({ email: 'sso@example.com', password: PASSWORD });
    const browser = new HttpBrowser();
    await signedInTokens(config, browser, { email: 'sso@example.com' });
    const plain = await authorize(config, browser, { signIn: false });
    expect(plain.page.text).not.to.match(LOGIN_FORM); // ordinary SSO
    const demanding = await authorize(config, browser, { signIn: false, extra: { acr_values: 'urn:portcullis:loa:2' } });
    expect(demanding.page.text).to.match(LOGIN_FORM);
  });

  it('keeps better-auth\'s own password endpoints closed: changes and resets go through the pages', async () => {
    for (const path of ['/api/auth/change-password', '/api/auth/reset-password', '/api/auth/request-password-reset', '/api/auth/sign-up/email']) {
      const res = await fetch(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: issuer }, body: JSON.stringify({ email: 'taken@example.com', newPassword: 'password1234', currentPassword: PASSWORD, token: 'x', password: PASSWORD, name: 'x' }) });
      expect(res.status, path).to.equal(404);
    }
  });

  it('links the sign-in page to sign-up and password reset', async () => {
    const { page } = await authorize(config, new HttpBrowser(), { signIn: false });
    expect(page.text).to.match(LOGIN_FORM);
    const uid = /\/interaction\/([^/"]+)\/login/.exec(page.text)![1]!;
    expect(page.text).to.contain('href="/account/forgot-password"').and.to.contain(`href="/account/sign-up?return_to=/interaction/${uid}/"`);
    const signup = await new HttpBrowser().request(`${issuer}/account/sign-up?return_to=/interaction/${uid}/`);
    expect(signup.text).to.contain('<label for="email">Email</label>').and.to.contain('<button type="submit">Create account</button>');
    expect(signup.text).to.contain(`<input type="hidden" name="return_to" value="/interaction/${uid}/">`).and.to.contain(`Already have an account? <a href="/interaction/${uid}/">Sign in</a>`);
  });

  it('takes only an interaction of ours as the way back from sign-up (a link, never elsewhere)', async () => {
    for (const back of ['https://evil.example/', '//evil.example/', '/interaction/x/../../evil', 'javascript:alert(1)']) {
      const page = await new HttpBrowser().request(`${issuer}/account/sign-up?return_to=${encodeURIComponent(back)}`);
      expect(page.text, back).not.to.contain('name="return_to"');
      expect(page.text, back).to.contain('Already have an account? <a href="/account/sign-in">Sign in</a>');
      const posted = await fetch(`${issuer}/account/sign-up`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ name: 'Bo', email: 'back@example.com', password: PASSWORD, return_to: back }) });
      expect(posted.status).to.equal(202);
      const text = await posted.text();
      expect(text, back).not.to.contain('evil');
      expect(text, back).to.contain('href="/account/sign-in"');
    }
  });

  it('shows every sign-up field\'s error at once, each named by its field\'s aria-describedby; the JSON answer keeps the first', async () => {
    const form = await fetch(`${issuer}/account/sign-up`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ name: '', email: 'not-an-email', password: 'short' }) });
    expect(form.status).to.equal(400);
    const text = await form.text();
    expect(text).to.contain('<p class="error" role="alert" id="form-error">Check the 3 problems below.</p>');
    expect(text).to.contain('<input id="name" name="name" type="text" autocomplete="name" required value="" aria-invalid="true" aria-describedby="name-error">\n  <p id="name-error" class="field-error">Enter your name.</p>');
    expect(text).to.contain('<input id="email" name="email" type="email" autocomplete="email" required value="not-an-email" aria-invalid="true" aria-describedby="email-error">\n  <p id="email-error" class="field-error">Enter a valid email address.</p>');
    expect(text).to.contain('aria-invalid="true" aria-describedby="password-help">').and.to.match(/<p id="password-help" class="error">The password must be at least 12 characters\.[^<]*<\/p>/);
    const one = await fetch(`${issuer}/account/sign-up`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ name: 'Al', email: 'not-an-email', password: PASSWORD }) });
    const oneText = await one.text();
    expect(oneText).to.contain('<p class="error" role="alert" id="form-error">Enter a valid email address.</p>');
    expect(oneText).to.contain('value="Al">').and.not.to.contain('name-error').and.not.to.contain('aria-invalid="true" aria-describedby="password-help"');
    const json = await signUp({ name: '', email: 'not-an-email', password: 'short' });
    expect(((await json.json()) as { error: { message: string } }).error.message).to.equal('Enter your name.');
  });

  describe('a new confirmation mail (/account/confirm-email)', () => {
    const resend = (email: string, base = issuer, json = false) =>
      fetch(`${base}/account/confirm-email`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(json ? { accept: 'application/json', 'content-type': 'application/json' } : {}) }, body: json ? JSON.stringify({ email }) : new URLSearchParams({ email }) });
    const observable = async (res: Response) => {
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        if (k !== 'date' && k !== 'x-request-id') headers[k] = v.replace(/nonce-[A-Za-z0-9+/=]+/g, 'nonce');
      });
      return { status: res.status, headers, body: (await res.text()).replace(/nonce="[^"]+"/g, 'nonce') };
    };
    const verifyMails = async (to: string) => (await outbox(env.env.DATA_DIR!)).filter((m) => m.to === to && m.kind === 'verify-email').length;

    it('answers an unknown, a confirmed and an unconfirmed address identically (status, headers, body), page and JSON, and mails only the unconfirmed one', async () => {
      await signUp({ name: 'Ulla', email: 'ulla@example.com', password: PASSWORD });
      await mailFor('ulla@example.com', 'verify-email');
      const before = { ulla: await verifyMails('ulla@example.com'), taken: await verifyMails('taken@example.com') };
      for (const json of [false, true]) {
        const seen = [];
        for (const email of ['ulla@example.com', 'taken@example.com', 'noone@example.com']) seen.push(await observable(await resend(email, issuer, json)));
        expect(seen[0]!.status).to.equal(202);
        expect(seen[1], `confirmed, json ${json}`).to.deep.equal(seen[0]);
        expect(seen[2], `unknown, json ${json}`).to.deep.equal(seen[0]);
        if (json) expect(seen[0]!.body).to.equal('{"status":"verification_email_sent"}');
        else expect(seen[0]!.body).to.contain('Check your email').and.to.contain('href="/account/sign-in"');
      }
      for (let i = 0; i < 100 && (await verifyMails('ulla@example.com')) < before.ulla + 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await verifyMails('ulla@example.com')).to.equal(before.ulla + 2);
      expect(await verifyMails('taken@example.com')).to.equal(before.taken);
      expect(await verifyMails('noone@example.com')).to.equal(0);
      const link = linkIn(await mailFor('ulla@example.com', 'verify-email'));
      expect((await new HttpBrowser().get(link, new URL(issuer).origin)).text).to.contain('Email confirmed');
      expect((await signInApi('ulla@example.com', PASSWORD)).status).to.equal(200);
    });

    it('refuses a malformed address with 400 and the form, before any lookup', async () => {
      for (const email of ['', 'no-at-sign', 'a\u0000@example.com', 'two words@example.com']) {
        const res = await resend(email);
        expect(res.status, JSON.stringify(email)).to.equal(400);
        expect(await res.text()).to.contain('Enter a valid email address.');
      }
    });

    it('counts against verify-mail:recipient (per address) and verify-mail:ip: 429 with Retry-After, the same for every address', async () => {
      const strict = await env.startAuthz({ RATE_LIMIT_MULTIPLIER: '1' });
      try {
        const statuses = [];
        for (let i = 0; i < 4; i++) statuses.push((await resend('ulla@example.com', strict.url)).status);
        expect(statuses).to.deep.equal([202, 202, 202, 429]); // verify-mail:recipient holds 3
        const limited = await resend('noone@example.com', strict.url);
        expect(limited.status).to.equal(202); // another address: its own bucket; the address's 5th request overall
        const ip = await resend('third@example.com', strict.url);
        expect(ip.status).to.equal(429); // verify-mail:ip holds 5
        expect(ip.headers.get('retry-after')).to.match(/^\d+$/);
        expect(await ip.text()).to.contain('Too many requests. Try again in');
      } finally {
        await strict.stop();
      }
    });
  });

  describe('the account\'s own sign-in (/account/sign-in)', () => {
    /** Loads the sign-in page (its form token and cookie), then posts the form as Chromium would. */
    async function accountSignIn(email: string, password: string) {
      const browser = new HttpBrowser();
      await browser.request(`${issuer}/account/sign-in`);
      return { browser, page: await browser.request(`${issuer}/account/sign-in`, { form: { email, password } }) };
    }

    it('answers unknown, wrong-password and unverified accounts identically, with the new-confirmation line', async () => {
      await signUp({ name: 'Vic', email: 'vic-account@example.com', password: PASSWORD });
      const seen = [];
      for (const [email, password] of [['nobody-acct@example.com', PASSWORD], ['taken@example.com', 'wrong password 1234'], ['vic-account@example.com', PASSWORD]] as const) {
        const { page } = await accountSignIn(email, password);
        seen.push({ status: page.status, setCookie: page.headers.getSetCookie().filter((c) => !c.includes('csrf')), body: page.text.replace(/nonce="[^"]+"/g, 'nonce').replace(/name="_csrf" value="[^"]+"/g, '_csrf').replaceAll(email, 'EMAIL') });
      }
      expect(seen[0]!.status).to.equal(401);
      expect(seen[0]!.body).to.contain('Incorrect email or password.').and.to.contain('Didn\'t get a confirmation mail? <a href="/account/confirm-email">Send it again</a>');
      expect(seen[1]).to.deep.equal(seen[0]);
      expect(seen[2]).to.deep.equal(seen[0]);
    });

    it('signs in and lands on /account; a signed-in visit to the sign-in page goes there too', async () => {
      const { browser, page } = await accountSignIn('taken@example.com', PASSWORD);
      expect([page.status, page.location]).to.deep.equal([303, `${issuer}/account`]);
      const account = await browser.request(`${issuer}/account`);
      expect(account.text).to.contain('Signed in as <strong>taken@example.com</strong>');
      const again = await browser.request(`${issuer}/account/sign-in`);
      expect([again.status, again.location]).to.deep.equal([303, `${issuer}/account`]);
    });

    it('refuses a post from another origin or without the form token (the interaction\'s guard)', async () => {
      const browser = new HttpBrowser();
      await browser.request(`${issuer}/account/sign-in`);
      const evil = await browser.request(`${issuer}/account/sign-in`, { form: { email: 'taken@example.com', password: PASSWORD }, headers: { origin: 'http://evil.example' } });
      expect([evil.status, /ORIGIN_NOT_ALLOWED/.test(evil.text)]).to.deep.equal([403, true]);
      const noToken = await browser.request(`${issuer}/account/sign-in`, { form: { _csrf: '', email: 'taken@example.com', password: PASSWORD } });
      expect([noToken.status, /CSRF_TOKEN_INVALID/.test(noToken.text)]).to.deep.equal([403, true]);
      for (const path of ['/account/sign-in', '/account/sign-in/totp']) {
        const res = await browser.request(`${issuer}${path}`, { form: { code: '000000' }, headers: { origin: 'http://evil.example' } });
        expect(res.status, path).to.equal(403);
      }
    });

    it('the code step takes only the pending two_factor cookie: a session alone gets "expired", not a code check', async () => {
      const { browser } = await accountSignIn('taken@example.com', PASSWORD);
      const res = await browser.request(`${issuer}/account/sign-in/totp`, { form: { code: '000000' } });
      expect(res.status).to.equal(400);
      expect(res.text).to.contain('This sign-in has expired. Sign in again.').and.to.contain('href="/account/sign-in"');
    });
  });

  it('answers hostile input to the account sign-in, its code step, sign-up and the confirmation form without a 5xx', async function () {
    this.timeout(120_000);
    const browser = new HttpBrowser();
    const page = await browser.request(`${issuer}/account/sign-in`);
    const _csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const cookie = await browser.jar.getCookieString(issuer);
    const rand = mulberry32(0x5eed);
    const post = (path: string, b: Body) => fetch(`${issuer}${path}`, { method: 'POST', headers: { origin: issuer, accept: 'text/html', cookie, ...(b.contentType ? { 'content-type': b.contentType } : {}) }, body: b.body, redirect: 'manual' });
    for (const path of ['/account/sign-in', '/account/sign-in/totp', '/account/sign-up', '/account/confirm-email']) {
      for (const value of HOSTILE_STRINGS) {
        const form = new URLSearchParams({ _csrf, email: value, password: value, code: value, name: value, return_to: value });
        const res = await post(path, { label: 'hostile fields', contentType: 'application/x-www-form-urlencoded', body: form.toString() });
        expect(res.status, `${path} ${JSON.stringify(value).slice(0, 40)}`).to.be.below(500);
        await res.arrayBuffer();
      }
      for (let i = 0; i < 20; i++) {
        const b = body(rand, ['email', 'password', 'code', 'name']);
        const res = await post(path, b);
        expect(res.status, `${path} ${b.label}`).to.be.below(500);
        await res.arrayBuffer();
      }
    }
    for (const value of HOSTILE_STRINGS) {
      const res = await fetch(`${issuer}/account/sign-up?return_to=${enc(value)}`, { headers: { accept: 'text/html' } });
      expect(res.status, JSON.stringify(value).slice(0, 40)).to.equal(200);
      expect(await res.text()).not.to.contain('name="return_to"');
    }
  });

  it('names sessions by browser and OS, never by the raw user agent', () => {
    expect(describeDevice('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36')).to.equal('Chrome 140 on Linux');
    expect(describeDevice('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1')).to.equal('Safari 17 on iOS 17.0');
    expect(describeDevice('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0')).to.equal('Firefox 128 on Windows 10');
    for (const ua of ['', '   ', 'node', 'curl/8.5.0', '<script>alert(1)</script>']) expect(describeDevice(ua), ua).to.equal('Unknown device');
  });
});
