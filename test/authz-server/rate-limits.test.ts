import { expect } from 'chai';
import { HttpBrowser, LOGIN_FORM } from '../helpers/http-browser.js';
import { startSystem, type System, type Service } from '../helpers/system.js';
import { PASSWORD, REDIRECT, authorize, discover } from './oidc.flow.js';
import { RATE_LIMIT_RULES } from '#shared/rate-limit/rules.js';

const TOKEN_RULE = RATE_LIMIT_RULES['token:client'];

/** The real limits (multiplier 1) against a running authz-server. */
describe('authz-server rate limits', function () {
  this.timeout(90_000);
  let env: System;
  let server: Service;

  before(async () => {
    env = await startSystem({ backend: 'sqlite', env: { RATE_LIMIT_MULTIPLIER: '1' }, authz: 0 });
    server = await env.startAuthz();
    await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid'] });
    await env.createUser({ email: 'target@example.com', password: PASSWORD });
  });
  after(() => env?.close());

  it('locks one account after 10 failed sign-ins (429, Retry-After) while others can still sign in', async () => {
    const config = await discover(server.issuer, 'agent');
    const origin = new URL(server.issuer).origin;
    const attempt = async (email: string, password: string) => {
      const browser = new HttpBrowser();
      const { page } = await authorize(config, browser, { signIn: false, scope: 'openid' });
      return browser.submit(page, LOGIN_FORM, { email, password }, origin);
    };
    for (let i = 0; i < 10; i++) expect((await attempt('target@example.com', 'wrong password 1234')).status, `attempt ${i + 1}`).to.equal(401);
    const locked = await attempt('target@example.com', PASSWORD);
    expect(locked.status).to.equal(429);
    expect(Number(locked.headers.get('retry-after'))).to.be.within(1, 30);
    expect(locked.text).to.match(/Too many attempts\. Try again in \d+ seconds\./);
    // The same account bucket guards better-auth's JSON sign-in: no way around it.
    const api = await fetch(`${server.issuer}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: server.issuer }, body: JSON.stringify({ email: 'Target@Example.com', password: PASSWORD }) });
    expect(api.status).to.equal(429);
    expect(((await api.json()) as { error: { code: string } }).error.code).to.equal('RATE_LIMITED');
    await env.createUser({ email: 'bystander@example.com', password: PASSWORD });
    const other = await attempt('bystander@example.com', PASSWORD);
    expect(other.status).to.be.oneOf([200, 303]);
    expect(other.text + (other.location ?? '')).not.to.match(/Too many/);
  });

  it('limits sign-ups per address to 5 in a burst, with the JSON 429 shape', async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 6; i++) {
      last = await fetch(`${server.issuer}/account/sign-up`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'N', email: `n${i}@example.com`, password: PASSWORD }) });
      statuses.push(last.status);
    }
    expect(statuses).to.deep.equal([202, 202, 202, 202, 202, 429]);
    expect(last!.headers.get('retry-after')).to.match(/^\d+$/);
    const body = (await last!.json()) as { error: { code: string } };
    expect(body.error.code).to.equal('RATE_LIMITED');
    expect(await env.db('user').where('email', 'n5@example.com').first()).to.equal(undefined);
  });

  /**
   * A burst of `n` failed client authentications. The bucket refills while the burst is under
   * way (faster than ever on a loaded machine), so the bound on what gets through counts the
   * refill during the burst's own elapsed time: never fewer than the capacity, never more than
   * capacity + refill, and with `n` well above that, some 429s.
   */
  async function tokenBurst(clientId: string, paths: string[], n = 2 * TOKEN_RULE.capacity) {
    const basic = `Basic ${Buffer.from(`${clientId}:wrong`).toString('base64')}`;
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => fetch(`${server.issuer}${paths[i % paths.length]}`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })),
    );
    const elapsedS = (performance.now() - t0) / 1000;
    const statuses = results.map((r) => r.status);
    const through = statuses.filter((s) => s === 401).length;
    const refused = statuses.filter((s) => s === 429).length;
    expect(through + refused, `only 401 and 429: ${[...new Set(statuses)].join(',')}`).to.equal(n);
    expect(through, 'the burst capacity gets through').to.be.at.least(TOKEN_RULE.capacity);
    expect(through, `at most capacity + refill over ${elapsedS.toFixed(2)} s`).to.be.at.most(TOKEN_RULE.capacity + Math.ceil(TOKEN_RULE.refillPerSecond * elapsedS));
    if (elapsedS < (n - TOKEN_RULE.capacity) / TOKEN_RULE.refillPerSecond) expect(refused).to.be.at.least(1);
  }

  it('limits the token endpoint per client', async () => {
    await tokenBurst('some-client', ['/token']);
  });

  it('counts the token endpoint however its path is spelled (oidc-provider routes /TOKEN and /token/ alike)', async () => {
    await tokenBurst('other-client', ['/TOKEN', '/token/', '/Token']);
  });
});
