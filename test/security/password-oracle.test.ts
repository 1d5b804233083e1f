import { expect } from 'chai';
import type { Service } from '../helpers/system.js';
import { HttpBrowser } from '../helpers/http-browser.js';
import { authorize } from '../authz-server/oidc.flow.js';
import { outbox } from '../helpers/outbox.js';
import { PASSWORD, describeEachBackend, setCookies, type Stack } from './stack.js';

/**
 * Threat: a stolen session cookie used as a password oracle (probe finding 3). better-auth
 * serves endpoints that check the account's password or second-factor code; behind a valid
 * session they answered "wrong" (400) and "right" (200) without any limit, so one cookie was
 * enough to guess the password or a TOTP code offline-fast. Every such endpoint that nothing of
 * ours calls over HTTP is closed (authz-server/better-auth-mount.ts → 404 NOT_FOUND); the checks
 * that remain count against token buckets of the address and of the account
 * (shared/rate-limit/rules.ts): the account page's password checks against sign-in:ip +
 * sign-in:account, every code check against sign-in:ip + totp:account.
 *
 * The limits are tested on an extra authz-server process at RATE_LIMIT_MULTIPLIER=1 behind a
 * trusted proxy (TRUST_PROXY=true), so that each test can be its own client address
 * (X-Forwarded-For) and start with full address buckets.
 */
const WRONG = 'not the password at all 42';

