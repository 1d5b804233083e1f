import { expect } from 'chai';
import * as oidc from 'openid-client';
import { HttpBrowser, LOGIN_FORM } from '../helpers/http-browser.js';
import { authzEnv, type AuthzEnv, type AuthzServer } from '../helpers/authz.js';
import { linkIn, mailFor as outboxMail } from '../helpers/outbox.js';
import { PASSWORD, REDIRECT, authorize, discover, signedInTokens } from './oidc.flow.js';

describe('accounts: sign-up, verification, sign-in and password reset', function () {
  this.timeout(120_000);
  let env: AuthzEnv;
  let server: AuthzServer;
  let issuer: string;
  let config: oidc.Configuration;

  before(async () => {
    env = await authzEnv('sqlite');
    server = await env.start();
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

  it('takes statistically indistinguishable time at sign-in for an unknown email and a wrong password', async () => {
    const samples = async (email: string) => {
      const out: number[] = [];
      for (let i = 0; i < 30; i++) {
        const t0 = process.hrtime.bigint();
        await (await signInApi(email, 'wrong password 1234')).text();
        out.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      return out.sort((x, y) => x - y)[15]!;
    };
    await samples('taken@example.com'); // warm up
    const unknownMedian = await samples('nobody-at-all@example.com');
    const wrongMedian = await samples('taken@example.com');
    // Both paths run one scrypt hash; without the dummy hash the unknown path would be far faster.
    expect(Math.abs(unknownMedian - wrongMedian), `unknown ${unknownMedian} ms, wrong ${wrongMedian} ms`).to.be.lessThan(Math.max(unknownMedian, wrongMedian) * 0.5);
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

  it('takes statistically indistinguishable time to sign up a new and a taken address', async () => {
    const sample = async (email: (i: number) => string) => {
      const out: number[] = [];
      for (let i = 0; i < 30; i++) {
        const t0 = process.hrtime.bigint();
        expect((await signUp({ name: 'T', email: email(i), password: PASSWORD })).status).to.equal(202);
        out.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      return out.sort((x, y) => x - y)[15]!;
    };
    const fresh = await sample((i) => `timing-${i}-${Date.now()}@example.com`);
    const taken = await sample(() => 'taken@example.com');
    expect(Math.abs(fresh - taken), `new ${fresh} ms, taken ${taken} ms`).to.be.lessThan(Math.max(fresh, taken) * 0.5);
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
    expect(page.text).to.contain('href="/account/forgot-password"').and.to.contain('href="/account/sign-up"');
    const signup = await new HttpBrowser().request(`${issuer}/account/sign-up`);
    expect(signup.text).to.contain('<label for="email">Email</label>').and.to.contain('<button type="submit">Create account</button>');
  });
});
