import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createDb, migrateLatest, type Knex } from '#shared/db/index.js';
import { revokeGrant, upsertModel } from '#authz/queries/oidc-models.js';
import { findClientWithRefresh, findRefreshForGrant, rerotate, rotate, type SuccessorRow } from '#authz/queries/refresh-rotation.js';
import { insertClient } from '#authz/queries/clients.js';
import { judge } from '#authz/oidc/refresh-rotation.js';
import { PG_SKIP_REASON, PG_URL, createTempDatabase, describeWithService } from '../../helpers/services.js';

/** The refresh grant's SQL (authz-server/queries/refresh-rotation.ts), one contract on both databases. */
function contract(open: () => Promise<{ db: Knex; dispose(): Promise<unknown> }>): void {
  let db: Knex;
  let dispose: () => Promise<unknown>;
  let n = 0;
  const uniq = (p: string) => `${p}-${++n}-${Date.now()}`;
  const token = (id: string, grantId: string) =>
    upsertModel(db, { model: 'RefreshToken', id, payload: JSON.stringify({ grantId, clientId: 'c' }), grantId, userCode: null, uid: null, accountId: null, expiresAt: Date.now() + 60_000 });
  const successor = (id: string, grantId: string): SuccessorRow => ({ id, payload: JSON.stringify({ grantId, clientId: 'c' }), grantId, accountId: null, expiresAt: Date.now() + 60_000 });
  const row = (id: string) => db('oidc_models').where({ model: 'RefreshToken', id }).first('consumed_at', 'successor_id');

  before(async () => {
    ({ db, dispose } = await open());
    await migrateLatest(db);
  });
  after(() => dispose?.());

  it('rotate: the token is consumed and its successor stored, pointing from one to the other', async () => {
    const [g, a, b] = [uniq('g'), uniq('a'), uniq('b')];
    await token(a, g);
    expect(await rotate(db, a, successor(b, g), Date.now())).to.equal(true);
    expect((await row(a)).successor_id).to.equal(b);
    expect((await row(a)).consumed_at).to.not.equal(null);
    expect(await row(b)).to.deep.equal({ consumed_at: null, successor_id: null });
    const found = await findRefreshForGrant(db, a, Date.now());
    expect(found).to.deep.include({ successorId: b, successorLive: true, grant: null, account: null });
  });

  it('findClientWithRefresh: the client and the token in one read; a missing token or client reads as missing', async () => {
    const [clientId, g, a] = [uniq('client'), uniq('g'), uniq('a')];
    await insertClient(db, clientId, { client_name: 'C', token_endpoint_auth_method: 'none' }, Date.now());
    await token(a, g);
    const both = await findClientWithRefresh(db, clientId, a, Date.now());
    expect(JSON.parse(both!.metadata)).to.deep.equal({ client_name: 'C', token_endpoint_auth_method: 'none' });
    expect(both!.token).to.deep.equal(await findRefreshForGrant(db, a, Date.now()));
    expect(both!.token).to.deep.include({ consumedAt: null, successorId: null, grant: null, account: null });
    expect((await findClientWithRefresh(db, clientId, uniq('none'), Date.now()))!.token).to.equal(undefined);
    expect(await findClientWithRefresh(db, uniq('no-client'), a, Date.now())).to.equal(undefined);
  });

  it('rotate: 20 concurrent rotations of one token, exactly one stores a successor', async () => {
    const [g, a] = [uniq('g'), uniq('a')];
    await token(a, g);
    const ids = Array.from({ length: 20 }, (_, i) => `${a}-next-${i}`);
    const won = await Promise.all(ids.map((id) => rotate(db, a, successor(id, g), Date.now())));
    expect(won.filter(Boolean)).to.have.length(1);
    expect(await db('oidc_models').whereIn('id', ids).count({ n: '*' }).then(([r]) => Number(r!.n))).to.equal(1);
  });

  it('rotate: a successor insert that fails leaves the token unconsumed (one statement / one transaction)', async () => {
    const [g, a, taken] = [uniq('g'), uniq('a'), uniq('taken')];
    await token(a, g);
    await token(taken, g); // the successor's id is already stored: the insert violates the key
    const err = await rotate(db, a, successor(taken, g), Date.now()).then(() => undefined, (e: Error) => e);
    expect(err, 'the insert failed').to.be.instanceOf(Error);
    expect(await row(a)).to.deep.equal({ consumed_at: null, successor_id: null });
  });

  it('rerotate: replaces an unused successor (retired, consumed) by a new one; a second retry that saw the old successor loses', async () => {
    const [g, a, b, c, d] = [uniq('g'), uniq('a'), uniq('b'), uniq('c'), uniq('d')];
    await token(a, g);
    const t0 = Date.now();
    await rotate(db, a, successor(b, g), t0);
    expect(await rerotate(db, a, b, successor(c, g), Date.now(), t0 - 5000)).to.equal(true);
    expect((await row(a)).successor_id).to.equal(c);
    expect((await row(b)).consumed_at).to.not.equal(null);
    expect(await row(c)).to.deep.equal({ consumed_at: null, successor_id: null });
    expect(await rerotate(db, a, b, successor(d, g), Date.now(), t0 - 5000)).to.equal(false);
    expect(await row(d)).to.equal(undefined);
  });

  it('a revocation that PostgreSQL picks to end a deadlock runs again: the grant ends revoked', async function () {
    // The deadlock itself (a retry's two rows against the revocation's DELETE) depends on timing;
    // its outcome for the revocation does not: SQLSTATE 40P01, nothing done. A trigger in this
    // test database fails the first DELETE of a refresh token that way.
    if (db.client.config.client !== 'pg') this.skip();
    const [g, a] = [uniq('g'), uniq('a')];
    await token(a, g);
    await db.raw('CREATE SEQUENCE test_deadlock_once');
    await db.raw(`CREATE FUNCTION test_deadlock_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF nextval('test_deadlock_once') = 1 THEN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END IF; RETURN OLD; END $$`);
    await db.raw(`CREATE TRIGGER test_deadlock_once BEFORE DELETE ON oidc_models FOR EACH ROW WHEN (OLD.model = 'RefreshToken') EXECUTE FUNCTION test_deadlock_once()`);
    try {
      await revokeGrant(db, g, Date.now() + 60_000);
    } finally {
      await db.raw('DROP TRIGGER test_deadlock_once ON oidc_models');
      await db.raw('DROP FUNCTION test_deadlock_once()');
      const [{ n }] = (await db.raw('SELECT last_value AS n FROM test_deadlock_once')).rows as [{ n: string }];
      await db.raw('DROP SEQUENCE test_deadlock_once');
      expect(Number(n), 'the DELETE was failed once, then ran again').to.equal(2);
    }
    expect(await row(a)).to.equal(undefined);
    expect(await db('oidc_models').where({ model: 'RevokedGrant', id: g }).first()).to.not.equal(undefined);
  });

  it('rerotate: refuses when the successor was used meanwhile, or when the rotation is older than the window', async () => {
    const [g, a, b, c, e] = [uniq('g'), uniq('a'), uniq('b'), uniq('c'), uniq('e')];
    await token(a, g);
    const t0 = Date.now();
    await rotate(db, a, successor(b, g), t0);
    expect(await rerotate(db, a, b, successor(c, g), Date.now(), t0 + 1)).to.equal(false); // rotated before the window began
    await rotate(db, b, successor(e, g), Date.now()); // the successor is used
    expect(await rerotate(db, a, b, successor(c, g), Date.now(), t0 - 5000)).to.equal(false);
    expect(await row(c)).to.equal(undefined);
    expect(await row(e)).to.deep.equal({ consumed_at: null, successor_id: null });
  });
}

