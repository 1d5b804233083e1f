import { expect } from 'chai';
import type * as oidc from 'openid-client';
import type { Knex } from 'knex';
import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type System, type Service } from '../helpers/system.js';
import { PG_SKIP_REASON, PG_URL, describeWithService } from '../helpers/services.js';
import { PASSWORD, REDIRECT, discover, signedInTokens, tokenRequest } from '../authz-server/oidc.flow.js';
import { sharedStack } from './stack.js';

/**
 * Threat: a stolen refresh token replayed by the thief while (or after) the victim keeps using
 * the chain. Security page: "Refresh tokens rotate on every use. Reuse triggers reuse-detection
 * → the entire refresh chain is invalidated." The race is run with the victim and the thief on
 * two authz-server replicas of one database: PostgreSQL when DATABASE_URL is set, and SQLite
 * (the shared security stack plus a second replica). On SQLite one connection per process
 * serializes the requests, so the race is only a real race on PostgreSQL: with the adapter's
 * conditional UPDATE removed the PostgreSQL run sees every racer win; the SQLite run does not.
 * REFRESH_RETRY_WINDOW_S (default 5 s) lets the same client retry a rotated token while its
 * successor is unused (a lost answer): a thief replaying inside that window gets one answer, and
 * the victim's next refresh finds the chain reused and ends it (the thief's tokens included).
 */
interface Replicas {
  urls: [string, string];
  client: oidc.Configuration;
  email: string;
  db: Knex;
}

const RACERS = 10;
const refresh = (base: string, refresh_token: string) => tokenRequest(base, { grant_type: 'refresh_token', refresh_token, client_id: 'agent' });
const userinfo = async (r: Replicas, accessToken: string) => (await fetch(r.client.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${accessToken}` } })).status;
const chain = (r: Replicas) => signedInTokens(r.client, new HttpBrowser(), { email: r.email, scope: 'openid offline_access' });
const grantOf = async (r: Replicas, token: string) => (await r.db('oidc_models').where({ model: 'RefreshToken', id: token }).first()).grant_id as string;
/** The refresh tokens of a grant that could still be used. */
const liveOfGrant = async (r: Replicas, grantId: string) =>
  (await r.db('oidc_models').where({ model: 'RefreshToken', grant_id: grantId }).whereNull('consumed_at').select('id')).map((x: { id: string }) => x.id);

function threat(replicas: () => Replicas) {
  it('a replay of a rotated token fails and kills the whole chain: the victim\'s newer tokens die too', async () => {
    const r = replicas();
    const stolen = await chain(r);
    const victim = await refresh(r.urls[0], stolen.refresh_token!);
    expect(victim.status).to.equal(200);
    // The victim refreshes again: `stolen` is no lost answer's retry any more (its successor is used).
    const again = await refresh(r.urls[1], (victim.body as { refresh_token: string }).refresh_token);
    expect(again.status).to.equal(200);
    const newer = again.body as { access_token: string; refresh_token: string };
    expect(newer.refresh_token).not.to.equal(stolen.refresh_token);
    expect(await userinfo(r, newer.access_token)).to.equal(200);

    const thief = await refresh(r.urls[1], stolen.refresh_token!);
    expect(thief).to.deep.equal({ status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } });
    const victimAgain = await refresh(r.urls[0], newer.refresh_token);
    expect([victimAgain.status, victimAgain.body.error]).to.deep.equal([400, 'invalid_grant']);
    expect(await userinfo(r, newer.access_token)).to.equal(401);
  });

  it('a thief replaying within the retry window gets one answer; the victim\'s next refresh is reuse and ends the chain, the thief\'s tokens included', async () => {
    const r = replicas();
    const stolen = await chain(r);
    const victim = await refresh(r.urls[0], stolen.refresh_token!);
    const thief = await refresh(r.urls[1], stolen.refresh_token!);
    expect([victim.status, thief.status]).to.deep.equal([200, 200]);
    const thiefTokens = thief.body as { access_token: string; refresh_token: string };
    expect(await refresh(r.urls[0], (victim.body as { refresh_token: string }).refresh_token)).to.deep.equal({ status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } });
    expect((await refresh(r.urls[1], thiefTokens.refresh_token)).status).to.equal(400);
    expect(await userinfo(r, thiefTokens.access_token)).to.equal(401);
  });

  it('the victim and the thief racing with one token on two replicas: never two live refresh tokens, and a winner\'s token that is not the live one ends the chain', async () => {
    const r = replicas();
    for (let round = 0; round < 3; round++) {
      const stolen = (await chain(r)).refresh_token!;
      const grantId = await grantOf(r, stolen);
      const results = await Promise.all(Array.from({ length: RACERS }, (_, i) => refresh(r.urls[i % 2]!, stolen)));
      const winners = results.filter((x) => x.status === 200);
      const losers = results.filter((x) => x.status === 400 && x.body.error === 'invalid_grant');
      expect(losers.length, `round ${round}: ${JSON.stringify(results.map((x) => x.status))}`).to.equal(results.length - winners.length);
      // Winners after the first are retries within the window, each retiring the one before.
      const live = await liveOfGrant(r, grantId);
      expect(live.length, `round ${round}: live refresh tokens`).to.be.at.most(1);
      winners.sort((a, b) => Number(live.includes(a.body.refresh_token as string)) - Number(live.includes(b.body.refresh_token as string)));
      for (const w of winners) {
        const body = w.body as { access_token: string; refresh_token: string };
        expect([(await refresh(r.urls[round % 2]!, body.refresh_token)).status], `round ${round}: the winner's refresh token`).to.deep.equal([400]);
        expect(await userinfo(r, body.access_token), `round ${round}: the winner's access token`).to.equal(401);
      }
    }
  });

  it('without a thief the chain rotates across replicas as long as the victim likes (the refusals above are reuse detection)', async () => {
    const r = replicas();
    let token = (await chain(r)).refresh_token!;
    for (let i = 0; i < 4; i++) {
      const next = await refresh(r.urls[i % 2]!, token);
      expect(next.status, `rotation ${i}`).to.equal(200);
      token = (next.body as { refresh_token: string }).refresh_token;
    }
  });
}

describe('security: replayed refresh token', function () {
  this.timeout(90_000);

  describe('two replicas on SQLite', () => {
    let replica: Service;
    let r: Replicas;
    before(async () => {
      const s = await sharedStack();
      replica = await s.env.startAuthz();
      await s.user('refresh-victim@example.com');
      r = { urls: [s.authz.url, replica.url], client: s.client, email: 'refresh-victim@example.com', db: s.db };
    });
    after(() => replica?.stop());
    threat(() => r);
  });

  describeWithService('two replicas on PostgreSQL', PG_URL, PG_SKIP_REASON, (pgUrl) => {
    let env: System;
    let r: Replicas;
    before(async () => {
      env = await startSystem({ backend: 'pg', pgUrl: pgUrl, authz: 0, hosting: 'process' });
      const [a, b] = [await env.startAuthz(), await env.startAuthz()];
      await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'] });
      await env.createUser({ email: 'refresh-victim@example.com', password: PASSWORD });
      r = { urls: [a.url, b.url], client: await discover(a.issuer, 'agent'), email: 'refresh-victim@example.com', db: env.db };
    });
    after(() => env?.close());
    threat(() => r);
  });
});
