import { expect } from 'chai';
import { PASSWORD, describeEachBackend, setCookies, type Stack } from './stack.js';

/**
 * Threat: session tokens readable by scripts (probe finding 6). The session cookie is HttpOnly
 * so that an injected script cannot take the session away; but better-auth's JSON answers
 * carried the same secret in the body: `GET /api/auth/list-sessions` listed every session's raw
 * `token` (one stolen cookie → every session of the account), `get-session` the current one,
 * the JSON sign-in and second-factor step the new one. authz-server/better-auth-mount.ts removes
 * every `token` field from better-auth's JSON; the account page names sessions by their opaque
 * id only. A session token is a cookie, never a response body.
 */
describeEachBackend('security: session tokens never appear in a response', (stack) => {
  let s: Stack;
  before(() => {
    s = stack();
  });

  const tokensOf = async (userId: string) => (await s.db('session').select('id', 'token').where({ userId })) as { id: string; token: string }[];
  const json = (path: string, cookie: string) => fetch(`${s.issuer}/api/auth${path}`, { headers: { cookie, accept: 'application/json' } });

  it('list-sessions lists every session of the account by id, with no token and no token value anywhere', async function () {
    this.timeout(60_000);
    const userId = await s.user('tokens-list@example.com');
    const laptop = await s.sessionCookie(await s.signedIn('tokens-list@example.com'));
    await s.signedIn('tokens-list@example.com'); // the phone
    const sessions = await tokensOf(userId);
    expect(sessions).to.have.length(2);
    const res = await json('/list-sessions', laptop);
    const text = await res.text();
    expect(res.status).to.equal(200);
    const list = JSON.parse(text) as Record<string, unknown>[];
    expect(list.map((x) => x.id).sort()).to.deep.equal(sessions.map((x) => x.id).sort());
    for (const item of list) expect(item, String(item.id)).not.to.have.property('token');
    for (const { token } of sessions) expect(text).not.to.contain(token);
  });

  it('get-session answers the user and the session without its token', async function () {
    this.timeout(60_000);
    const userId = await s.user('tokens-get@example.com');
    const cookie = await s.sessionCookie(await s.signedIn('tokens-get@example.com'));
    const { id, token } = (await tokensOf(userId))[0]!;
    const res = await json('/get-session', cookie);
    const text = await res.text();
    const body = JSON.parse(text) as { session: Record<string, unknown>; user: { email: string } };
    expect([res.status, body.user.email, body.session.id]).to.deep.equal([200, 'tokens-get@example.com', id]);
    expect(body.session).not.to.have.property('token');
    expect(text).not.to.contain(token);
  });

  it('the JSON sign-in sets the session cookie and answers no token', async function () {
    this.timeout(60_000);
    const userId = await s.user('tokens-sign-in@example.com');
    const res = await fetch(`${s.issuer}/api/auth/sign-in/email`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: s.issuer }, body: JSON.stringify({ email: 'tokens-sign-in@example.com', password: PASSWORD }),
    });
    const text = await res.text();
    const body = JSON.parse(text) as { user: { id: string } };
    expect([res.status, body.user.id]).to.deep.equal([200, userId]);
    expect(body).not.to.have.property('token');
    const cookie = setCookies(res.headers).find((c) => c.name === 'portcullis.session_token');
    expect(cookie?.value, 'the cookie is the only carrier').to.match(/^[^.]+\./);
    const { token } = (await tokensOf(userId))[0]!;
    expect(decodeURIComponent(cookie!.value).startsWith(`${token}.`)).to.equal(true);
    expect(text).not.to.contain(token);
  });

  it('the JSON second-factor step sets the session cookie and answers no token', async function () {
    this.timeout(60_000);
    const { userId, totp } = await s.twoFactorUser('tokens-2fa@example.com');
    const signIn = await fetch(`${s.issuer}/api/auth/sign-in/email`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: s.issuer }, body: JSON.stringify({ email: 'tokens-2fa@example.com', password: PASSWORD }),
    });
    const pending = setCookies(signIn.headers).find((c) => c.name === 'portcullis.two_factor')!;
    const before = new Set((await tokensOf(userId)).map((x) => x.token));
    const res = await fetch(`${s.issuer}/api/auth/two-factor/verify-totp`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: s.issuer, cookie: `${pending.name}=${pending.value}` }, body: JSON.stringify({ code: totp.generate({ timestamp: Date.now() + 30_000 }) }),
    });
    const text = await res.text();
    expect(res.status, text).to.equal(200);
    expect(JSON.parse(text)).not.to.have.property('token');
    const fresh = (await tokensOf(userId)).filter((x) => !before.has(x.token));
    expect(fresh).to.have.length(1);
    const cookie = setCookies(res.headers).find((c) => c.name === 'portcullis.session_token')!;
    expect(decodeURIComponent(cookie.value).startsWith(`${fresh[0]!.token}.`), 'the cookie is the only carrier').to.equal(true);
    expect(text).not.to.contain(fresh[0]!.token);
  });

  it('an admin listing a user\'s sessions sees no token either', async function () {
    this.timeout(60_000);
    const userId = await s.user('tokens-listed@example.com');
    await s.signedIn('tokens-listed@example.com');
    await s.user('tokens-admin@example.com', 'admin');
    const admin = await s.sessionCookie(await s.signedIn('tokens-admin@example.com'));
    const res = await fetch(`${s.issuer}/api/auth/admin/list-user-sessions`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: s.issuer, cookie: admin }, body: JSON.stringify({ userId }),
    });
    const text = await res.text();
    const body = JSON.parse(text) as { sessions: Record<string, unknown>[] };
    const sessions = await tokensOf(userId);
    expect([res.status, body.sessions.map((x) => x.id).sort()]).to.deep.equal([200, sessions.map((x) => x.id).sort()]);
    for (const item of body.sessions) expect(item).not.to.have.property('token');
    for (const { token } of sessions) expect(text).not.to.contain(token);
  });

  it('the account page lists the sessions by opaque id and shows no token', async function () {
    this.timeout(60_000);
    const userId = await s.user('tokens-page@example.com');
    const laptop = await s.signedIn('tokens-page@example.com');
    await s.signedIn('tokens-page@example.com');
    const page = await laptop.request(`${s.issuer}/account`);
    expect(page.status).to.equal(200);
    const sessions = await tokensOf(userId);
    expect(sessions).to.have.length(2);
    const current = (await s.sessionCookie(laptop)).split('=')[1]!;
    const other = sessions.find((x) => !decodeURIComponent(current).startsWith(`${x.token}.`))!;
    // The other session has a sign-out form naming its id; this browser's is marked, not named.
    expect(page.text).to.contain(`name="id" value="${other.id}"`);
    expect(page.text).to.contain('(this browser)');
    for (const { token } of sessions) expect(page.text).not.to.contain(token);
  });
});
