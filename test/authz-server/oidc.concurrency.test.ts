import { expect } from 'chai';
import * as oidc from 'openid-client';
import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type System, type Service, type Backend } from '../helpers/system.js';
import { PG_URL, PG_SKIP_REASON } from '../helpers/services.js';
import { REDIRECT, PASSWORD, authorize, discover, signedInTokens, tokenRequest } from './oidc.flow.js';

const PARALLEL = 50;

/**
 * Two authz-server processes on one database. oidc-provider checks "consumed" and consumes in
 * two steps; without the adapter's conditional UPDATE several of these requests would win.
 */
function suite(backend: Backend) {
  describe(`single-use codes and refresh tokens under concurrency, two replicas (${backend})`, function () {
    this.timeout(90_000);
    let env: System;
    let replicas: Service[];
    let config: oidc.Configuration;

    before(async () => {
      // Without the refresh retry window (REFRESH_RETRY_WINDOW_S=0) every request but the winner
      // is reuse; the window under concurrency: refresh-retry.test.ts.
      env = await startSystem({ backend, env: { REFRESH_RETRY_WINDOW_S: '0' }, authz: 0, hosting: 'process' });
      replicas = [await env.startAuthz(), await env.startAuthz()];
      await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'] });
      await env.createUser({ email: 'alice@example.com', password: PASSWORD });
      config = await discover(replicas[0]!.issuer, 'agent');
    });
    after(() => env?.close());

    function fire(form: Record<string, string>) {
      return Promise.all(Array.from({ length: PARALLEL }, (_, i) => tokenRequest(replicas[i % 2]!.url, form)));
    }

    function tally(results: { status: number; body: Record<string, unknown> }[]) {
      const ok = results.filter((r) => r.status === 200);
      const invalidGrant = results.filter((r) => r.status === 400 && r.body.error === 'invalid_grant');
      const serverErrors = results.filter((r) => r.status >= 500);
      return { ok, invalidGrant: invalidGrant.length, serverErrors: serverErrors.length, other: results.length - ok.length - invalidGrant.length };
    }

    it(`${PARALLEL} parallel redemptions of one code: at most one wins, the rest get invalid_grant, the grant ends revoked`, async () => {
      const { callback, verifier } = await authorize(config, new HttpBrowser());
      const results = await fire({ grant_type: 'authorization_code', code: callback!.searchParams.get('code')!, redirect_uri: REDIRECT, client_id: 'agent', code_verifier: verifier });
      const t = tally(results);
      expect(t.serverErrors, 'no 5xx').to.equal(0);
      expect(t.other, 'only 200 or invalid_grant').to.equal(0);
      expect(t.ok.length).to.be.at.most(1);
      expect(t.invalidGrant).to.equal(PARALLEL - t.ok.length);
      if (t.ok.length === 1) {
        const winner = t.ok[0]!.body as { refresh_token: string };
        const after = await tokenRequest(replicas[0]!.url, { grant_type: 'refresh_token', refresh_token: winner.refresh_token, client_id: 'agent' });
        expect(after).to.deep.include({ status: 400 });
        expect(after.body.error).to.equal('invalid_grant');
      }
    });

    it(`${PARALLEL} parallel uses of one refresh token: at most one wins and its new refresh token is dead too`, async () => {
      const tokens = await signedInTokens(config, new HttpBrowser());
      const results = await fire({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'agent' });
      const t = tally(results);
      expect(t.serverErrors, 'no 5xx').to.equal(0);
      expect(t.other, 'only 200 or invalid_grant').to.equal(0);
      expect(t.ok.length).to.be.at.most(1);
      expect(t.invalidGrant).to.equal(PARALLEL - t.ok.length);
      for (const win of t.ok) {
        const next = await tokenRequest(replicas[1]!.url, { grant_type: 'refresh_token', refresh_token: (win.body as { refresh_token: string }).refresh_token, client_id: 'agent' });
        expect(next.status).to.equal(400);
        expect(next.body.error).to.equal('invalid_grant');
      }
    });

    it('a sequential refresh on the other replica still works (rotation is not broken by the guard)', async () => {
      const tokens = await signedInTokens(config, new HttpBrowser());
      const a = await tokenRequest(replicas[0]!.url, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'agent' });
      expect(a.status).to.equal(200);
      const b = await tokenRequest(replicas[1]!.url, { grant_type: 'refresh_token', refresh_token: a.body.refresh_token as string, client_id: 'agent' });
      expect(b.status).to.equal(200);
      expect(b.body.refresh_token).not.to.equal(a.body.refresh_token);
    });
  });
}

if (PG_URL) suite('pg');
else describe.skip(`single-use codes and refresh tokens under concurrency (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
suite('sqlite');
