import { expect } from 'chai';
import * as oidc from 'openid-client';
import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type System, type Service, type Backend } from '../helpers/system.js';
import { PG_URL, PG_SKIP_REASON, describeWithService } from '../helpers/services.js';
import { PASSWORD, REDIRECT } from './oidc.flow.js';
import { DEVICE_GRANT, deviceConfig, personAnswers } from './device-flow.flow.js';

const PARALLEL = 50;

/**
 * Two authz-server processes on one database. oidc-provider checks "consumed" and then
 * consumes, in two steps; the adapter's conditional UPDATE (oidc/adapter.ts consume) is what
 * lets exactly one of many concurrent redemptions of an approved device code through.
 */
function suite(backend: Backend, pgUrl?: string) {
  describe(`one approved device code redeemed once, two replicas (${backend})`, function () {
    this.timeout(90_000);
    let env: System;
    let replicas: Service[];
    let agent: oidc.Configuration;

    before(async () => {
      env = await startSystem({ backend, pgUrl: pgUrl, authz: 0, hosting: 'process' });
      replicas = [await env.startAuthz(), await env.startAuthz()];
      await env.createClient({ clientId: 'device-agent', name: 'Build agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'], deviceCode: true });
      await env.createUser({ email: 'alice@example.com', password: PASSWORD });
      agent = await deviceConfig(replicas[0]!.issuer, 'device-agent');
    });
    after(() => env?.close());

    const token = (url: string, form: Record<string, string>) =>
      fetch(`${url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) }).then(async (res) => ({
        status: res.status,
        body: (await res.json()) as Record<string, unknown>,
      }));

    it(`${PARALLEL} parallel redemptions across both replicas: at most one wins, the rest get invalid_grant, the grant ends revoked`, async () => {
      const r = await oidc.initiateDeviceAuthorization(agent, { scope: 'openid offline_access' });
      const pages = await personAnswers(new HttpBrowser(), replicas[0]!.issuer, r.user_code, { email: 'alice@example.com' });
      expect(pages.final.text).to.include('<h1>Device connected</h1>');

      const form = { grant_type: DEVICE_GRANT, device_code: r.device_code, client_id: 'device-agent' };
      const results = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => token(replicas[i % 2]!.url, form)));
      const ok = results.filter((x) => x.status === 200);
      const invalidGrant = results.filter((x) => x.status === 400 && x.body.error === 'invalid_grant');
      expect(results.filter((x) => x.status >= 500), 'no 5xx').to.deep.equal([]);
      expect(ok.length, 'winners').to.be.at.most(1);
      expect(invalidGrant.length, 'every other answer is invalid_grant').to.equal(PARALLEL - ok.length);
      // The losers' redemption counts as reuse: the grant is revoked, so a winner's refresh token dies.
      for (const win of ok) {
        const refresh = await token(replicas[1]!.url, { grant_type: 'refresh_token', refresh_token: String(win.body.refresh_token), client_id: 'device-agent' });
        expect(refresh).to.deep.equal({ status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } });
      }
      // The grant is tombstoned and the device code went with it: a late poll is refused too.
      const [revoked] = await env.db('oidc_models').where({ model: 'RevokedGrant' }).count({ n: '*' });
      expect(Number(revoked!.n), 'the grant is revoked').to.equal(1);
      expect((await token(replicas[0]!.url, form)).body.error).to.equal('invalid_grant');
    });

    it('an approved code is redeemed once on the replica that did not serve the person, then refused on the other', async () => {
      const r = await oidc.initiateDeviceAuthorization(agent, { scope: 'openid' });
      await personAnswers(new HttpBrowser(), replicas[0]!.issuer, r.user_code, { email: 'alice@example.com' });
      const form = { grant_type: DEVICE_GRANT, device_code: r.device_code, client_id: 'device-agent' };
      expect((await token(replicas[1]!.url, form)).status).to.equal(200);
      expect(await token(replicas[0]!.url, form)).to.deep.equal({ status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } });
    });
  });
}

suite('sqlite');
describeWithService('one approved device code redeemed once, two replicas (PostgreSQL)', PG_URL, PG_SKIP_REASON, (url) => suite('pg', url));
