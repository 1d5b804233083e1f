import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { startSystem, PASSWORD, type System } from '../helpers/system.js';
import { PG_SKIP_REASON, PG_URL, REDIS_URL } from '../helpers/services.js';
import { killConnectionsRepeatedly, privatePostgresUnavailable, startPrivatePostgres, type PrivatePostgres } from './private-services.js';
import { ANSWER_BOUND_MS, INTERNALS, errorCode, json, recoveryMs, summary, timedFetch, worker, type Sample } from './load.js';

/**
 * PostgreSQL restarted under load. Two authz-server and two resource-api processes share a
 * PRIVATE cluster (the shared one on 5432 serves other suites), which is stopped with
 * `pg_ctl stop -m fast` (sessions terminated, new connections refused) while sign-ins, refresh
 * grants and usage reports run, then started again. Proves: answers during the outage are fast
 * 503s with a stable code and no internals; every committed write is there exactly once; the
 * replicas recover by themselves.
 *
 * Where no private cluster can be made (no server binaries), or with PG_OUTAGE_MODE=terminate,
 * the fault is milder and runs on DATABASE_URL's server: every session of the test's own
 * temporary database is killed with pg_terminate_backend every 100 ms for the same window.
 */
const OUTAGE_MS = 3000;
const BEFORE_MS = 2000;
const AFTER_MS = 4500;
/** Loose on purpose (a loaded 2-core CI machine): the measured values are printed. */
const RECOVERY_BOUND_MS = 15_000;

const MODE = process.env.PG_OUTAGE_MODE === 'terminate' || privatePostgresUnavailable() ? 'terminate' : 'restart';
const TITLE = MODE === 'restart' ? 'PostgreSQL restart under load' : 'PostgreSQL sessions killed under load (pg_terminate_backend)';

