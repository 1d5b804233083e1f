import { expect } from 'chai';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HttpBrowser, LOGIN_FORM, CONSENT_FORM } from '../helpers/http-browser.js';
import { runNode, SOURCE_FLAGS } from '../helpers/process.js';
import { tokenRequest } from '../authz-server/oidc.flow.js';
import { PASSWORD, sharedStack, type Stack } from '../security/stack.js';

/**
 * examples/agent runs as its README says, against real authz-server and resource-api
 * processes: sign-in with PKCE on a loopback redirect, tokens in a 0600 file, an API call, a
 * refresh when the access token has expired, and sign-out by revocation.
 */
describe('examples/agent', function () {
  this.timeout(90_000);
  let s: Stack;
  let dir: string;
  let tokenFile: string;

  before(async () => {
    s = await sharedStack();
    dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-agent-'));
    tokenFile = path.join(dir, 'tokens.json');
    await s.user('agent-example@example.com');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const agent = (...args: string[]) =>
    runNode([...SOURCE_FLAGS, 'examples/agent/agent.ts', ...args], {
      PATH: process.env.PATH, HOME: dir, PORTCULLIS_ISSUER: s.issuer, PORTCULLIS_API: s.apiUrl, PORTCULLIS_RESOURCE: s.env.config.api.audience, AGENT_CLIENT_ID: 'agent',
      AGENT_SCOPE: 'openid offline_access listings:read usage:read', AGENT_TOKEN_FILE: tokenFile,
    });
  const stored = async () => JSON.parse(await readFile(tokenFile, 'utf8')) as { access_token: string; refresh_token: string; expires_at: number };

  it('signs in, calls the API, refreshes an expired access token and signs out by revocation', async () => {
    const login = agent('login', '--no-open');
    await login.waitFor(/Sign in: http\S+/, 30_000);
    const url = /Sign in: (http\S+)/.exec(login.output())![1]!;
    const person = new HttpBrowser();
    let page = await person.get(url, s.issuer);
    page = await person.submit(page, LOGIN_FORM, { email: 'agent-example@example.com', password: PASSWORD }, s.issuer);
    page = await person.submit(page, CONSENT_FORM, { decision: 'allow' }, s.issuer);
    expect(page.location).to.match(/^http:\/\/127\.0\.0\.1:\d+\/callback\?code=/);
    await person.request(page.location!);
    expect(await login.exited, login.output()).to.equal(0);
    expect((await stat(tokenFile)).mode & 0o777).to.equal(0o600);
    const first = await stored();
    expect(first.refresh_token).to.be.a('string');

    const me = agent('call', '/v1/me');
    expect(await me.exited, me.output()).to.equal(0);
    expect(me.output()).to.match(/^200 \{.*"email":"agent-example@example\.com"/m);
    expect(me.output()).not.to.contain('refreshed');

    // The access token has expired: the next call refreshes first (and the refresh token rotates).
    await writeFile(tokenFile, JSON.stringify({ ...first, expires_at: Math.floor(Date.now() / 1000) - 1 }), { mode: 0o600 });
    const again = agent('call', '/v1/listings');
    expect(await again.exited, again.output()).to.equal(0);
    expect(again.output()).to.contain('(refreshed the access token)');
    expect(again.output()).to.match(/^200 /m);
    const second = await stored();
    expect(second.refresh_token).not.to.equal(first.refresh_token);
    expect(second.access_token).not.to.equal(first.access_token);

    const elsewhere = agent('call', 'https://evil.example/steal');
    expect(await elsewhere.exited).to.equal(1);
    expect(elsewhere.output()).to.contain('refusing to send the token to https://evil.example');

    const logout = agent('logout');
    expect(await logout.exited, logout.output()).to.equal(0);
    expect(await stat(tokenFile).then(() => 'present', () => 'removed')).to.equal('removed');
    const dead = await tokenRequest(s.issuer, { grant_type: 'refresh_token', refresh_token: second.refresh_token, client_id: 'agent' });
    expect([dead.status, dead.body.error]).to.deep.equal([400, 'invalid_grant']);
  });
});