describe('refresh rotation rule (judge)', () => {
  const now = 1_000_000;
  it('live, retry within the window with an unused successor, reuse otherwise', () => {
    expect(judge({ consumedAt: null, successorId: null, successorLive: false }, now, 5000)).to.equal('live');
    expect(judge({ consumedAt: now - 5000, successorId: 'b', successorLive: true }, now, 5000)).to.equal('retry');
    expect(judge({ consumedAt: now - 5001, successorId: 'b', successorLive: true }, now, 5000)).to.equal('reuse');
    expect(judge({ consumedAt: now - 10, successorId: 'b', successorLive: false }, now, 5000)).to.equal('reuse');
    expect(judge({ consumedAt: now - 10, successorId: null, successorLive: false }, now, 5000)).to.equal('reuse');
    expect(judge({ consumedAt: now, successorId: 'b', successorLive: true }, now, 0)).to.equal('reuse');
  });
});

describe('authz-server refresh rotation SQL (SQLite)', () =>
  contract(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-rotation-'));
    const db = createDb({ client: 'sqlite', filename: path.join(dir, 'r.sqlite'), acquireTimeoutMs: 5000, migrateOnStart: false });
    return { db, dispose: async () => (await db.destroy(), rm(dir, { recursive: true, force: true })) };
  }));
describeWithService('authz-server refresh rotation SQL (PostgreSQL)', PG_URL, PG_SKIP_REASON, (url) =>
  contract(async () => {
    const temp = await createTempDatabase(url);
    const db = createDb({ client: 'pg', url: temp.url, pool: { min: 0, max: 10 }, acquireTimeoutMs: 5000, statementTimeoutMs: 10000, migrateOnStart: false });
    return { db, dispose: async () => (await db.destroy(), temp.drop()) };
  }));
