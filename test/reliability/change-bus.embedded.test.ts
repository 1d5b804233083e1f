import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { startSystem, type System } from '../helpers/system.js';
import { HttpBrowser } from '../helpers/http-browser.js';
import { discover, signedInTokens } from '../authz-server/oidc.flow.js';
import { bearer, meAt } from './change-bus.helpers.js';

const SCOPE = 'openid offline_access listings:read';

/**
 * Embedded mode (no REDIS_URL, as `npm start` runs it): the services are separate processes that
 * share only the SQLite file, so no change can be announced — and nothing is cached that a change
 * would make stale. Two API processes here: each reads the role, the ban and the grant's
 * revocation from the database on every request, so a change made anywhere (even straight in the
 * database, announced to nobody) is seen by the next request on both.
 */
describe('change bus: embedded mode (no Redis) has no caches — the database answers every request', function () {
  this.timeout(120_000);
  let r: System;
  let config: oidc.Configuration;

  before(async () => {
    r = await startSystem({ hosting: 'process', logLevel: 'warn', backend: 'sqlite', authz: 1, api: 2 });
    await r.seedClient();
    config = await discover(r.issuer, 'agent');
  });
  after(() => r?.close());

  /** GET /v1/me on each replica with a token, or with a session cookie. */
  const both = (token: string, headers: Record<string, string> = bearer(token)) => meAt(r.api, headers);
  const signedIn = async (role = 'user') => {
    const user = await r.seedUser(`embedded-${randomUUID()}@example.com`, role);
    const browser = new HttpBrowser();
    const tokens = await signedInTokens(config, browser, { email: user.email, scope: SCOPE });
    const cookie = (await browser.jar.getCookies(r.issuer)).filter((c) => c.key.endsWith('session_token')).map((c) => `${c.key}=${c.value}`).join('; ');
    expect(await both(tokens.access_token)).to.deep.equal([`200 ${role}`, `200 ${role}`]);
    expect(await both('', { cookie })).to.deep.equal([`200 ${role}`, `200 ${role}`]);
    return { ...user, tokens, cookie };
  };

  it('no replica follows a bus (bus_following 0 in /metrics)', async () => {
    for (const api of r.api) expect(await (await fetch(`${api.url}/metrics`)).text()).to.match(/^bus_following(\{[^}]*\})? 0$/m);
  });

  it('a role changed in the database alone (announced to nobody): the new role on both replicas', async () => {
    const u = await signedIn('publisher');
    await r.db('user').where({ id: u.id }).update({ role: 'user' });
    expect(await both(u.tokens.access_token)).to.deep.equal(['200 user', '200 user']);
    expect(await both('', { cookie: u.cookie })).to.deep.equal(['200 user', '200 user']);
  });

  it('a ban (admin CLI, nothing to announce): 403 on both replicas', async () => {
    const u = await signedIn();
    const run = await r.admin(['users:ban', u.email]);
    expect(run.code, run.output).to.equal(0);
    expect(await both(u.tokens.access_token)).to.deep.equal(['403 ACCOUNT_DISABLED', '403 ACCOUNT_DISABLED']);
  });

  it('RFC 7009: the grant revoked, its access token is refused on both replicas (its tombstone)', async () => {
    const u = await signedIn();
    await oidc.tokenRevocation(config, u.tokens.refresh_token!);
    expect(await both(u.tokens.access_token)).to.deep.equal(['401 INVALID_TOKEN', '401 INVALID_TOKEN']);
  });
});
