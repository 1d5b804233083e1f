import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { Knex } from 'knex';
import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type System, type Service, type Backend } from '../helpers/system.js';
import { auditRow, type AuditRow } from '../helpers/audit-row.js';
import { PG_SKIP_REASON, PG_URL, REDIS_URL } from '../helpers/services.js';
import { PASSWORD, REDIRECT, authorize, discover, signedInTokens, tokenRequest } from './oidc.flow.js';

/**
 * Issue #19: a lost refresh answer is not a theft. Two authz-server processes on one database
 * (and one Redis, on PostgreSQL) with the default REFRESH_RETRY_WINDOW_S (5 s). A lost answer is simulated as it happens: the
 * refresh runs to completion and the client never reads what came back (or the database fails
 * the successor's insert); the client then presents the same refresh token again.
 */
const INVALID_GRANT = { error: 'invalid_grant', error_description: 'grant request is invalid' };
const EMAIL = 'retry@example.com';
/** Double submits per concurrency test: two requests each, on both replicas at once. */
const ROUNDS = 5;

function suite(backend: Backend) {
  describe(`refresh: a lost answer retried within REFRESH_RETRY_WINDOW_S, reuse otherwise (${backend}, two replicas)`, function () {
    this.timeout(120_000);
    let env: System;
    let replicas: Service[];
    let config: oidc.Configuration;
    let db: Knex;
    const url = (i: number) => replicas[i % 2]!.url;
    const refresh = (i: number, token: string, clientId = 'agent') => tokenRequest(url(i), { grant_type: 'refresh_token', refresh_token: token, client_id: clientId });
    const userinfo = async (accessToken: string) => (await fetch(config.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${accessToken}` } })).status;
    const chain = async () => (await signedInTokens(config, new HttpBrowser(), { email: EMAIL })).refresh_token!;
    const row = (id: string) => db('oidc_models').where({ model: 'RefreshToken', id }).first();
    const grantOf = async (token: string) => (await row(token)).grant_id as string;
    const revoked = async (grantId: string) => Boolean(await db('oidc_models').where({ model: 'RevokedGrant', id: grantId }).first());
    /** Refresh tokens of the grant that a client could still use. */
    const live = async (grantId: string) =>
      (await db('oidc_models').where({ model: 'RefreshToken', grant_id: grantId }).whereNull('consumed_at').andWhere('expires_at', '>', Date.now()).select('id')).map((r: { id: string }) => r.id);

    before(async () => {
      // On PostgreSQL the replicas also share Redis when there is one (rate limits, the change bus).
      const redis = backend === 'pg' && REDIS_URL ? { REDIS_URL, REDIS_KEY_PREFIX: `retry-${Date.now()}:` } : undefined;
      env = await startSystem({ backend, env: redis, authz: 0, hosting: 'process' });
      db = env.db;
      replicas = [await env.startAuthz(), await env.startAuthz()];
      for (const clientId of ['agent', 'other-agent']) {
        await env.createClient({ clientId, name: clientId, type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'] });
      }
      await env.createUser({ email: EMAIL, password: PASSWORD });
      config = await discover(replicas[0]!.issuer, 'agent');
    });
    after(() => env?.close());

    /** audit_log rows of one event (written off the request path). */
    async function audited(event: string, grantId: string): Promise<AuditRow[]> {
      for (let i = 0; ; i++) {
        const rows = (await db('audit_log').where({ event })).map((r: Record<string, unknown>) => auditRow(r)).filter((r) => r.properties.grantId === grantId);
        if (rows.length > 0 || i >= 40) return rows;
        await sleep(50);
      }
    }

    it('the window is on by default (5 s)', () => {
      expect(env.config.tokens.refreshRetryWindowS).to.equal(5);
    });

    it('a retry of a refresh whose answer was lost: 200 with a new successor, the unreceived one retired, the new one rotates on', async () => {
      const t0 = await chain();
      const lost = await refresh(0, t0); // completed on the server; the client never reads it
      expect(lost.status).to.equal(200);
      const retry = await refresh(1, t0);
      expect(retry.status, JSON.stringify(retry.body)).to.equal(200);
      const unreceived = lost.body.refresh_token as string;
      const fresh = retry.body.refresh_token as string;
      expect(fresh).to.be.a('string').and.not.equal(unreceived);
      expect(await userinfo(retry.body.access_token as string)).to.equal(200);
      const grantId = await grantOf(t0);
      expect(await live(grantId)).to.deep.equal([fresh]);
      expect((await row(t0)).successor_id).to.equal(fresh);
      expect((await row(unreceived)).consumed_at).to.not.equal(null);
      const next = await refresh(0, fresh);
      expect(next.status).to.equal(200);
      expect(await live(grantId)).to.deep.equal([next.body.refresh_token]);
      expect(await revoked(grantId)).to.equal(false);
    });

    it('the retired successor presented later is reuse: the grant is revoked with every token of the chain (a replay within the window is found out)', async () => {
      const t0 = await chain();
      const grantId = await grantOf(t0);
      const first = await refresh(0, t0); // the victim's answer
      const second = await refresh(1, t0); // the same token again within the window (a thief?)
      expect([first.status, second.status]).to.deep.equal([200, 200]);
      expect(await refresh(0, first.body.refresh_token as string)).to.deep.equal({ status: 400, body: INVALID_GRANT });
      expect(await refresh(1, second.body.refresh_token as string)).to.deep.equal({ status: 400, body: INVALID_GRANT });
      expect(await userinfo(second.body.access_token as string)).to.equal(401);
      expect([await revoked(grantId), await live(grantId)]).to.deep.equal([true, []]);
      const [reuse] = await audited('refresh_token.reuse_detected', grantId);
      expect(reuse).to.deep.include({ outcome: 'denied', actor_client_id: 'agent', properties: { grantId, grantRevoked: true } });
    });

    it('a retry after the successor was used is reuse: invalid_grant and the grant is revoked', async () => {
      const t0 = await chain();
      const grantId = await grantOf(t0);
      const a = await refresh(0, t0);
      const b = await refresh(1, a.body.refresh_token as string);
      expect([a.status, b.status]).to.deep.equal([200, 200]);
      expect(await refresh(0, t0)).to.deep.equal({ status: 400, body: INVALID_GRANT });
      expect(await refresh(1, b.body.refresh_token as string)).to.deep.equal({ status: 400, body: INVALID_GRANT });
      expect(await revoked(grantId)).to.equal(true);
    });

    it('a retry after the window is reuse: invalid_grant and the grant is revoked', async () => {
      const t0 = await chain();
      const grantId = await grantOf(t0);
      const a = await refresh(0, t0);
      expect(a.status).to.equal(200);
      await sleep(env.config.tokens.refreshRetryWindowS * 1000 + 700);
      expect(await refresh(1, t0)).to.deep.equal({ status: 400, body: INVALID_GRANT });
      expect(await refresh(0, a.body.refresh_token as string)).to.deep.equal({ status: 400, body: INVALID_GRANT });
      expect([await revoked(grantId), await live(grantId)]).to.deep.equal([true, []]);
    });

    it('a rotated token presented by another client, within the window: invalid_grant, the grant is revoked and audited with that client', async () => {
      const t0 = await chain();
      const grantId = await grantOf(t0);
      const a = await refresh(0, t0);
      expect(a.status).to.equal(200);
      expect(await refresh(1, t0, 'other-agent')).to.deep.equal({ status: 400, body: INVALID_GRANT });
      expect(await refresh(0, a.body.refresh_token as string)).to.deep.equal({ status: 400, body: INVALID_GRANT });
      expect([await revoked(grantId), await live(grantId)]).to.deep.equal([true, []]);
      const [reuse] = await audited('refresh_token.reuse_detected', grantId);
      expect(reuse).to.deep.include({ outcome: 'denied', actor_client_id: 'other-agent', properties: { grantId, grantRevoked: true } });
    });

    it('a live token presented by another client: invalid_grant and nothing else (oidc-provider: client mismatch)', async () => {
      const t0 = await chain();
      expect(await refresh(1, t0, 'other-agent')).to.deep.equal({ status: 400, body: INVALID_GRANT });
      expect(await live(await grantOf(t0))).to.deep.equal([t0]);
      expect((await refresh(0, t0)).status).to.equal(200);
    });

    /** Fires `n` refreshes of `token` at the two replicas at once; none may answer anything but 200 or invalid_grant. */
    async function doubleSubmit(token: string, n: number) {
      const results = await Promise.all(Array.from({ length: n }, (_, i) => refresh(i, token)));
      for (const r of results) expect([200, 400], JSON.stringify(r.body)).to.include(r.status);
      for (const r of results.filter((x) => x.status === 400)) expect(r.body).to.deep.equal(INVALID_GRANT);
      return results.filter((x) => x.status === 200).map((x) => x.body.refresh_token as string);
    }

    /** At most one live token, one the server handed out; it works, every other one handed out does not. */
    async function neverTwoBranches(grantId: string, handedOut: string[], label: string) {
      const left = await live(grantId);
      expect(left.length, `${label}: live refresh tokens`).to.be.at.most(1);
      if (left.length === 0) return;
      expect(handedOut, label).to.include(left[0]);
      expect((await refresh(0, left[0]!)).status, `${label}: the live one`).to.equal(200);
      for (const t of handedOut.filter((x) => x !== left[0])) expect((await refresh(1, t)).status, `${label}: a retired one`).to.equal(400);
    }

    it('concurrent double submits of one refresh token across both replicas: never two live refresh tokens', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const t0 = await chain();
        const grantId = await grantOf(t0);
        await neverTwoBranches(grantId, await doubleSubmit(t0, 2), `round ${round}`);
      }
    });

    it('concurrent retries of a rotated token across both replicas: never two live refresh tokens', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const t0 = await chain();
        const grantId = await grantOf(t0);
        const lost = await refresh(0, t0);
        expect(lost.status).to.equal(200);
        await neverTwoBranches(grantId, [lost.body.refresh_token as string, ...(await doubleSubmit(t0, 2))], `round ${round}`);
      }
    });

    it('a rotation cut by the database (the successor insert fails) consumes nothing: the retry is an ordinary first use', async () => {
      const t0 = await chain();
      const grantId = await grantOf(t0);
      await cutRefreshInserts(db, backend, true);
      let cut;
      try {
        cut = await refresh(0, t0);
      } finally {
        await cutRefreshInserts(db, backend, false);
      }
      // PostgreSQL: the restart's own error code (57P01) is an outage, 503; SQLite: a failed statement, 500.
      expect(cut).to.deep.equal(backend === 'pg'
        ? { status: 503, body: { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable. Try again in a moment.' } }
        : { status: 500, body: { error: 'server_error', error_description: 'oops! something went wrong' } });
      expect(await row(t0)).to.deep.include({ consumed_at: null, successor_id: null });
      const retry = await refresh(1, t0);
      expect(retry.status).to.equal(200);
      expect(await live(grantId)).to.deep.equal([retry.body.refresh_token]);
      expect(await revoked(grantId)).to.equal(false);
    });

    it('a retry that PostgreSQL picks to end a deadlock (against a revocation) lost the race: invalid_grant and the grant revoked, never a 500', async function () {
      if (backend !== 'pg') this.skip(); // SQLite has one writer at a time: no lock cycles
      const t0 = await chain();
      const grantId = await grantOf(t0);
      expect((await refresh(0, t0)).status).to.equal(200);
      // The cycle itself depends on timing; what the retry's statement gets does not (40P01, nothing done).
      await db.raw(`CREATE OR REPLACE FUNCTION test_deadlock() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$`);
      await db.raw(`CREATE TRIGGER test_deadlock BEFORE UPDATE ON oidc_models FOR EACH ROW
        WHEN (OLD.model = 'RefreshToken' AND OLD.consumed_at IS NOT NULL AND NEW.successor_id IS DISTINCT FROM OLD.successor_id) EXECUTE FUNCTION test_deadlock()`);
      let retry;
      try {
        retry = await refresh(1, t0);
      } finally {
        await db.raw('DROP TRIGGER IF EXISTS test_deadlock ON oidc_models');
      }
      expect(retry).to.deep.equal({ status: 400, body: INVALID_GRANT });
      expect([await revoked(grantId), await live(grantId)]).to.deep.equal([true, []]);
    });

    it('a DPoP-bound refresh token: the retry needs the same key (another key: invalid_grant, and nothing changes)', async () => {
      const key = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
      const other = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'));
      const { callback, verifier, state } = await authorize(config, new HttpBrowser(), { email: EMAIL });
      const t0 = (await oidc.authorizationCodeGrant(config, callback!, { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP: key })).refresh_token!;
      const grantId = await grantOf(t0);
      const lost = await oidc.refreshTokenGrant(config, t0, undefined, { DPoP: key });
      const thief = await oidc.refreshTokenGrant(config, t0, undefined, { DPoP: other }).then(() => 'issued', (e: oidc.ResponseBodyError) => [e.status, e.error]);
      expect(thief).to.deep.equal([400, 'invalid_grant']);
      expect(await live(grantId)).to.deep.equal([lost.refresh_token]);
      const retry = await oidc.refreshTokenGrant(config, t0, undefined, { DPoP: key });
      expect(retry.token_type).to.equal('dpop');
      expect(await live(grantId)).to.deep.equal([retry.refresh_token]);
    });
  });
}

/**
 * Makes every RefreshToken insert fail (on) or not (off), as a database restart between the
 * consume and the insert would: a trigger in the test's own database, no mock of our code.
 */
async function cutRefreshInserts(db: Knex, backend: Backend, on: boolean): Promise<void> {
  if (backend === 'sqlite') {
    if (on) await db.raw(`CREATE TRIGGER test_cut BEFORE INSERT ON oidc_models WHEN NEW.model = 'RefreshToken' BEGIN SELECT RAISE(ABORT, 'simulated cut'); END`);
    else await db.raw('DROP TRIGGER IF EXISTS test_cut');
    return;
  }
  if (!on) {
    await db.raw('DROP TRIGGER IF EXISTS test_cut ON oidc_models');
    return;
  }
  await db.raw(`CREATE OR REPLACE FUNCTION test_cut() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'terminating connection due to administrator command' USING ERRCODE = '57P01'; END $$`);
  await db.raw(`CREATE TRIGGER test_cut BEFORE INSERT ON oidc_models FOR EACH ROW WHEN (NEW.model = 'RefreshToken') EXECUTE FUNCTION test_cut()`);
}

if (PG_URL) suite('pg');
else describe.skip(`refresh retry window (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
suite('sqlite');