describeEachBackend('security: no password or code oracle behind a session', (stack) => {
  let s: Stack;
  let limited: Service;
  before(async function () {
    this.timeout(60_000);
    s = stack();
    limited = await s.env.startAuthz({ RATE_LIMIT_MULTIPLIER: '1', TRUST_PROXY: 'true' });
  });
  after(() => limited?.stop());

  /** An account with TOTP on, enrolled through the account page; the browser holds its fresh session. */
  const twoFactorAccount = (email: string) => s.twoFactorUser(email);

  /** Everything a password or factor change would touch, to prove that nothing changed. */
  async function accountState(userId: string) {
    const user = await s.db('user').select('email', 'twoFactorEnabled').where({ id: userId }).first();
    const factor = await s.db('twoFactor').select('secret', 'backupCodes').where({ userId }).first();
    const credential = await s.db('account').select('password').where({ userId, providerId: 'credential' }).first();
    return { user: { email: user?.email, twoFactorEnabled: Boolean(user?.twoFactorEnabled) }, factor, password: credential?.password, sessions: await s.count('session', { userId }) };
  }

  const authApi = (base: string, route: string, o: { cookie?: string; json?: unknown; ip?: string; method?: string } = {}) =>
    fetch(`${base}/api/auth${route}`, {
      method: o.method ?? 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', origin: s.issuer, ...(o.cookie ? { cookie: o.cookie } : {}), ...(o.ip ? { 'x-forwarded-for': o.ip } : {}) },
      body: JSON.stringify(o.json ?? {}),
    });

  it('closes every better-auth endpoint that checks a password or code: 404 NOT_FOUND with a valid session and the right password, nothing changed', async function () {
    this.timeout(60_000);
    const { userId, totp, browser } = await twoFactorAccount('oracle-closed@example.com');
    const cookie = await s.sessionCookie(browser);
    const before = await accountState(userId);
    expect(before.user.twoFactorEnabled).to.equal(true);
    const closed: [string, Record<string, unknown>][] = [
      ['/verify-password', { password: PASSWORD }],
      ['/two-factor/enable', { password: PASSWORD }],
      ['/two-factor/disable', { password: PASSWORD }],
      ['/two-factor/get-totp-uri', { password: PASSWORD }],
      ['/two-factor/generate-backup-codes', { password: PASSWORD }],
      ['/two-factor/send-otp', {}],
      ['/two-factor/verify-otp', { code: totp.generate() }],
      ['/delete-user', { password: PASSWORD }],
      ['/admin/set-user-password', { userId, newPassword: 'a brand new passphrase 77' }],
      // Closed before: our pages do these with the password policy and rate limits.
      ['/change-password', { currentPassword: PASSWORD, newPassword: 'a brand new passphrase 77', revokeOtherSessions: true }],
      ['/reset-password', { token: 'x', newPassword: 'a brand new passphrase 77' }],
      ['/request-password-reset', { email: 'oracle-closed@example.com' }],
      ['/sign-up/email', { email: 'oracle-closed-2@example.com', password: PASSWORD, name: 'X' }],
    ];
    for (const [route, json] of closed) {
      const res = await authApi(s.issuer, route, { cookie, json });
      const body = (await res.json()) as { error?: { code?: string } };
      expect([res.status, body.error?.code], route).to.deep.equal([404, 'NOT_FOUND']);
      expect(setCookies(res.headers), route).to.deep.equal([]);
    }
    expect(await accountState(userId)).to.deep.equal(before);
    expect(await s.db('user').where({ email: 'oracle-closed-2@example.com' }).first()).to.equal(undefined);
  });

  it('closes them under every spelling of the path that better-auth would route', async function () {
    this.timeout(60_000);
    const { userId, browser } = await twoFactorAccount('oracle-spelling@example.com');
    const cookie = await s.sessionCookie(browser);
    const before = await accountState(userId);
    for (const route of ['/verify-password/', '/verify-password?x=1', '//verify-password', '/two-factor/../verify-password', '/two-factor//disable', '/two-factor/disable/', '/verify%2Dpassword', '/VERIFY-PASSWORD', '/two-factor/%64isable']) {
      const res = await authApi(s.issuer, route, { cookie, json: { password: PASSWORD } });
      const text = await res.text();
      expect(res.status, `${route}: ${text}`).to.be.oneOf([404]);
    }
    expect(await accountState(userId)).to.deep.equal(before);
  });

  it('locks the account page\'s password check per account: 10 wrong passwords, then even the right one is 429', async function () {
    this.timeout(60_000);
    const ip = '203.0.113.10';
    const { userId, browser } = await twoFactorAccount('oracle-account@example.com');
    const post = async (password: string) => browser.request(`${limited.url}/account/2fa/disable`, { form: { password }, headers: { origin: s.issuer, 'x-forwarded-for': ip } });
    expect((await browser.request(`${limited.url}/account`, { headers: { 'x-forwarded-for': ip } })).status).to.equal(200);
    for (let i = 1; i <= 10; i++) {
      const wrong = await post(WRONG);
      expect([wrong.status, /Incorrect password\./.test(wrong.text)], `try ${i}`).to.deep.equal([200, true]);
    }
    const right = await post(PASSWORD);
    expect(right.status).to.equal(429);
    expect(right.text).to.match(/Too many attempts\. Try again in \d+ seconds\./);
    // sign-in:account refills one token every 30 s: the wait is the account's, not the address's (≤ 3 s).
    expect(Number(right.headers.get('retry-after'))).to.be.within(4, 30);
    expect(Boolean((await s.db('user').where({ id: userId }).first()).twoFactorEnabled), 'two-factor stays on').to.equal(true);
  });

  it('limits the address too: a second account behind the same address is refused before its own 10 tries', async function () {
    this.timeout(90_000);
    const ip = '203.0.113.20';
    const accounts: HttpBrowser[] = [];
    for (const n of [1, 2, 3, 4]) {
      await s.user(`oracle-address-${n}@example.com`);
      const browser = await s.signedIn(`oracle-address-${n}@example.com`);
      await browser.request(`${limited.url}/account`, { headers: { 'x-forwarded-for': ip } });
      accounts.push(browser);
    }
    const tries = [0, 0, 0, 0];
    let refused: { account: number; retryAfter: number } | undefined;
    // Round robin, at most 9 tries per account: no account bucket (10) can be what refuses.
    for (let i = 0; i < 36 && !refused; i++) {
      const n = i % 4;
      tries[n]!++;
      const res = await accounts[n]!.request(`${limited.url}/account/2fa/enable`, { form: { password: WRONG }, headers: { origin: s.issuer, 'x-forwarded-for': ip } });
      if (res.status === 429) refused = { account: n, retryAfter: Number(res.headers.get('retry-after')) };
      else expect([res.status, /Incorrect password\./.test(res.text)], `try ${i + 1}`).to.deep.equal([200, true]);
    }
    expect(refused, 'the address bucket (capacity 20) refused').not.to.equal(undefined);
    expect(Math.max(...tries)).to.be.below(10);
    expect(tries.reduce((a, b) => a + b)).to.be.within(21, 36);
    expect(refused!.retryAfter, 'sign-in:ip refills one token every 3 s').to.be.within(1, 3);
    expect(limited.proc.output()).to.match(/"bucket":"sign-in:ip"[^\n]*"path":"\/account\/2fa\/enable"/);
  });

  it('limits the JSON second-factor step per pending sign-in account: a new sign-in does not reset it', async function () {
    this.timeout(60_000);
    const ip = '203.0.113.30';
    const victim = await twoFactorAccount('oracle-totp@example.com');
    const other = await twoFactorAccount('oracle-totp-other@example.com');
    /** The pending sign-in's two_factor cookie after the right password (JSON sign-in). */
    const pending = async (email: string) => {
      const res = await authApi(limited.url, '/sign-in/email', { ip, json: { email, password: PASSWORD } });
      expect([res.status, ((await res.json()) as { twoFactorRedirect?: boolean }).twoFactorRedirect]).to.deep.equal([200, true]);
      const c = setCookies(res.headers).find((x) => x.name.endsWith('two_factor'))!;
      return `${c.name}=${c.value}`;
    };
    const verify = async (cookie: string, code: string, route = '/two-factor/verify-totp') => {
      const res = await authApi(limited.url, route, { ip, cookie, json: { code } });
      return { status: res.status, body: (await res.json()) as { code?: string; error?: { code: string } }, retryAfter: res.headers.get('retry-after') };
    };

    const first = await pending('oracle-totp@example.com');
    for (let i = 1; i <= 5; i++) {
      const wrong = await verify(first, '000000');
      expect([wrong.status, wrong.body.code], `code ${i}`).to.deep.equal([401, 'INVALID_CODE']);
    }
    const sixth = await verify(first, '000000');
    expect([sixth.status, sixth.body.error?.code]).to.deep.equal([429, 'RATE_LIMITED']);
    expect(Number(sixth.retryAfter)).to.be.within(1, 30);
    // A fresh challenge (new cookie, better-auth's own per-challenge count at zero) is the same account.
    const second = await pending('oracle-totp@example.com');
    const right = await verify(second, victim.totp.generate());
    expect([right.status, right.body.error?.code], 'the right code, refused').to.deep.equal([429, 'RATE_LIMITED']);
    const backup = await verify(second, 'abcde-fghij', '/two-factor/verify-backup-code');
    expect([backup.status, backup.body.error?.code], 'backup codes share the bucket').to.deep.equal([429, 'RATE_LIMITED']);
    // Per account, not per address: another account's pending sign-in is still answered.
    const otherWrong = await verify(await pending('oracle-totp-other@example.com'), '000000');
    expect([otherWrong.status, otherWrong.body.code]).to.deep.equal([401, 'INVALID_CODE']);
    expect(other.userId).not.to.equal(victim.userId);
    // The sign-in page's code step draws on the same bucket of the same account.
    const thief = new HttpBrowser();
    const { page } = await authorize(s.client, thief, { email: 'oracle-totp@example.com', scope: 'openid' });
    const uid = /\/interaction\/([^/"]+)\/totp/.exec(page.text)?.[1];
    expect(uid, page.text.slice(0, 300)).to.be.a('string');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const step = await thief.request(`${limited.url}/interaction/${uid}/totp`, { form: { _csrf: csrf, code: victim.totp.generate() }, headers: { origin: s.issuer, 'x-forwarded-for': ip } });
    expect(step.status).to.equal(429);
    expect(step.text).to.match(/Too many attempts\. Try again in \d+ seconds\./);
  });

  it('keys the code check by the account better-auth will check, however the two_factor cookie is spelled', async function () {
    this.timeout(60_000);
    const ip = '203.0.113.40';
    const victim = await twoFactorAccount('oracle-spelled-cookie@example.com');
    const pending = async () => {
      const res = await authApi(limited.url, '/sign-in/email', { ip, json: { email: 'oracle-spelled-cookie@example.com', password: PASSWORD } });
      expect(res.status).to.equal(200);
      return setCookies(res.headers).find((x) => x.name === 'portcullis.two_factor')!.value;
    };
    const spellings = [
      (v: string) => `portcullis.two_factor=${v}`,
      (v: string) => `portcullis.two_factor =${v}`, // better-call trims the name
      (v: string) => `portcullis.two_factor="${v}"`, // … and unquotes the value
      (v: string) => `__Host-portcullis.two_factor=2fa-decoy.sig; portcullis.two_factor=${v}`, // a name better-auth ignores on http, first
      (v: string) => `portcullis.two_factor= ${v} `,
      (v: string) => `portcullis.two_factor=${encodeURIComponent(v)}`,
    ];
    const statuses: number[] = [];
    for (const spell of spellings) {
      const cookie = spell(await pending());
      const res = await authApi(limited.url, '/two-factor/verify-totp', { ip, cookie, json: { code: '000000' } });
      statuses.push(res.status);
    }
    // Five wrong codes in the account's bucket, whatever the spelling; the sixth is refused.
    expect(statuses).to.deep.equal([401, 401, 401, 401, 401, 429]);
    expect(victim.userId).to.be.a('string');
  });

  it('limits the code check of a signed-in session (a stolen cookie) per account as well: better-auth does not count those', async function () {
    this.timeout(60_000);
    const ip = '203.0.113.50';
    const { totp, browser } = await twoFactorAccount('oracle-session-totp@example.com');
    const cookie = await s.sessionCookie(browser);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await authApi(limited.url, '/two-factor/verify-totp', { ip, cookie, json: { code: '000000' } })).status);
    expect(statuses).to.deep.equal([401, 401, 401, 401, 401, 429]);
    const right = await authApi(limited.url, '/two-factor/verify-totp', { ip, cookie, json: { code: totp.generate() } });
    expect([right.status, ((await right.json()) as { error?: { code: string } }).error?.code]).to.deep.equal([429, 'RATE_LIMITED']);
  });

  it('refuses the sign-in page\'s code step to a stolen session: only the password step\'s pending sign-in may finish it', async function () {
    this.timeout(60_000);
    const ip = '203.0.113.55';
    const { totp, browser } = await twoFactorAccount('oracle-session-page@example.com');
    const [name, value] = (await s.sessionCookie(browser)).split('=') as [string, string];
    const thief = new HttpBrowser();
    await thief.jar.setCookie(`${name}=${value}; Path=/`, s.issuer);
    // A client demanding two factors: the stolen session alone does not sign in, the page asks again.
    const { page } = await authorize(s.client, thief, { signIn: false, scope: 'openid', extra: { acr_values: 'urn:portcullis:loa:2' } });
    const uid = /\/interaction\/([^/"]+)\/login/.exec(page.text)?.[1];
    expect(uid, page.text.slice(0, 300)).to.be.a('string');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const step = (code: string) => thief.request(`${limited.url}/interaction/${uid}/totp`, { form: { _csrf: csrf, code }, headers: { origin: s.issuer, 'x-forwarded-for': ip } });
    // Even the right code: without the pending two_factor cookie of a password step, no sign-in.
    for (const code of ['000000', totp.generate()]) {
      const res = await step(code);
      expect([res.status, res.location], code).to.deep.equal([400, null]);
      expect(res.text).to.contain('This sign-in has expired. Start again from the application.');
    }
  });

  describe('verification mail (probe finding 10: ten mails in ten requests)', () => {
    const ask = (email: string, ip: string, body?: string) =>
      fetch(`${limited.url}/api/auth/send-verification-email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: s.issuer, 'x-forwarded-for': ip }, body: body ?? JSON.stringify({ email }) });
    /** An account that has not verified its address yet (the admin CLI creates verified ones). */
    const unverified = async (email: string) => {
      await s.user(email);
      await s.db('user').where({ email }).update({ emailVerified: false });
    };
    /** Verification mails to `to` once the background sends have settled. */
    const mails = async (to: string) => {
      await new Promise((r) => setTimeout(r, 500));
      return (await outbox(s.env.env.DATA_DIR!)).filter((m) => m.to === to && m.kind === 'verify-email').length;
    };
    /** What an observer sees, minus the per-response request id. */
    const seen = async (res: Response) => {
      const body = (await res.json()) as { status?: boolean; error?: { code: string; message: string; requestId?: string } };
      if (body.error) delete body.error.requestId;
      return { status: res.status, retryAfter: res.headers.get('retry-after'), setCookie: res.headers.getSetCookie(), body };
    };

    it('sends at most 3 mails to one recipient: the 4th request is 429 RATE_LIMITED with Retry-After, from any address, in any case', async function () {
      this.timeout(60_000);
      const to = 'verify-flood@example.com';
      await unverified(to);
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await seen(await ask(to, '198.51.100.1')));
      expect(answers.map((a) => a.status)).to.deep.equal([200, 200, 200, 429]);
      expect(answers[0]!.body).to.deep.equal({ status: true });
      expect(answers[3]!.body.error?.code).to.equal('RATE_LIMITED');
      // verify-mail:recipient refills one mail every 300 s.
      expect(Number(answers[3]!.retryAfter)).to.be.within(250, 300);
      // Another address, another spelling of the same recipient, a byte-order mark: same bucket.
      expect((await ask(to, '198.51.100.2')).status).to.equal(429);
      expect((await ask('Verify-Flood@Example.COM', '198.51.100.3')).status).to.equal(429);
      expect((await ask(to, '198.51.100.4', `\uFEFF${JSON.stringify({ email: to })}`)).status).to.equal(429);
      expect(await mails(to)).to.equal(3);
    });

    it('lets one address ask 5 times a minute, whatever the recipients', async function () {
      this.timeout(60_000);
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 6; i++) {
        last = await ask(`verify-spray-${i}@example.com`, '198.51.100.10');
        statuses.push(last.status);
      }
      expect(statuses).to.deep.equal([200, 200, 200, 200, 200, 429]);
      expect(Number(last!.headers.get('retry-after')), 'verify-mail:ip refills one every 60 s').to.be.within(1, 60);
    });

    it('answers an unknown and a known unverified address identically, limit included: no enumeration', async function () {
      this.timeout(60_000);
      const known = 'verify-known1@example.com';
      const unknown = 'verify-nobody@example.com';
      await unverified(known);
      for (let i = 0; i < 4; i++) {
        const a = await seen(await ask(known, `198.51.100.2${i}`));
        const b = await seen(await ask(unknown, `198.51.100.3${i}`));
        // Retry-After counts down in seconds: the two buckets were started half a second apart.
        expect(Math.abs(Number(a.retryAfter) - Number(b.retryAfter)), `request ${i + 1}: Retry-After`).to.be.at.most(2);
        expect({ ...b, retryAfter: b.retryAfter !== null }, `request ${i + 1}`).to.deep.equal({ ...a, retryAfter: a.retryAfter !== null });
      }
      expect(await mails(known)).to.equal(3);
      expect(await mails(unknown)).to.equal(0);
    });
  });

  it('keys the JSON sign-in by the account better-auth reads, also when the body starts with a byte-order mark', async function () {
    this.timeout(60_000);
    const ip = '203.0.113.60';
    await s.user('oracle-bom@example.com');
    const signIn = (password: string) =>
      fetch(`${limited.url}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: s.issuer, 'x-forwarded-for': ip }, body: `\uFEFF${JSON.stringify({ email: 'oracle-bom@example.com', password })}` });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await signIn(WRONG)).status);
    expect(statuses).to.deep.equal(Array(10).fill(401));
    const right = await signIn(PASSWORD);
    expect([right.status, ((await right.json()) as { error?: { code: string } }).error?.code]).to.deep.equal([429, 'RATE_LIMITED']);
  });
});