(PG_URL ? describe : describe.skip)(`${TITLE}, 2+2 replicas${PG_URL ? '' : ` — skipped: ${PG_SKIP_REASON}`}`, function () {
  this.timeout(90_000);
  let pg: PrivatePostgres;
  let r: System;
  let user: { id: string; email: string };
  let access: string;
  const chains: string[] = [];
  let listingId: string;
  let entitlementId: string;
  const QUOTA = 100_000;

  before(async () => {
    if (MODE === 'restart') pg = await startPrivatePostgres();
    r = await startSystem({
      hosting: 'process',
      logLevel: 'warn',
      backend: 'pg',
      pgUrl: MODE === 'restart' ? pg.url : PG_URL!,
      ...(REDIS_URL ? { redis: REDIS_URL } : {}),
      authz: 2,
      api: 2,
      env: { DB_ACQUIRE_TIMEOUT_MS: '2000', REDIS_KEY_PREFIX: `rel-pg-${randomUUID().slice(0, 8)}:` },
    });
    await r.seedClient();
    user = await r.seedUser('pg-outage@example.com');
    ({ listingId, entitlementId } = await r.seedEntitlement(user.id, QUOTA));
    const scope = 'openid offline_access usage:report usage:read';
    const first = await r.tokens(user.email, scope);
    access = first.access_token;
    // The second chain belongs to another user: a chain lost to the fault revokes its grant (reuse
    // detection), and must not take the other chain with it.
    const other = await r.seedUser('pg-outage-2@example.com');
    chains.push(first.refresh_token!, (await r.tokens(other.email, scope)).refresh_token!);
  });
  after(async () => {
    try {
      await r?.close();
    } finally {
      await pg?.destroy();
    }
  });

  it('fails fast with 503 and a stable code during the outage, loses and doubles nothing, and recovers by itself', async () => {
    const samples: Sample[] = [];
    const reports = new Map<string, Sample[]>();
    const refreshOk: { chain: number; used: string; issued: string }[] = [];
    const lostChains: number[] = [];
    const t0 = Date.now();
    const end = t0 + BEFORE_MS + OUTAGE_MS + AFTER_MS;
    const done = () => Date.now() >= end;
    let outageStart = 0;
    let outageEnd = 0;

    const report = async (i: number, w: number) => {
      const clientReqId = randomUUID();
      const s = await timedFetch('usage', `${r.api[(i + w) % 2]!.url}/v1/usage`, {
        method: 'POST', headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' }, body: JSON.stringify({ clientReqId, listingId, units: 1 }),
      });
      samples.push(s);
      reports.set(clientReqId, [s]);
    };
    const refresh = async (i: number, w: number) => {
      const used = chains[w]!;
      if (!used) return;
      const s = await timedFetch('refresh', `${r.authz[(i + w) % 2]!.url}/token`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: used, client_id: 'agent' }),
      });
      samples.push(s);
      if (s.status === 200) {
        const issued = String(json(s)!.refresh_token);
        refreshOk.push({ chain: w, used, issued });
        chains[w] = issued;
      } else if (s.status === 400) {
        // The answer was lost and this retry came after REFRESH_RETRY_WINDOW_S (or after the
        // successor was used): reuse, the chain is gone. (Rotation is one write: a cut between
        // consuming and storing no longer happens.)
        lostChains.push(w);
        chains[w] = '';
      }
    };
    // Sign-ins stay in flight while the server stops: a connection dropped under one must fail
    // that request (503), never the process (the 'every replica survives' check below).
    const signIn = async (i: number) => {
      samples.push(await timedFetch('sign-in', `${r.authz[i % 2]!.url}/api/auth/sign-in/email`, {
        method: 'POST', headers: { 'content-type': 'application/json', origin: r.issuer }, body: JSON.stringify({ email: user.email, password: PASSWORD }),
      }));
    };

    const ready = async (i: number) => {
      samples.push(await timedFetch('readyz', `${[...r.authz, ...r.api][i % 4]!.url}/readyz`));
    };

    const fault = (async () => {
      await new Promise((res) => setTimeout(res, BEFORE_MS));
      if (MODE === 'restart') {
        outageStart = Date.now();
        await pg.stop();
        await new Promise((res) => setTimeout(res, OUTAGE_MS));
        await pg.start();
      } else {
        outageStart = Date.now();
        const killer = killConnectionsRepeatedly(PG_URL!, new URL(r.processEnv.DATABASE_URL!).pathname.slice(1));
        await new Promise((res) => setTimeout(res, OUTAGE_MS));
        console.log(`      sessions killed: ${await killer.stop()}`);
      }
      outageEnd = Date.now();
    })();
    await Promise.all([
      worker(done, (i) => report(i, 0)),
      worker(done, (i) => report(i, 1)),
      worker(done, (i) => refresh(i, 0), 50),
      worker(done, (i) => refresh(i, 1), 50),
      worker(done, (i) => signIn(i), 100),
      worker(done, ready, 100),
      fault,
    ]);

    // A client retries a report that got no success with the SAME clientReqId: idempotent.
    const retryDeadline = Date.now() + 20_000;
    for (const [clientReqId, tries] of reports) {
      while (!tries.some((s) => s.status === 201) && Date.now() < retryDeadline) {
        const s = await timedFetch('usage-retry', `${r.api[0]!.url}/v1/usage`, {
          method: 'POST', headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' }, body: JSON.stringify({ clientReqId, listingId, units: 1 }),
        });
        tries.push(s);
        if (s.status !== 201) await new Promise((res) => setTimeout(res, 200));
      }
    }

    const during = samples.filter((s) => s.at >= outageStart && s.at < outageEnd);
    const recovery = {
      usage: recoveryMs(samples, 'usage', outageEnd),
      refresh: recoveryMs(samples, 'refresh', outageEnd),
      signIn: recoveryMs(samples, 'sign-in', outageEnd),
      readyz: recoveryMs(samples, 'readyz', outageEnd),
    };
    console.log(`      outage ${outageEnd - outageStart} ms; answers: ${JSON.stringify(summary(samples))}`);
    console.log(`      during the outage: ${JSON.stringify(summary(during))}; slowest answer ${Math.max(...during.map((s) => s.ms))} ms`);
    console.log(`      recovery after restart (ms): ${JSON.stringify(recovery)}; refresh chains lost: ${lostChains.length}`);

    // No replica died of the fault.
    const dead = [...r.authz, ...r.api].filter((x) => x.proc.child.exitCode !== null || x.proc.child.signalCode !== null);
    for (const x of dead) console.log(`      ${x.kind} ${x.url} exited ${x.proc.child.exitCode ?? x.proc.child.signalCode}:\n${x.proc.output().split('\n').filter((l) => !/knex warning/.test(l)).slice(-60).join('\n')}`);
    expect(dead.length, 'every replica survived the fault').to.equal(0);
    // Never a hang, never a 500, never internals; a 503 names the failing dependency.
    expect(samples.filter((s) => s.status === 0).map((s) => `${s.kind} ${s.error} ${s.ms}ms`), 'every request answered').to.deep.equal([]);
    expect(Math.max(...samples.map((s) => s.ms))).to.be.below(ANSWER_BOUND_MS);
    const bad = samples.filter((s) => s.status >= 500 && s.status !== 503);
    expect(bad.map((s) => `${s.kind} ${s.status} ${s.body.slice(0, 200)}`), 'no 5xx but 503').to.deep.equal([]);
    const unavailable = samples.filter((s) => s.status === 503);
    expect(unavailable.length, 'the outage was seen').to.be.greaterThan(0);
    for (const s of unavailable) {
      expect(s.body, `${s.kind} 503 body`).not.to.match(INTERNALS);
      const code = errorCode(s);
      const expected = { refresh: 'temporarily_unavailable', readyz: 'NOT_READY' }[s.kind] ?? 'DATABASE_UNAVAILABLE';
      expect(code, `${s.kind}: ${s.body.slice(0, 200)}`).to.equal(expected);
    }
    // Requests the outage refused were refused in bounded time (acquire timeout 2 s + slack).
    expect(Math.max(...unavailable.map((s) => s.ms)), 'fast 503').to.be.below(8000);
    expect(samples.filter((s) => s.status >= 400 && s.status < 500 && s.kind !== 'refresh').map((s) => `${s.kind} ${s.status} ${s.body.slice(0, 120)}`), 'no 4xx from the outage').to.deep.equal([]);

    // Usage: every clientReqId committed exactly once, and the quota moved by exactly that much.
    for (const [id, tries] of reports) expect(tries.some((s) => s.status === 201), `report ${id} eventually succeeded`).to.equal(true);
    const rows: { client_req_id: string; result: string | null }[] = await r.db('usage_records').where({ user_id: user.id, listing_id: listingId }).select('client_req_id', 'result');
    expect(rows.length, 'one row per clientReqId').to.equal(reports.size);
    expect(new Set(rows.map((x) => x.client_req_id))).to.deep.equal(new Set(reports.keys()));
    expect(rows.filter((x) => x.result === null)).to.deep.equal([]);
    const ent = await r.db('entitlements').where({ id: entitlementId }).first();
    expect(Number(ent.quota_remaining), 'quota consumed once per report').to.equal(QUOTA - reports.size);

    // Refresh: every refresh token we were given is stored; none was accepted twice.
    // A lost chain was answered invalid_grant and its grant revoked (its tokens deleted, a
    // tombstone left): that is reuse detection working, the documented cost of a refresh cut
    // between its two writes.
    const issued = refreshOk.filter((x) => !lostChains.includes(x.chain)).map((x) => x.issued);
    const stored = await r.db('oidc_models').where({ model: 'RefreshToken' }).whereIn('id', issued).count({ n: '*' });
    expect(Number(stored[0]!.n), 'issued refresh tokens are stored').to.equal(issued.length);
    const tombstones = await r.db('oidc_models').where({ model: 'RevokedGrant' }).count({ n: '*' });
    expect(Number(tombstones[0]!.n), 'a lost chain revoked its grant').to.be.at.least(lostChains.length);
    expect(new Set(refreshOk.map((x) => x.used)).size, 'no refresh token accepted twice').to.equal(refreshOk.length);

    // Recovery, by itself, within seconds.
    for (const [kind, ms] of Object.entries(recovery)) {
      if (kind === 'refresh' && chains.every((c) => !c)) continue;
      expect(ms, `${kind} recovered`).to.be.a('number').and.below(RECOVERY_BOUND_MS);
    }
    for (const rep of [...r.authz, ...r.api]) expect((await timedFetch('ready', `${rep.url}/readyz`)).status, `${rep.url} ready`).to.equal(200);
    // And a whole new sign-in (pages, code + PKCE) works.
    const fresh = await r.tokens(user.email, 'openid offline_access usage:report');
    expect(fresh.access_token).to.be.a('string');
  });
});
