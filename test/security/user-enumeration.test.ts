import { expect } from 'chai';
import { HttpBrowser, LOGIN_FORM } from '../helpers/http-browser.js';
import { authorize } from '../authz-server/oidc.flow.js';
import { interleavedMedians } from '../helpers/stats.js';
import { PASSWORD, sharedStack, type Stack } from './stack.js';

/**
 * Threat: mass enumeration of accounts by email (security page: "Sign-in returns the same
 * error for 'wrong password' and 'no such user.' Sign-up reveals duplicates only with
 * verified-account flow."). Each probe is answered for an existing, an unverified and an
 * unknown address; everything an attacker can observe is compared: status, body bytes, every
 * header but the per-response ones (Date, X-Request-Id, the CSP nonce), and median timing.
 *
 * Timing uses interleaved samples (A, B, B, A, …, so drift hits both alike) and a generous
 * bound: the medians may differ by at most 50% of the slower one or 20 ms, whichever is more.
 * Without the equal-work defences the gap is an order of magnitude (one scrypt hash, ~50 ms,
 * against ~1 ms), which fails either way.
 */
// Same length on purpose: the page echoes the address, so lengths must match byte for byte.
const KNOWN = 'enum-known@example.com';
const UNVERIFIED = 'enum-unver@example.com';
const UNKNOWN = 'enum-nobdy@example.com';
const BANNED = 'enum-bannd@example.com';
const SAMPLES = 12;
const medians = (probe: (who: string, i: number) => Promise<void>, a: string, b: string) => interleavedMedians(SAMPLES, probe, a, b);

const VARYING = new Set(['date', 'x-request-id']);
function observable(res: Response, body: string) {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (!VARYING.has(k)) headers[k] = v.replace(/nonce-[A-Za-z0-9+/=]+/g, 'nonce');
  });
  return { status: res.status, headers, setCookie: res.headers.getSetCookie(), body: body.replace(/nonce="[^"]+"/g, 'nonce').replace(/name="_csrf" value="[^"]+"/g, 'name="_csrf"').replace(/\/interaction\/[A-Za-z0-9_-]+\//g, '/interaction/UID/') };
}

/**
 * The medians may differ by half the slower one, but never need to be closer than FLOOR_MS: on a
 * loaded two-core machine a few milliseconds of scheduling noise can be half of a fast path.
 * A real leak still fails: one scrypt hash (~50–100 ms) against ~1 ms differs by far more.
 */
const FLOOR_MS = 20;
function expectIndistinguishable([a, b]: [number, number], what: string): void {
  const bound = Math.max(0.5 * Math.max(a, b), FLOOR_MS);
  expect(Math.abs(a - b), `${what}: medians ${a.toFixed(1)} ms vs ${b.toFixed(1)} ms (bound ${bound.toFixed(1)} ms)`).to.be.lessThan(bound);
}

describe('security: user enumeration', function () {
  this.timeout(90_000);
  let s: Stack;

  const signUp = (email: string, password = PASSWORD) =>
    fetch(`${s.issuer}/account/sign-up`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Probe', email, password }) });
  const signInApi = (email: string, password: string) =>
    fetch(`${s.issuer}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: s.issuer }, body: JSON.stringify({ email, password }) });

  before(async () => {
    s = await sharedStack();
    await s.user(KNOWN);
    expect((await signUp(UNVERIFIED)).status).to.equal(202); // exists, never confirmed
    await s.user(BANNED);
    await s.db('user').where({ email: BANNED }).update({ banned: true, banReason: 'probe' });
  });

  describe('sign-in', () => {
    it('the JSON API answers unknown, wrong-password, unverified and banned identically (status, body, headers)', async () => {
      const seen = [];
      for (const [email, password] of [[UNKNOWN, 'wrong password 1234'], [KNOWN, 'wrong password 1234'], [UNVERIFIED, PASSWORD], [UNVERIFIED, 'wrong password 1234'], [BANNED, PASSWORD], [BANNED, 'wrong password 1234']] as const) {
        const res = await signInApi(email, password);
        seen.push({ email, ...observable(res, await res.text()) });
      }
      expect(seen[0]).to.deep.include({ status: 401, setCookie: [] });
      expect(JSON.parse(seen[0]!.body)).to.deep.include({ code: 'INVALID_EMAIL_OR_PASSWORD' });
      for (const other of seen.slice(1)) expect({ ...other, email: UNKNOWN }, other.email).to.deep.equal(seen[0]);
    });

    it('the sign-in page answers them identically too', async () => {
      const seen = [];
      for (const [email, password] of [[UNKNOWN, 'wrong password 1234'], [KNOWN, 'wrong password 1234'], [UNVERIFIED, PASSWORD]] as const) {
        const browser = new HttpBrowser();
        const { page } = await authorize(s.client, browser, { signIn: false });
        const action = new URL(LOGIN_FORM.exec(page.text)![1]!, s.issuer).toString();
        const _csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
        const res = await fetch(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: s.issuer, cookie: await browser.jar.getCookieString(action) }, body: new URLSearchParams({ _csrf, email, password }), redirect: 'manual' });
        const o = observable(res, await res.text());
        seen.push({ ...o, body: o.body.replaceAll(email, 'EMAIL') });
      }
      expect(seen[0]!.status).to.equal(401);
      expect(seen[0]!.body).to.contain('Incorrect email or password.');
      expect(seen[1]).to.deep.equal(seen[0]);
      expect(seen[2]).to.deep.equal(seen[0]);
    });

    it('takes the same time for an unknown address as for a wrong password (medians)', async () => {
      expectIndistinguishable(await medians(async (email) => void (await (await signInApi(email, 'wrong password 1234')).text()), UNKNOWN, KNOWN), 'unknown vs wrong password');
    });

    it('takes the same time for an unverified account with its right password as for a wrong password (medians)', async () => {
      expectIndistinguishable(await medians(async (email) => void (await (await signInApi(email, email === UNVERIFIED ? PASSWORD : 'wrong password 1234')).text()), UNVERIFIED, KNOWN), 'unverified vs wrong password');
    });
  });

  describe('sign-up', () => {
    it('answers a new and a taken address identically (status, body, headers), JSON and form', async () => {
      const fresh = await signUp('enum-fresh@example.com');
      const taken = await signUp(KNOWN);
      const a = observable(fresh, await fresh.text());
      expect(a).to.deep.include({ status: 202, setCookie: [], body: '{"status":"verification_email_sent"}' });
      expect(observable(taken, await taken.text())).to.deep.equal(a);
      const form = (email: string) => fetch(`${s.issuer}/account/sign-up`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ name: 'Probe', email, password: PASSWORD }) });
      const [f1, f2] = [await form('enum-fres2@example.com'), await form(KNOWN)];
      const page = observable(f1, await f1.text());
      expect(page.status).to.equal(202);
      expect(observable(f2, await f2.text())).to.deep.equal(page);
    });

    it('takes the same time for a new and a taken address (medians)', async () => {
      const stamp = Date.now();
      expectIndistinguishable(await medians(async (email, i) => void (await (await signUp(email === 'new' ? `enum-${stamp}-${i}@example.com` : KNOWN)).text()), 'new', KNOWN), 'new vs taken');
    });
  });
});
